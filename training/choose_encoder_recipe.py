"""Choose the encoder meta-training recipe across data sets, on validation splits only.

Each candidate recipe trains two encoders with ``intentmeta train --encoder``: one on CLINC150
``train`` and one on BANKING77 ``train``. Each is then scored on the *other* data set's validation
split (BANKING77: 30% of its ``train`` rows held out; CLINC150: ``val``), K = 5 and 10, with the
classifier a user gets. A recipe is chosen for how well what it learns on one source carries to a
data set it never saw, which is the job of the shipped encoder; no test split is read.

    python training/choose_encoder_recipe.py --data ../shared/data --out results/encoder_recipes

The candidates and the chosen one are recorded in BENCHMARKS.md ("Meta-learned encoder").
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# name -> `intentmeta train --encoder` options beyond the defaults (EncoderTrainingConfig).
CANDIDATES: dict[str, list[str]] = {
    "default": [],
    "episodes-100": ["--episodes", "100"],
    "episodes-100-anchor": ["--episodes", "100", "--anchor-weight", "0.1"],
    "shots-5": ["--k-shot", "5", "--queries", "5", "--n-way", "24", "--episodes", "100"],
    "top-3-layers": ["--top-layers", "3", "--episodes", "100"],
    "episodes-300-lr1e-5": ["--episodes", "300", "--lr", "1e-5"],
}
SOURCES = {"clinc150": "banking77", "banking77": "clinc150"}  # trained on -> scored on


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--out", default="results/encoder_recipes")
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--methods", nargs="+", default=["default+names", "logistic_regression"])
    return parser.parse_args()


def train(name: str, source: str, args: argparse.Namespace) -> Path:
    """Train (or reuse) the candidate's encoder on one source."""
    out = Path(args.out) / f"{name}-{source}"
    if not (out / "training.json").is_file():
        command = [sys.executable, "-m", "intentmeta.cli", "train", "--encoder"]
        command += ["--data", str(Path(args.data) / source), "--out", str(out)]
        subprocess.run(command + CANDIDATES[name], check=True, cwd=ROOT)
    return out


def score(name: str, runs: dict[str, Path] | None, args: argparse.Namespace) -> dict:
    """Validation accuracy of the candidate's encoders on the data sets they never saw
    (``runs=None``: of the off-the-shelf encoder), ``{"<data> K=<k> <method>": accuracy}``."""
    report = Path(args.out) / f"{name}-validation.json"
    if not report.is_file():
        command = [sys.executable, "training/evaluate_encoder_transfer.py", "--setting"]
        command += ["validation", "--data", args.data, "--out", str(report)]
        command += ["--seeds", str(args.seeds), "--methods", *args.methods]
        if runs is not None:
            command += ["--skip-baseline", "--banking77-encoder", str(runs["clinc150"])]
            command += ["--clinc150-encoder", str(runs["banking77"])]
        subprocess.run(command, check=True, cwd=ROOT)
    cells = {}
    for data, encoders in json.loads(report.read_text())["results"].items():
        for by_k in encoders.values():
            for k, methods in by_k.items():
                for method, summary in methods.items():
                    cells[f"{data.split()[0]} K={k} {method}"] = summary["accuracy"]["mean"]
    return cells


def main() -> int:
    args = parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    baseline = score("off-the-shelf", None, args)
    rows = {"off-the-shelf": baseline}
    for name in args.candidates:
        runs = {source: train(name, source, args) for source in SOURCES}
        rows[name] = trained = score(name, runs, args)
        gain = statistics.mean(trained[key] - baseline[key] for key in trained)
        print(f"{name}: mean gain over off-the-shelf {gain:+.2f}", flush=True)
        for key in sorted(trained):
            print(f"  {key:40s} {baseline[key]:6.2f} -> {trained[key]:6.2f}")
    out = Path(args.out) / "recipes.json"
    out.write_text(json.dumps(rows, indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
