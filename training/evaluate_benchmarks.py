"""Few-shot accuracy on BANKING77 and CLINC150: the tables and plot of BENCHMARKS.md.

Runs :func:`intentmeta.research.evaluate.evaluate` on both data sets (full-class K-shot over seeds,
then episodic 5-way 1/5-shot on held-out intents), writes ``<out>/<dataset>_<split>.json``, one
accuracy-vs-shots PNG for both sets, and prints markdown tables with the published figures.
Embeddings are cached on disk, so only the first run encodes (several minutes on 2 CPU cores).

    python training/evaluate_benchmarks.py --data ../shared/data --out results \
        --plot docs/accuracy_vs_shots.png
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
from pathlib import Path

import torch

from intentmeta.research.evaluate import METHODS, NAMES_SUFFIX, EvalConfig, evaluate
from intentmeta.research.evaluate_report import format_table, plot_accuracy, save_results

DATASETS = {"BANKING77": "banking77", "CLINC150": "clinc150"}

# Published accuracy (%, all intents, test set) at 5 / 10 shots, from ../shared/data/README.md:
# Casanueva et al. 2020; Zhang et al. 2020 (DNNC); Zhang et al. 2021 (CPFT).
PUBLISHED = {
    "USE+ConveRT + MLP (frozen)": {"BANKING77": (77.75, 85.19), "CLINC150": (90.49, 93.26)},
    "DNNC (RoBERTa, fine-tuned)": {"BANKING77": (80.40, 86.71), "CLINC150": (91.02, 93.76)},
    "CPFT (RoBERTa, fine-tuned)": {"BANKING77": (80.86, 87.20), "CLINC150": (92.34, 94.18)},
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="../shared/data", help="folder with both data sets")
    parser.add_argument("--out", default="results", help="directory for the JSON files")
    parser.add_argument("--plot", default=None, help="PNG path (default: <out>/accuracy.png)")
    parser.add_argument("--shots", type=int, nargs="+", default=[1, 5, 10, 20])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--episodes", type=int, default=600)
    parser.add_argument("--split", default="test", help="CLINC150 split: test (report) or val")
    parser.add_argument(
        "--validation", type=float, help="evaluate on this fraction of train held out instead"
    )
    parser.add_argument("--cache-dir", default=None, help="embedding cache directory")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (shared CPUs)")
    return parser.parse_args()


def cell(summary: dict) -> str:
    half = summary["ci95"]
    return f"{summary['mean']:.2f}" + ("" if half is None else f" ± {half:.2f}")


def accuracy_table(results: dict[str, dict], shots: list[str]) -> str:
    """Methods (ours and published) × (data set, K): accuracy mean ± 95% CI."""
    columns = [(name, k) for name in results for k in shots]
    lines = [
        "| method | " + " | ".join(f"{name} {k}-shot" for name, k in columns) + " |",
        "|" + " --- |" * (1 + len(columns)),
    ]
    methods = next(iter(results.values()))["full_class"][shots[0]]
    for method in methods:
        cells = [cell(results[name]["full_class"][k][method]["accuracy"]) for name, k in columns]
        lines.append(f"| {method} (measured) | " + " | ".join(cells) + " |")
    for method, figures in PUBLISHED.items():
        cells = []
        for name, k in columns:
            published = dict(zip(("5", "10"), figures[name], strict=True)).get(k)
            cells.append("–" if published is None else f"{published:.2f}")
        lines.append(f"| {method} (published) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def episodic_table(results: dict[str, dict]) -> str:
    """Methods × (data set, episodic setting): mean episode accuracy ± 95% CI."""
    columns = [(name, s) for name, r in results.items() for s in r["episodic"]]
    if not columns:
        return "(no episodic results: too few held-out intents)"
    lines = [
        "| method | " + " | ".join(f"{name} {s}" for name, s in columns) + " |",
        "|" + " --- |" * (1 + len(columns)),
    ]
    first_name, first_setting = columns[0]
    for method in results[first_name]["episodic"][first_setting]:
        cells = [cell(results[n]["episodic"][s][method]["accuracy"]) for n, s in columns]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    started = time.time()
    config = EvalConfig(
        shots=args.shots,
        seeds=args.seeds,
        episodes=args.episodes,
        split=args.split,
        validation=args.validation,
        methods=[*METHODS, "default" + NAMES_SUFFIX],  # the last: the classifier as shipped
    )
    results = {}
    for name, folder in DATASETS.items():
        print(f"== {name}", flush=True)
        source = str(Path(args.data) / folder)
        # BANKING77 has no validation split: "val" means a held-out part of train there.
        dataset_config = config
        if args.split == "val" and name == "BANKING77" and not args.validation:
            dataset_config = dataclasses.replace(config, split="test", validation=0.2)
        results[name] = evaluate(source, dataset_config, cache_dir=args.cache_dir)
        print(format_table(results[name]), flush=True)
        print("wrote", save_results(results[name], args.out))
    plot = plot_accuracy(list(results.values()), args.plot or Path(args.out) / "accuracy.png")
    shots = [str(k) for k in args.shots]
    print("\n### Full-class accuracy (%, mean ± 95% CI over seeds)\n")
    print(accuracy_table(results, shots))
    print("\n### Episodic 5-way accuracy (%, mean ± 95% CI over episodes)\n")
    print(episodic_table(results))
    summary = {
        "machine": platform.platform(),
        "date": time.strftime("%Y-%m-%d"),
        "seconds": round(time.time() - started),
        "plot": str(plot),
    }
    print("\n" + json.dumps(summary))


if __name__ == "__main__":
    main()
