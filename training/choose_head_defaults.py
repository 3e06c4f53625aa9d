"""Choose IntentClassifier's head settings on validation data: the sweep behind default_head_config.

Every candidate is ``IntentClassifier(head=..., head_config=...)`` fitted through the public API
on full-class K-shot support sets (K = 5 and 10, seeds 0-2), scored on validation data only:
CLINC150 ``val`` (in-scope) and 30% of each BANKING77 intent's training rows held out (seed 0).
Logistic regression (C = 1, 10, 100) is the linear-probe reference. Prints one table per data set
and the chosen settings: the prototypical candidate with the best mean over both sets and both
K, and the matching candidate likewise; ``intentmeta.config.default_head_config`` should match.

    python training/choose_head_defaults.py --data ../shared/data

About 3-4 minutes per data set with 2 seeds on 2 shared CPU cores, embedding cache filled by
``make eval`` (encoding ~28,000 messages adds minutes the first time); ``--only BANKING77`` /
``--only CLINC150`` runs one set (its "chosen" line then covers that set alone). Results of a run
are in BENCHMARKS.md. Not run in CI: it ships nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from intentmeta.config import default_head_config
from intentmeta.encoder import EncoderConfig, SentenceEncoder
from intentmeta.heads import HeadConfig
from intentmeta.research.benchmark_encoders import off_the_shelf_encoder
from intentmeta.research.data import holdout_split, load_dataset
from intentmeta.research.embedding_cache import cached_encode
from intentmeta.research.evaluate import (
    EvalConfig,
    IntentNames,
    classifier_method,
    full_class_eval,
    logistic_regression,
    with_names,
)

PROTOTYPICAL = {
    "prototypes, T=0.1": HeadConfig(temperature=0.1),
    "adapted, T=0.1": HeadConfig(temperature=0.1, adapt_steps=100),
    "adapted + nearest 0.1, T=0.05": HeadConfig(
        temperature=0.05, adapt_steps=100, nearest_weight=0.1
    ),
    "adapted + nearest 0.1, T=0.1": HeadConfig(
        temperature=0.1, adapt_steps=100, nearest_weight=0.1
    ),
    "adapted + nearest 0.2, T=0.1": HeadConfig(
        temperature=0.1, adapt_steps=100, nearest_weight=0.2
    ),
}
MATCHING = {
    "matching, T=0.1": HeadConfig(temperature=0.1),
    "matching whitened 0.5, T=0.1": HeadConfig(temperature=0.1, whitening=0.5),
    "matching whitened 0.7, T=0.1": HeadConfig(temperature=0.1, whitening=0.7),
    "matching whitened 0.9, T=0.1": HeadConfig(temperature=0.1, whitening=0.9),
}


def validation_sets(data: Path) -> dict[str, tuple]:
    """``{name: (support pool, validation)}``, both ``IntentDataset``s, no test data."""
    banking_pool, banking_validation = holdout_split(load_dataset(data / "banking77"), 0.3)
    clinc = data / "clinc150"
    return {
        "BANKING77 (30% of train held out)": (banking_pool, banking_validation),
        "CLINC150 val": (load_dataset(clinc, "train"), load_dataset(clinc, "val")),
    }


def methods() -> dict:
    """Every candidate, by name; encoder settings follow the shared encoder's dimension."""
    candidates = {
        f"logistic regression C={c}": (lambda s, y, q, n, c=c: logistic_regression(s, y, q, n, c=c))
        for c in (1.0, 10.0, 100.0)
    }
    for head, configs in (("prototypical", PROTOTYPICAL), ("matching", MATCHING)):
        for name, config in configs.items():
            candidates[name] = classifier_method(head, config)
    return candidates


def _cell(values: dict) -> str:
    half = values["ci95"]
    return f"{values['mean']:.2f}" + ("" if half is None else f" ± {half:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", help="folder of banking77/, clinc150/")
    parser.add_argument("--seeds", type=int, default=3, help="support sets drawn per K")
    parser.add_argument("--cache-dir", help="embedding cache (default: ~/.cache/intentmeta)")
    parser.add_argument(
        "--only", help="run one data set (a prefix of its title: BANKING77, CLINC150)"
    )
    parser.add_argument(
        "--encoder-for",
        action="append",
        default=[],
        metavar="DATA=MODEL",
        help="the encoder for one data set (banking77=DIR): e.g. a meta-learned encoder trained "
        "on the other set (default: the off-the-shelf MiniLM for both)",
    )
    parser.add_argument(
        "--names", action="store_true", help="every candidate sees the intents' names (as shipped)"
    )
    args = parser.parse_args()

    encoders = dict(item.split("=", 1) for item in args.encoder_for)
    config = EvalConfig(shots=[5, 10], seeds=args.seeds)
    candidates = methods()
    means: dict[str, list[float]] = {name: [] for name in candidates}
    for title, (pool, validation) in validation_sets(Path(args.data)).items():
        if args.only and not title.startswith(args.only):
            continue
        model = encoders.get(title.split()[0].lower())
        encoder = (
            off_the_shelf_encoder() if model is None else SentenceEncoder(EncoderConfig(model))
        )
        pool_x = cached_encode(encoder, pool.texts, args.cache_dir)  # (n_pool, dim)
        validation_x = cached_encode(encoder, validation.texts, args.cache_dir)
        chosen = candidates
        if args.names:
            names = IntentNames.of(pool.labels, encoder, args.cache_dir)
            chosen = {name: with_names(method, names) for name, method in candidates.items()}
        results = full_class_eval(
            pool_x, pool.labels, validation_x, validation.labels, config, methods=chosen
        )
        print(f"\n{title}, accuracy % (mean ± 95% CI over {args.seeds} seeds)\n")
        print("| candidate | 5-shot | 10-shot |\n|---|---|---|")
        for name in candidates:
            cells = [results[k][name]["accuracy"] for k in ("5", "10")]
            print(f"| {name} | " + " | ".join(_cell(cell) for cell in cells) + " |")
            means[name] += [c["mean"] for c in cells]
    print("\nMean over both sets and both K:")
    for family in (PROTOTYPICAL, MATCHING):
        best = max(family, key=lambda name: statistics.mean(means[name]))
        for name in family:
            mark = "  <- chosen" if name == best else ""
            print(f"  {name}: {statistics.mean(means[name]):.2f}{mark}")
    shipped = {
        head: dataclasses.asdict(default_head_config(head)) for head in ("prototypical", "matching")
    }
    print(f"\nShipped default_head_config: {shipped}")


if __name__ == "__main__":
    main()
