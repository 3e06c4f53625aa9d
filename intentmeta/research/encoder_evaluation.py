"""Leave-one-data-set-out evaluation of encoders: full-class K-shot on data the encoder never saw.

For each encoder (the bundled off-the-shelf MiniLM, or a meta-trained model directory) and data
set, the full-class K-shot protocol of :mod:`intentmeta.evaluate` runs on cached embeddings with
the same support sets (``sample_k_shot``, seeds ``0..seeds-1``): logistic regression, plain
prototypes and the default ``IntentClassifier()`` head, optionally with each intent's name as one
more example. Only the training rows some support set uses are encoded.

Two settings:

* ``test``: all intents; support from ``train``, queries from ``test`` (the reported figures).
* ``heldout``: the intents a training run held out (its ``training.json``), for choosing the
  recipe: CLINC150 queries from its ``val`` split, other sets' queries from the held-out
  intents' remaining ``train`` rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from intentmeta.research import evaluate
from intentmeta.research.data import IntentDataset, holdout_split, load_dataset
from intentmeta.research.embedding_cache import cached_encode
from intentmeta.research.episodes import sample_k_shot
from intentmeta.research.statistics import mean_ci


@dataclass
class TransferConfig:
    """What one evaluation measures.

    Attributes:
        shots: Examples per intent.
        seeds: Support sets per K.
        methods: Keys of :data:`intentmeta.evaluate.METHODS`, plus ``<method>+names`` for the
            method with each intent's humanised name as one more example.
    """

    shots: list[int] = field(default_factory=lambda: [5, 10])  # the acceptance figures' K
    seeds: int = 5
    methods: list[str] = field(
        default_factory=lambda: ["logistic_regression", "prototypical", "default"]
    )


def heldout_splits(source: str, training_json: str | Path) -> tuple[IntentDataset, IntentDataset]:
    """``(support pool, queries)`` of the intents a training run held out of this source.

    Args:
        source: The data set directory.
        training_json: The run's ``training.json`` (its pool settings say what was held out).
    """
    from intentmeta.research.encoder_training_data import PoolConfig, training_data

    pool_config = PoolConfig(**json.loads(Path(training_json).read_text())["pool_config"])
    heldout = training_data([source], pool_config)
    intents = sorted({label.split(":", 1)[1] for label in heldout.heldout_labels})
    train = load_dataset(source, "train").subset(intents=intents)
    if (Path(source) / "data_full.json").is_file():
        return train, load_dataset(source, "val").subset(intents=intents)
    return holdout_split(train, 0.3)


def evaluate_encoder(
    encoder,
    train: IntentDataset,
    queries: IntentDataset,
    config: TransferConfig,
    cache_dir: str | None = None,
    progress: bool = True,
) -> dict:
    """Full-class K-shot figures of every method on one encoder's embeddings.

    Args:
        encoder: An object with ``name``, ``dim``, ``encode`` (e.g. a ``SentenceEncoder``).
        train: Rows to draw support sets from.
        queries: Rows to classify.
        config: Shots, seeds and methods.
        cache_dir: Embedding cache directory.
        progress: Progress bars.

    Returns:
        ``{str(K): {method: {"accuracy": summary, "macro_f1": summary}}}`` (percent).
    """
    needed = sorted(
        {row for k in config.shots for s in range(config.seeds) for row in _rows(train, k, s)}
    )
    vectors = cached_encode(encoder, [train.texts[i] for i in needed], cache_dir, progress)
    pool = torch.zeros(len(train), vectors.shape[1])  # (n_train, dim); unused rows stay 0
    pool[needed] = vectors
    query_x = cached_encode(encoder, queries.texts, cache_dir, progress)  # (n_query, dim)
    names = evaluate.IntentNames.of(train.labels, encoder, cache_dir)
    eval_config = evaluate.EvalConfig(
        shots=config.shots, seeds=config.seeds, methods=config.methods
    )
    return evaluate.full_class_eval(
        pool, train.labels, query_x, queries.labels, eval_config, progress, names=names
    )


def _rows(train: IntentDataset, k: int, seed: int) -> list[int]:
    return sample_k_shot(train.labels, k, seed)


def paired_differences(results: dict[str, dict], shots: Sequence[int]) -> dict:
    """Meta-learned minus off-the-shelf accuracy, per data set, K and method, over the same
    support sets (paired by seed): ``{data: {K: {method: summary}}}``."""
    differences: dict = {}
    for data, encoders in results.items():
        if not {"off-the-shelf", "meta-learned"} <= set(encoders):
            continue
        for k in map(str, shots):
            for method, after in encoders["meta-learned"][k].items():
                before = encoders["off-the-shelf"][k][method]["accuracy"]["values"]
                values = [a - b for a, b in zip(after["accuracy"]["values"], before, strict=True)]
                mean, half = mean_ci(values)
                differences.setdefault(data, {}).setdefault(k, {})[method] = {
                    "mean": mean,
                    "ci95": half,
                    "values": values,
                }
    return differences


def _cell(summary: dict, sign: str = "") -> str:
    half = summary["ci95"]
    interval = "" if half is None or half != half else f" ± {half:.2f}"  # none: a single value
    return f"{summary['mean']:{sign}.2f}{interval}"


def _signed(summary: dict) -> str:
    return _cell(summary, "+")


def table(results: dict[str, dict], shots: Sequence[int]) -> str:
    """Markdown: one row per (encoder, method), one column per (data set, K), then the paired
    differences (meta-learned minus off-the-shelf) when both encoders were measured."""
    columns = [(data, str(k)) for data in results for k in shots]
    lines = [
        "| encoder | method | " + " | ".join(f"{d} {k}-shot" for d, k in columns) + " |",
        "|" + " --- |" * (2 + len(columns)),
    ]
    first = next(iter(results.values()))
    for encoder_name in first:
        for method in first[encoder_name][str(shots[0])]:
            cells = []
            for data, k in columns:
                summary = results[data][encoder_name][k][method]["accuracy"]
                cells.append(_cell(summary))
            lines.append(f"| {encoder_name} | {method} | " + " | ".join(cells) + " |")
    differences = paired_differences(results, shots)
    if len(differences) == len(results):
        for method in first["meta-learned"][str(shots[0])]:
            cells = [_signed(differences[data][k][method]) for data, k in columns]
            lines.append(f"| difference (paired) | {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
