"""How well ``report()`` finds mislabelled examples: flip some labels, see what it flags.

Protocol: per seed, a K-shot registry is drawn from a data set's training split
(:func:`~intentmeta.episodes.sample_k_shot`), and the intent of a share of its examples
(10 %) is changed to another intent drawn at random. The registry is fitted and
:func:`~intentmeta.report.build_report` lists its suspects. Measured: precision and recall of the
flagged examples against the flipped ones, at the default margin and along a margin sweep; and
the accuracy on the evaluation split of the default classifier fitted on the clean registry, the
noisy one, and the noisy one with every flagged example moved to the intent the report suggests
(``fixed``) or deleted (``removed``).
"""

from __future__ import annotations

import argparse
import platform
import random
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from intentmeta.research.data import load_dataset
from intentmeta.research.episodes import sample_k_shot
from intentmeta.research.evaluate_discovery import LookupEncoder, safe_names, write_json
from intentmeta.research.statistics import mean_ci


@dataclass
class MislabelConfig:
    """What a mislabel evaluation measures.

    Attributes:
        shots: Examples per intent in each registry.
        flip: Share of examples whose intent is changed.
        seeds: Registries drawn (seeds ``0..seeds-1``).
        margins: Suspect margins swept for the precision/recall curve.
        split: Split on which the classifiers' accuracy is measured.
    """

    shots: int = 10
    flip: float = 0.1
    seeds: int = 5
    margins: list[float] = field(default_factory=lambda: [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3])
    split: str = "test"


def _accuracy(clf, texts: list[str], labels: list[str]) -> float:
    return float(np.mean([p == t for p, t in zip(clf.predict(texts), labels, strict=True)]))


def _fit(encoder, texts, labels):
    from intentmeta import IntentClassifier

    return IntentClassifier(encoder=encoder, oos_threshold=None, name_as_example=False).fit(
        texts, labels
    )


def _one_registry(train, evaluation, encoder, seed: int, config: MislabelConfig) -> dict:
    from intentmeta.report import ReportConfig, build_report

    rows = sample_k_shot(train.labels, config.shots, seed=seed)
    texts = list(dict.fromkeys(train.texts[i] for i in rows))  # repeats are kept once anyway
    label_of = dict(zip(train.texts, safe_names(train.labels), strict=True))
    clean = [label_of[t] for t in texts]
    rng = random.Random(seed)
    intents = sorted(set(clean))
    flipped = set(rng.sample(range(len(texts)), round(config.flip * len(texts))))
    noisy = [
        rng.choice([c for c in intents if c != label]) if i in flipped else label
        for i, label in enumerate(clean)
    ]
    clf = _fit(encoder, texts, noisy)
    position = {text: i for i, text in enumerate(texts)}
    sweep = {}
    for margin in [ReportConfig().suspect_margin, *config.margins]:
        suspects = build_report(clf, ReportConfig(suspect_margin=margin)).suspects
        flagged = {position[s.example]: s.better_intent for s in suspects}
        hits = len(flagged.keys() & flipped)
        sweep[f"{margin:g}"] = {
            "flagged": len(flagged),
            "precision": hits / len(flagged) if flagged else float("nan"),
            "recall": hits / len(flipped),
            "moved_to_true_intent": sum(clean[i] == flagged[i] for i in flagged.keys() & flipped),
        }
    suspects = build_report(clf).suspects
    fixed = list(noisy)
    for s in suspects:
        fixed[position[s.example]] = s.better_intent
    kept = [i for i in range(len(texts)) if texts[i] not in {s.example for s in suspects}]
    return {
        "n_examples": len(texts),
        "n_flipped": len(flipped),
        "sweep": sweep,
        "accuracy": {
            "clean": _accuracy(_fit(encoder, texts, clean), evaluation.texts, evaluation.labels),
            "noisy": _accuracy(clf, evaluation.texts, evaluation.labels),
            "fixed": _accuracy(_fit(encoder, texts, fixed), evaluation.texts, evaluation.labels),
            "removed": _accuracy(
                _fit(encoder, [texts[i] for i in kept], [noisy[i] for i in kept]),
                evaluation.texts,
                evaluation.labels,
            ),
        },
    }


def evaluate_mislabels(
    source: str,
    config: MislabelConfig | None = None,
    cache_dir: str | None = None,
    encoder: object | None = None,
) -> dict:
    """Mislabel detection on one data set; see the module docstring.

    Args:
        source: Anything :func:`~intentmeta.research.data.load_dataset` reads.
        config: What to measure; ``None`` uses the defaults.
        cache_dir: Embedding cache directory.
        encoder: An encoder with ``name``, ``dim``, ``encode``; ``None`` loads the bundled one.
    """
    from intentmeta.report import ReportConfig
    from intentmeta.research.benchmark_encoders import off_the_shelf_encoder
    from intentmeta.research.embedding_cache import cached_encode

    config = config or MislabelConfig()
    started = time.time()
    train, evaluation = load_dataset(source, "train"), load_dataset(source, config.split)
    texts = list(dict.fromkeys(train.texts + evaluation.texts))
    encoder = LookupEncoder(
        texts, cached_encode(encoder or off_the_shelf_encoder(), texts, cache_dir)
    )
    runs = [_one_registry(train, evaluation, encoder, s, config) for s in range(config.seeds)]

    def summary(values):
        mean, half = mean_ci(values)
        return {"mean": round(mean, 4), "ci95": round(half, 4)}

    margins = runs[0]["sweep"].keys()
    return {
        "dataset": train.name,
        "split": evaluation.split,
        "config": asdict(config),
        "default_margin": ReportConfig().suspect_margin,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "seconds": round(time.time() - started, 1),
        "sweep": {
            m: {
                key: summary([run["sweep"][m][key] for run in runs])
                for key in ("flagged", "precision", "recall", "moved_to_true_intent")
            }
            for m in margins
        },
        "accuracy": {
            key: summary([100 * run["accuracy"][key] for run in runs])
            for key in ("clean", "noisy", "fixed", "removed")
        },
        "runs": runs,
    }


def format_mislabel_table(results: dict) -> str:
    """Markdown: the margin sweep and the accuracy before and after fixing."""
    lines = [
        f"{results['dataset']}: {results['config']['shots']}-shot registries, "
        f"{results['config']['flip']:.0%} of intents flipped, {results['config']['seeds']} seeds "
        f"(default margin {results['default_margin']:g})",
        "",
        "| suspect margin | flagged | precision | recall | moved to the true intent |",
        "| --- | --- | --- | --- | --- |",
    ]
    for margin, row in results["sweep"].items():
        lines.append(
            f"| {margin} | {row['flagged']['mean']:.1f} | {row['precision']['mean']:.3f} "
            f"± {row['precision']['ci95']:.3f} | {row['recall']['mean']:.3f} ± "
            f"{row['recall']['ci95']:.3f} | {row['moved_to_true_intent']['mean']:.1f} |"
        )
    accuracy = results["accuracy"]
    lines += ["", "| registry | accuracy, % |", "| --- | --- |"]
    lines += [
        f"| {key} | {accuracy[key]['mean']:.2f} ± {accuracy[key]['ci95']:.2f} |"
        for key in ("clean", "noisy", "fixed", "removed")
    ]
    return "\n".join(lines)


def run_from_cli(args: argparse.Namespace) -> int:
    """``intentmeta eval --mislabels``: print the tables and write JSON under ``--out``."""
    config = MislabelConfig(seeds=args.seeds, split=args.split)
    results = evaluate_mislabels(args.data, config, args.cache_dir)
    print(format_mislabel_table(results))
    print(f"\nwrote {write_json(results, args.out, 'mislabels')}")
    return 0
