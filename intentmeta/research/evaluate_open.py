"""Open-intent benchmark: some intents known from K examples, the others arrive unannounced.

The standard protocol of open intent classification (Shu et al. 2017; Zhang et al. 2021): per
seed, keep 25 / 50 / 75 % of a data set's intents as *known* (K examples each, drawn from
``train``); every test message of the other intents must be answered "out of scope". CLINC150
adds its own out-of-scope split (all 150 intents known, ``oos_test`` to reject).

The classifier under test is ``IntentClassifier()`` as shipped, fitted through its public API on
an encoder that returns cached embeddings. Baselines on the same embeddings and the same head
choose their single threshold per data set and K on *validation* episodes of every known ratio
together (the share of out-of-scope traffic is not known in advance):

- ``msp``: maximum softmax probability of the default head (Hendrycks & Gimpel 2017);
- ``cosine``: cosine of the message to the winning intent's prototype;
- ``lr``: scikit-learn logistic regression on the support set, maximum probability.

Validation episodes: CLINC150 ``val`` (+ ``oos_val``); BANKING77 30 % of each intent's ``train``
rows held out, support drawn from the rest. Nothing is ever fitted or chosen on ``test``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from intentmeta.rejection_rule import RejectionRule
from intentmeta.research.benchmark_encoders import (
    TableEncoder,
    cached_table_encoder,
    load_encoder,
)
from intentmeta.research.data import holdout_split, load_dataset, load_out_of_scope
from intentmeta.rule_provenance import warn_once_per_run

#: Truth label of a message that fits none of the known intents.
OPEN = None


@dataclass
class OpenPool:
    """Where one split's episodes draw from.

    Attributes:
        support: Candidate examples of each intent (K are drawn per known intent).
        queries: Messages to classify, by their true intent.
        oos: The data set's own out-of-scope messages (CLINC150 only).
    """

    support: dict[str, list[str]]
    queries: dict[str, list[str]]
    oos: list[str] = field(default_factory=list)

    def texts(self) -> list[str]:
        """Every text of the pool, once."""
        groups = [*self.support.values(), *self.queries.values(), self.oos]
        return list(dict.fromkeys(t for group in groups for t in group))


def _grouped(texts: Sequence[str], labels: Sequence[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for text, label in zip(texts, labels, strict=True):
        groups.setdefault(label, []).append(text)
    return groups


def load_pool(path: str | Path, split: str) -> OpenPool:
    """The pool of a BANKING77 or CLINC150 folder for ``split`` ``"val"`` or ``"test"``.

    CLINC150: support from ``train``, queries from ``val`` / ``test`` and ``oos_val`` /
    ``oos_test``. BANKING77 (no validation split): ``val`` holds out 30 % of each intent's
    ``train`` rows (seed 0) as queries and draws support from the rest; ``test`` draws support
    from all of ``train``.
    """
    if split not in ("val", "test"):
        raise ValueError(f"split must be 'val' or 'test', not {split!r}")
    path = Path(path)
    train = load_dataset(path, "train")
    if (path / "data_full.json").is_file() or path.name == "data_full.json":
        queries = load_dataset(path, split)
        return OpenPool(
            _grouped(train.texts, train.labels),
            _grouped(queries.texts, queries.labels),
            load_out_of_scope(path, split),
        )
    if split == "val":
        train, held_out = holdout_split(train, 0.3, seed=0)
        return OpenPool(
            _grouped(train.texts, train.labels), _grouped(held_out.texts, held_out.labels)
        )
    test = load_dataset(path, "test")
    return OpenPool(_grouped(train.texts, train.labels), _grouped(test.texts, test.labels))


@dataclass
class OpenEpisode:
    """One seed of one cell: known intents' examples, and messages with their truth."""

    support_texts: list[str]
    support_intents: list[str]
    query_texts: list[str]
    query_truth: list[str | None]  # the intent, or ``OPEN`` (None)

    @property
    def known(self) -> list[str]:
        """The known intents, in support order."""
        return list(dict.fromkeys(self.support_intents))


def draw_support(
    pool: OpenPool, known: Sequence[str], shots: int, rng: random.Random
) -> tuple[list[str], list[str]]:
    """``shots`` examples of each known intent (all it has if fewer), and their intents."""
    support_texts, support_intents = [], []
    for intent in known:
        chosen = rng.sample(pool.support[intent], min(shots, len(pool.support[intent])))
        support_texts += chosen
        support_intents += [intent] * len(chosen)
    return support_texts, support_intents


def sample_episode(
    pool: OpenPool, known_ratio: float, shots: int, seed: int, with_oos: bool = False
) -> OpenEpisode:
    """Keep ``known_ratio`` of the intents (at least 2), ``shots`` examples each.

    Args:
        pool: What to draw from.
        known_ratio: Share of the intents that are known; the others' messages are open.
        shots: Examples per known intent.
        seed: Seeds the choice of known intents and of their examples.
        with_oos: Also ask the pool's own out-of-scope messages.
    """
    rng = random.Random(seed)
    intents = sorted(pool.support)
    known = sorted(rng.sample(intents, max(2, round(known_ratio * len(intents)))))
    support_texts, support_intents = draw_support(pool, known, shots, rng)
    known_set = set(known)
    texts, truth = [], []
    for intent in sorted(pool.queries):
        texts += pool.queries[intent]
        truth += [intent if intent in known_set else OPEN] * len(pool.queries[intent])
    if with_oos:
        texts += pool.oos
        truth += [OPEN] * len(pool.oos)
    return OpenEpisode(support_texts, support_intents, texts, truth)


def refuse_fitting_on_test(split: str, fitting: bool, what: str = "--fit-confidence") -> None:
    """Raise if anything would be fitted or chosen on a test split.

    Raises:
        ValueError: If ``fitting`` and ``split`` names a test split.
    """
    if fitting and "test" in str(split).lower():
        raise ValueError(
            f"{what} fits on the split it evaluates; refusing split {split!r}: fit on 'val' "
            "(CLINC150 val, BANKING77 held-out train rows), then evaluate test once"
        )


# ---------------------------------------------------------------------------------- the grid
@dataclass
class OpenConfig:
    """What :func:`evaluate_open` measures."""

    split: str = "test"  # episodes' queries; baselines' thresholds always come from "val"
    ratios: list[float] = field(default_factory=lambda: [0.25, 0.5, 0.75])  # known share
    shots: list[int] = field(default_factory=lambda: [3, 5, 10, 20])
    seeds: int = 5  # episodes per cell, for 95% CIs
    with_oos: bool = True  # CLINC150: add the row with every intent known and its oos split
    baselines: bool = True
    head: str = "prototypical"
    encoder: str = "default"  # "default" (all-MiniLM-L6-v2) or "layer3" (its first 3 layers)
    adjustment: tuple[float, float] | None = None  # research: shift the out-of-scope log-odds
    rule: str | None = None  # JSON of a refitted rule (fit_rejection_rule.py --out), or an
    # encoder name whose shipped rule to use; None: the rule the classifier picks by encoder


def _baseline_scores(episode: OpenEpisode, table: TableEncoder, head: str) -> dict:
    from intentmeta.research.evaluate_open_methods import score_baselines

    return score_baselines(
        table.encode(episode.support_texts),
        episode.support_intents,
        table.encode(episode.query_texts),
        head,
    )


def baseline_thresholds(
    val_pool: OpenPool, table: TableEncoder, ratios: list[float], shots: int, config: OpenConfig
) -> dict[str, float]:
    """Each baseline's single threshold for K = ``shots``, chosen on validation episodes of
    every known ratio at once (best mean macro-F1): set as a team would set it, without
    knowing how much of its traffic is out of scope."""
    from intentmeta.research.evaluate_open_methods import best_threshold

    validation = [
        sample_episode(val_pool, ratio, shots, 1000 + seed, ratio >= 1.0)
        for ratio in ratios
        for seed in range(config.seeds)
    ]
    scores = [_baseline_scores(e, table, config.head) for e in validation]
    return {
        name: best_threshold([s[name] for s in scores], [e.query_truth for e in validation])
        for name in ("msp", "cosine", "lr")
    }


def run_cell(
    test_pool: OpenPool,
    table: TableEncoder,
    ratio: float,
    shots: int,
    config: OpenConfig,
    thresholds: dict[str, float] | None = None,
) -> dict[str, list[dict[str, float]]]:
    """Every method's metrics on ``config.seeds`` test episodes of one cell (ratio 1: with
    the data set's own out-of-scope split); baselines reject below ``thresholds``."""
    from intentmeta.research.evaluate_open_methods import classifier_answers, open_metrics

    tested = [
        sample_episode(test_pool, ratio, shots, seed, ratio >= 1.0) for seed in range(config.seeds)
    ]
    results: dict[str, list[dict[str, float]]] = {"intentmeta": []}
    for episode in tested:
        answers = classifier_answers(
            table,
            episode.support_texts,
            episode.support_intents,
            episode.query_texts,
            head=config.head,
            **({"adjustment": config.adjustment} if config.adjustment else {}),
            **({"rule": load_rule(config.rule)} if config.rule else {}),
        )
        results["intentmeta"].append(open_metrics(answers, episode.query_truth))
    if thresholds:
        scores = [_baseline_scores(e, table, config.head) for e in tested]
        for name, threshold in thresholds.items():
            results[name] = [
                open_metrics(s[name].reject_below(threshold), e.query_truth)
                | {"threshold": threshold}
                for s, e in zip(scores, tested, strict=True)
            ]
    return results


def load_rule(path_or_encoder: str) -> RejectionRule:
    """A rule from its JSON (``training/fit_rejection_rule.py --out``), or the one shipped for
    a shipped encoder's name.

    Raises:
        ValueError: If ``path_or_encoder`` is neither a file nor a shipped encoder's name.
    """
    import json

    from intentmeta.shipped_encoders import shipped_encoder

    if Path(path_or_encoder).is_file():
        return RejectionRule.from_state(json.loads(Path(path_or_encoder).read_text()))
    if shipped_encoder(path_or_encoder) is None:
        raise ValueError(
            f"--rule {path_or_encoder!r} is neither a rule's JSON nor a shipped encoder"
        )
    return RejectionRule.for_encoder(path_or_encoder)


def summarise(runs: list[dict[str, float]]) -> dict[str, dict[str, float | None]]:
    """``{metric: {"mean", "ci95"}}`` over seeds (Student t, 95%)."""
    from intentmeta.research.statistics import mean_ci

    summary = {}
    for metric in runs[0]:
        mean, half = mean_ci([r[metric] for r in runs])
        summary[metric] = {"mean": mean, "ci95": None if math.isnan(half) else half}
    return summary


@warn_once_per_run()
def evaluate_open(
    data: str | Path,
    config: OpenConfig,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    encoder: object | None = None,
) -> dict:
    """Run the grid on one data set folder (BANKING77 or CLINC150); returns the JSON record.

    Args:
        data: The data set's folder.
        config: Ratios, shots, seeds, split, head and encoder name.
        cache_dir: Embedding cache directory (default ``~/.cache/intentmeta/embeddings``).
        progress: Show a bar over the cells.
        encoder: An encoder object instead of ``config.encoder`` (tests use a fake one).
    """
    import platform
    import time
    from datetime import date

    from tqdm.auto import tqdm

    started = time.perf_counter()
    test_pool, val_pool = load_pool(data, config.split), load_pool(data, "val")
    encoder = encoder or load_encoder(config.encoder)
    table = cached_table_encoder(encoder, [*test_pool.texts(), *val_pool.texts()], cache_dir)
    cells = [(r, k) for r in config.ratios for k in config.shots]
    if config.with_oos and test_pool.oos:
        cells += [(1.0, k) for k in config.shots]
    record = {
        "data": Path(data).name,
        "encoder": encoder.name,
        "config": vars(config),
        "cells": [],
        "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}",
        "date": date.today().isoformat(),
    }
    ratios = sorted({ratio for ratio, _ in cells})
    thresholds = {
        k: baseline_thresholds(val_pool, table, ratios, k, config) if config.baselines else None
        for k in config.shots
    }
    for ratio, shots in tqdm(cells, desc=Path(data).name, disable=not progress):
        results = run_cell(test_pool, table, ratio, shots, config, thresholds[shots])
        record["cells"].append(
            {
                "known_ratio": ratio,
                "shots": shots,
                "methods": {m: summarise(runs) for m, runs in results.items()},
                "per_seed": results,
            }
        )
    record["seconds"] = round(time.perf_counter() - started, 1)
    return record
