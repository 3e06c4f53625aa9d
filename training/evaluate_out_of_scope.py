"""Measure out-of-scope rejection and confidence calibration on CLINC150 (issue 5).

K examples per intent from ``train``, nothing out of scope shown; in-scope accuracy, out-of-scope
recall / precision, AUROC and ECE over seeds, with 95% confidence intervals.

    python training/evaluate_out_of_scope.py --data ../shared/data/clinc150 --split test \
        --plot docs/reliability_diagram.png

``--split val --fit-confidence`` refits the logistic confidence maps that
:class:`intentmeta.calibration.CalibrationConfig` ships (val, out-of-scope weighted to 20%).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch
from safetensors.torch import load_file, save_file

from intentmeta.encoder import shared_encoder
from intentmeta.evaluate_oos import CachedEncoder, load_clinc150, run_seed, summarise
from intentmeta.reliability import plot_reliability_diagram


def parse_threshold(value: str) -> float | str | None:
    return None if value == "none" else value if value == "auto" else float(value)


def load_cache(encoder: CachedEncoder, directory: Path) -> None:
    """Re-use embeddings a previous run stored (safetensors + the texts as JSON)."""
    if (directory / "texts.json").is_file():
        texts = json.loads((directory / "texts.json").read_text())
        rows = load_file(directory / "embeddings.safetensors")["embeddings"]
        encoder.cache.update(zip(texts, rows, strict=True))


def save_cache(encoder: CachedEncoder, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    texts = list(encoder.cache)
    save_file(
        {"embeddings": torch.stack([encoder.cache[t] for t in texts]).contiguous()},
        directory / "embeddings.safetensors",
    )
    (directory / "texts.json").write_text(json.dumps(texts))


def fit_confidence(runs: list, oos_share: float = 0.2) -> dict[str, list[float]]:
    """Fit the accept / reject logistic maps, out-of-scope messages weighted to ``oos_share``."""
    from sklearn.linear_model import LogisticRegression

    margin = torch.cat([r.margin for r in runs]).numpy()
    gap = torch.cat([r.gap for r in runs]).numpy()
    correct = torch.cat([r.correct for r in runs]).numpy()
    accepted = margin >= 0
    is_oos = torch.cat([r.is_oos for r in runs]).numpy()
    weight = is_oos * (oos_share / (1 - oos_share)) * (~is_oos).sum() / is_oos.sum()
    weight = weight + (~is_oos)
    accept = LogisticRegression(C=100).fit(
        list(zip(margin[accepted], gap[accepted], strict=True)),
        correct[accepted],
        sample_weight=weight[accepted],
    )
    reject = LogisticRegression(C=100).fit(
        -margin[~accepted, None], correct[~accepted], sample_weight=weight[~accepted]
    )
    return {
        "accept_weights": [
            *accept.coef_[0].round(2).tolist(),
            round(float(accept.intercept_[0]), 2),
        ],
        "reject_weights": [
            round(float(reject.coef_[0, 0]), 2),
            round(float(reject.intercept_[0]), 2),
        ],
    }


def time_add_intent(train: dict[str, list[str]], n_intents: int = 1000, repeats: int = 20) -> dict:
    """Median milliseconds to add one 10-example intent to a registry of ``n_intents``.

    The registry is filled from CLINC150 training texts (reused across intent names); the timed
    ``add_intent`` encodes its 10 examples with the real encoder. ``calibration_ms`` times the
    detector's share: the per-intent statistics and the first decision's lazy global update.
    """
    from intentmeta import IntentClassifier

    pool = [text for texts in train.values() for text in texts]
    texts = [pool[i % len(pool)] for i in range(n_intents * 10)]
    labels = [f"intent_{i // 10}" for i in range(n_intents * 10)]
    clf = IntentClassifier(oos_threshold="auto").fit(texts, labels)
    clf.classify("warm up")
    total, calibration = [], []
    for repeat in range(repeats):
        examples = [f"{text} ({repeat})" for text in pool[repeat * 10 : repeat * 10 + 10]]
        started = time.perf_counter()
        clf.add_intent(f"new_{repeat}", examples)
        total.append(time.perf_counter() - started)
        embeddings = clf._intents[f"new_{repeat}"].embeddings
        labels_now = clf.head.classes.tolist()
        started = time.perf_counter()
        clf.oos.add(clf._intents[f"new_{repeat}"].label, embeddings)
        clf.oos.auto_thresholds(labels_now)
        calibration.append(time.perf_counter() - started)
    median = lambda xs: sorted(xs)[len(xs) // 2] * 1000  # noqa: E731
    return {
        "n_intents": n_intents,
        "add_intent_ms": median(total),
        "calibration_ms": median(calibration),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/clinc150", help="CLINC150 folder")
    parser.add_argument("--split", default="test", choices=["val", "test"])
    parser.add_argument("--shots", type=int, default=10, help="examples per intent")
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds (0, 1, ...)")
    parser.add_argument("--threshold", default="auto", help="'auto', a cosine, or 'none'")
    parser.add_argument("--out", default="results/out_of_scope", help="JSON results folder")
    parser.add_argument("--cache", default="results/embedding_cache/clinc150", help="embeddings")
    parser.add_argument("--plot", help="write the reliability diagram (all seeds) here")
    parser.add_argument("--fit-confidence", action="store_true", help="print refitted maps")
    parser.add_argument("--timing", action="store_true", help="only time add_intent at 1,000")
    args = parser.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(1)
    split, train = load_clinc150(args.data, args.split)
    if args.timing:
        print(json.dumps(time_add_intent(train)))
        return
    encoder = CachedEncoder(shared_encoder())
    load_cache(encoder, Path(args.cache))
    started = time.perf_counter()
    threshold = parse_threshold(args.threshold)
    runs = [
        run_seed(encoder, split, train, args.shots, seed, threshold) for seed in range(args.seeds)
    ]
    save_cache(encoder, Path(args.cache))
    summary = summarise(runs)
    for metric, value in summary.items():
        print(f"{metric:18s} {value['mean']:.4g} ± {value['ci95']:.2g}")
    if args.fit_confidence:
        print(json.dumps(fit_confidence(runs)))
    if args.plot:
        plot_reliability_diagram(
            torch.cat([r.confidence for r in runs]),
            torch.cat([r.correct for r in runs]),
            args.plot,
            title=f"CLINC150 {args.split}, {args.shots}-shot, {args.seeds} seeds",
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record = {
        "data": "CLINC150",
        "split": args.split,
        "shots": args.shots,
        "seeds": args.seeds,
        "threshold": args.threshold,
        "summary": summary,
        "per_seed": [
            {k: getattr(r, k) for k in ("in_scope_accuracy", "oos_recall", "oos_precision")}
            | {"auroc": r.auroc, "ece": r.ece}
            for r in runs
        ],
        "machine": f"{platform.processor() or platform.machine()}, torch 1 thread",
        "date": date.today().isoformat(),
        "seconds": round(time.perf_counter() - started, 1),
    }
    name = f"clinc150_{args.split}_{args.shots}shot_{args.threshold}.json"
    (out / name).write_text(json.dumps(record, indent=2))
    print(f"wrote {out / name}")


if __name__ == "__main__":
    main()
