"""Build the language-detection evaluation set (bench/data/language_eval.tsv) from Firefox's translations.

Run: ``python -m bench.build_language_eval`` (needs ``apt-get download``: Debian's firefox-esr-l10n-*).
Why this source: our detector trains on word-frequency lists and the UDHR (corpora/languages/); the
evaluation must come from elsewhere. Mozilla's localisations are written by each language's own
volunteer translators, the same strings in every language, so every language gets comparable items.

Per language: 500 single words, 500 word pairs and 500 sentences (seeded samples, distinct items).
Chinese and Japanese have no spaces: a run of 1-4 characters counts as a word, 5-8 as a pair.
- A string still equal to the English one is untranslated and dropped.
- A token that appears in the same string, or anywhere, in a third or more of the languages is a brand
  or loanword ("Firefox", "VPN", "Wi-Fi"); in a translation, a token of the English packs (en-GB,
  en-CA) is English left behind: neither is ever a single-word or word-pair item, and a sentence with
  more than a quarter of them is dropped.
- Placeholders ({ $name }, %S), markup and access keys are removed first.
Licence of the strings: MPL-2.0 (Mozilla localisations, as packaged by Debian).
"""

from __future__ import annotations

import itertools
import logging
import random
import re
import subprocess
import tempfile
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

from models.text import TOKEN

log = logging.getLogger(__name__)

OUT = Path(__file__).parent / "data" / "language_eval.tsv"
PER_KIND = 500
# our code -> Firefox locale (Debian package firefox-esr-l10n-<locale>)
LOCALES = {
    "ar": "ar",
    "bg": "bg",
    "ca": "ca",
    "cs": "cs",
    "da": "da",
    "de": "de",
    "en": "en-gb",
    "es": "es-es",
    "et": "et",
    "eu": "eu",
    "fa": "fa",
    "fi": "fi",
    "fr": "fr",
    "he": "he",
    "hi": "hi-in",
    "hr": "hr",
    "hu": "hu",
    "id": "id",
    "it": "it",
    "ja": "ja",
    "kk": "kk",
    "ko": "ko",
    "lt": "lt",
    "ms": "ms",
    "nl": "nl",
    "no": "nb-no",
    "pl": "pl",
    "pt": "pt-pt",
    "ro": "ro",
    "ru": "ru",
    "sk": "sk",
    "sl": "sl",
    "sr": "sr",
    "sv": "sv-se",
    "tr": "tr",
    "uk": "uk",
    "vi": "vi",
    "zh": "zh-cn",
}
ENGLISH_REFERENCES = ("en-ca",)  # with en-gb: strings left in English, and English words in translations
NO_SPACES = {"ja", "zh"}  # scripts written without spaces: a "sentence" is measured in letters


def _clean(value: str) -> str:
    value = re.sub(r"\{[^{}]*\}", " ", value)  # Fluent placeables and selectors
    value = re.sub(r"<[^>]+>", " ", value)  # markup
    value = re.sub(r"%(\d+\$)?[SsDdU]|#\d|&[a-z]+;|\\n", " ", value)  # printf-style and entities
    value = value.replace("&", "")  # access-key markers
    return " ".join(value.split())


def _ftl(text: str) -> dict[str, str]:
    """Single-line messages and attributes of a Fluent file (multi-line selectors are skipped)."""
    out, current = {}, None
    for line in text.splitlines():
        if m := re.match(r"^([a-zA-Z][\w-]*)\s*=\s*(.*)$", line):
            current = m[1]
            if m[2].strip():
                out[current] = m[2]
        elif current and (m := re.match(r"^\s+\.([\w-]+)\s*=\s*(.+)$", line)):
            out[f"{current}.{m[1]}"] = m[2]
    return out


def _properties(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        out[key.strip()] = value.split(";")[0]  # plural forms: keep the first
    return out


def strings_of(deb: Path, tmp: Path) -> dict[str, str]:
    """Every translatable string of one language pack, keyed by file (locale stripped) and message id."""
    folder = tmp / deb.stem
    subprocess.run(["dpkg-deb", "-x", str(deb), str(folder)], check=True)
    xpi = next(folder.rglob("*.xpi"))
    out = {}
    with zipfile.ZipFile(xpi) as z:
        for name in z.namelist():
            parse = _ftl if name.endswith(".ftl") else _properties if name.endswith(".properties") else None
            if parse is None:
                continue
            generic = re.sub(r"/(locale|localization)/[^/]+/", "/", name)
            for key, value in parse(z.read(name).decode("utf-8", errors="replace")).items():
                if cleaned := _clean(value):
                    out[f"{generic}:{key}"] = cleaned
    return out


def download(tmp: Path) -> dict[str, Path]:
    """{locale: .deb} for every locale we evaluate plus the English references."""
    packages = [f"firefox-esr-l10n-{loc}" for loc in (*LOCALES.values(), *ENGLISH_REFERENCES)]
    subprocess.run(["apt-get", "download", *packages], cwd=tmp, check=True, capture_output=True)
    return {p.name.split("_")[0].removeprefix("firefox-esr-l10n-"): p for p in tmp.glob("*.deb")}


def _plain_word(token: str) -> bool:
    """A word as people write it: letters only, no capital after the first (no "XPath", "URI", "x-y")."""
    return (
        TOKEN.fullmatch(token) is not None and "-" not in token and "'" not in token and token[1:] == token[1:].lower()
    )


def build(out: Path = OUT, seed: int = 0) -> dict[str, dict[str, int]]:
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        debs = download(tmp)
        version = debs["en-gb"].name.split("_")[1]
        packs = {loc: strings_of(deb, tmp) for loc, deb in debs.items()}
    references = [packs[loc] for loc in ("en-gb", *ENGLISH_REFERENCES)]
    english_words: dict[str, set[str]] = defaultdict(set)
    for table in references:
        for key, value in table.items():
            english_words[key].update(t.lower() for t in TOKEN.findall(value))
    strings = {}
    for lang, loc in LOCALES.items():
        table = packs[loc]
        if lang != "en":  # untranslated strings (the build falls back to English) are not this language
            table = {k: v for k, v in table.items() if all(ref.get(k) != v for ref in references)}
        strings[lang] = table
    by_key: dict[str, Counter] = defaultdict(Counter)
    for table in strings.values():
        for key, value in table.items():
            by_key[key].update({t.lower() for t in TOKEN.findall(value)})
    neutral = {key: {t for t, n in c.items() if n >= len(LOCALES) / 3} for key, c in by_key.items()}
    # English left in a translation where the key has no English reference (whole files fall back)
    english_anywhere = set().union(*english_words.values())
    used_by = Counter(
        t for table in strings.values() for t in {w.lower() for v in table.values() for w in TOKEN.findall(v)}
    )
    brands = {t for t, n in used_by.items() if n >= len(LOCALES) / 3}
    rows, counts = [], {}
    for lang in LOCALES:
        rng = random.Random(f"{seed}-{lang}")
        words, pairs, sentences = set(), set(), set()
        for key, value in sorted(strings[lang].items()):
            tokens = TOKEN.findall(value)
            foreign = neutral[key] | (brands | english_anywhere if lang != "en" else set())
            ok = {t for t in tokens if t.lower() not in foreign and _plain_word(t)}
            if lang in NO_SPACES:  # no spaces to split on: a short run is a word, a longer one a pair
                words.update(t for t in ok if len(t) <= 4)
                pairs.update(t for t in ok if 5 <= len(t) <= 8)
            else:
                words.update(ok)
                pairs.update(f"{a} {b}" for a, b in itertools.pairwise(tokens) if a in ok and b in ok)
            letters = sum(map(len, tokens))
            latin = sum(ch.isascii() for t in tokens for ch in t)
            mostly_own = sum(t.lower() in foreign for t in tokens) <= len(tokens) / 4
            if lang in NO_SPACES:
                mostly_own = mostly_own and latin <= letters / 4
            long_enough = letters >= 12 if lang in NO_SPACES else len(tokens) >= 4
            if long_enough and mostly_own:
                sentences.add(value)
        for kind, items in (("words", words), ("pairs", pairs), ("sentences", sentences)):
            chosen = rng.sample(sorted(items), min(PER_KIND, len(items)))
            rows += [f"{kind}\t{lang}\t{text}" for text in chosen]
            counts.setdefault(lang, {})[kind] = len(chosen)
        log.info("%s: %s", lang, counts[lang])
    out.parent.mkdir(exist_ok=True)
    header = f"# firefox-esr-l10n-* {version} (Debian), MPL-2.0; built by bench/build_language_eval.py\n"
    out.write_text(header + "kind\tlanguage\ttext\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return counts


def load_eval(path: Path = OUT) -> dict[str, list[tuple[str, str]]]:
    """{kind: [(text, language), ...]} from the committed evaluation file."""
    items: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for line in path.read_text(encoding="utf-8").splitlines()[2:]:
        kind, lang, text = line.split("\t", 2)
        items[kind].append((text, lang))
    return dict(items)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    build()
