"""Out-of-scope benchmark: K-shot intents, nothing out of scope shown, rejection measured.

CLINC150 (Larson et al. 2019) has 150 intents and held-out out-of-scope queries. Each seed draws
K examples per intent from ``train``, fits an :class:`IntentClassifier` on them alone, and
classifies ``val`` + ``oos_val`` or ``test`` + ``oos_test``.
"""

from __future__ import annotations

import json
import math
import platform
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import torch

from intentmeta.classifier import IntentClassifier
from intentmeta.encoder import Encoder
from intentmeta.rejection_rule import RejectionRule
from intentmeta.research.data import load_dataset, load_out_of_scope
from intentmeta.research.reliability import (
    auroc,
    expected_calibration_error,
    plot_reliability_diagram,
)
from intentmeta.research.statistics import mean_ci
from intentmeta.rule_provenance import warn_once_per_run
from intentmeta.validation import descriptive_intent_name


@dataclass
class OosConfig:
    """What :func:`evaluate_out_of_scope` measures."""

    split: str = "test"  # "val" to choose settings, "test" to report once
    shots: int = 10  # examples per intent, as in the targets
    seeds: int = 5  # support sets drawn (seeds 0, 1, ...), enough for a 95% CI
    threshold: float | str | None = "auto"  # the classifier's oos_threshold
    encoder: str = (
        "default"  # "default" (the off-the-shelf MiniLM) or a model that never saw CLINC150
    )
    rule: str | None = None  # a rule's JSON or an encoder name (its shipped rule); None: by encoder
    name_as_example: bool = True  # the classifier's default: each intent's name as one example
    share: float | None = None  # calibrate(out_of_scope_share=...) before measuring; None: no


def parse_threshold(value: str) -> float | str | None:
    """``"auto"``, ``"none"`` (no rejection) or a cosine, as typed on a command line."""
    return None if value == "none" else value if value == "auto" else float(value)


@dataclass
class OosSplit:
    """In-scope and out-of-scope messages of one CLINC150 split."""

    texts: list[str]  # in-scope messages
    labels: list[str]  # their intents
    oos_texts: list[str]  # messages that fit no intent


def load_clinc150(path: str | Path, split: str) -> tuple[OosSplit, dict[str, list[str]]]:
    """CLINC150's in-scope and out-of-scope messages of ``split``, and ``train`` by intent.

    Args:
        path: ``data_full.json`` or its directory (read by :mod:`intentmeta.research.data`).
        split: ``"val"`` or ``"test"``.
    """
    evaluation = load_dataset(path, split)
    oos = load_out_of_scope(path, split)
    return OosSplit(evaluation.texts, evaluation.labels, oos), load_dataset(path).by_intent()


@dataclass
class OosRun:
    """What one seed measured (rates in ``[0, 1]``), plus per-message details for plots."""

    in_scope_accuracy: float
    oos_recall: float
    oos_precision: float
    auroc: float
    ece: float
    in_scope_at_bar: float  # in-scope accuracy of the threshold catching BAR_RECALL (diagnostic)
    confidence: torch.Tensor = field(repr=False)  # (n,) every message's confidence
    correct: torch.Tensor = field(repr=False)  # (n,) whether each answer was right
    p_oos: torch.Tensor = field(repr=False)  # (n,) probability of out of scope
    is_oos: torch.Tensor = field(repr=False)  # (n,) whether each message is out of scope


#: The issue's bar: out-of-scope recall at which ``in_scope_at_bar`` is read.
BAR_RECALL = 0.85


def in_scope_at_recall(
    p_oos: torch.Tensor, is_oos: torch.Tensor, best_right: torch.Tensor, recall: float
) -> float:
    """In-scope accuracy when the split's own threshold on ``p_oos`` catches ``recall``.

    A diagnostic of the ranking, not an operating point: the threshold is read off the very
    messages it is measured on (which no shipped setting may do), so it is the best any single
    threshold on this probability could reach at that recall.

    Args:
        p_oos: ``(n,)`` out-of-scope probabilities.
        is_oos: ``(n,)`` whether each message is out of scope.
        best_right: ``(n,)`` whether each message's best intent is its intent.
        recall: The out-of-scope recall to reach, in ``(0, 1]``.
    """
    outside = p_oos[is_oos].sort(descending=True).values  # (n_oos,)
    threshold = outside[max(math.ceil(recall * len(outside)) - 1, 0)]
    accepted = p_oos < threshold  # ties with the threshold are rejected
    return float((best_right & accepted)[~is_oos].float().mean())


def run_seed(
    encoder: Encoder,
    split: OosSplit,
    train: dict[str, list[str]],
    shots: int,
    seed: int,
    threshold: float | str | None = "auto",
    rule: RejectionRule | None = None,
    name_as_example: bool = True,
    share: float | None = None,
) -> OosRun:
    """Fit a classifier on ``shots`` examples per intent and measure rejection on ``split``
    (with ``rule`` instead of the one shipped for the encoder's name, and moved to an
    out-of-scope ``share`` of traffic, if given)."""
    rng = random.Random(seed)
    texts, labels = [], []
    for intent in sorted(train):
        chosen = rng.sample(train[intent], min(shots, len(train[intent])))
        texts += chosen
        labels += [intent] * len(chosen)
    clf = IntentClassifier(
        encoder=encoder, oos_threshold=threshold, name_as_example=name_as_example
    )
    if rule is not None:
        clf.oos.rule = rule
    clf.fit(texts, labels)
    if share is not None:
        clf.calibrate(out_of_scope_share=share)
    queries = split.texts + split.oos_texts
    predictions = clf.classify_batch(queries)
    p_oos = clf.out_of_scope_evidence(encoder.encode(queries))[1]  # (n,)
    truth = split.labels + [None] * len(split.oos_texts)
    is_oos = torch.tensor([t is None for t in truth])
    rejected = torch.tensor([p.is_out_of_scope for p in predictions])
    correct = torch.tensor([p.intent == t for p, t in zip(predictions, truth, strict=True)])
    confidence = torch.tensor([p.confidence for p in predictions])
    best_right = torch.tensor([p.best_intent == t for p, t in zip(predictions, truth, strict=True)])
    n_rejected = int(rejected.sum())
    return OosRun(
        in_scope_accuracy=float(correct[~is_oos].float().mean()),
        oos_recall=float(rejected[is_oos].float().mean()),
        oos_precision=float((rejected & is_oos).sum()) / n_rejected if n_rejected else math.nan,
        auroc=auroc(p_oos, is_oos),
        ece=expected_calibration_error(confidence, correct),
        in_scope_at_bar=in_scope_at_recall(p_oos, is_oos, best_right, BAR_RECALL),
        confidence=confidence,
        correct=correct,
        p_oos=p_oos,
        is_oos=is_oos,
    )


def summarise(runs: Sequence[OosRun]) -> dict[str, dict[str, float]]:
    """``{metric: {"mean", "ci95"}}`` over seeds, rates in percent and AUROC/ECE as fractions."""
    summary = {}
    for metric, scale in [
        ("in_scope_accuracy", 100),
        ("oos_recall", 100),
        ("oos_precision", 100),
        ("auroc", 1),
        ("ece", 1),
        ("in_scope_at_bar", 100),
    ]:
        mean, half = mean_ci([getattr(r, metric) * scale for r in runs])
        summary[metric] = {"mean": mean, "ci95": half}
    return summary


@warn_once_per_run()
def evaluate_out_of_scope(
    data: str | Path,
    config: OosConfig,
    cache_dir: str | Path | None = None,
    out: str | Path = "results",
    plot: str | Path | None = None,
    fit: bool = False,
) -> dict:
    """Run every seed, write a JSON record (and optionally the reliability diagram).

    Args:
        data: CLINC150's ``data_full.json`` or its folder.
        config: Split, shots, seeds and threshold.
        cache_dir: Where embeddings are kept between runs.
        out: Folder of the JSON record.
        plot: Path of the reliability diagram PNG, if wanted.
        fit: Also refit the out-of-scope rule on validation episodes (CLINC150 ``val`` only)
            and add it to the record; refused with ``split="test"``.

    Returns:
        The record: settings, summary (mean and 95% CI), per-seed figures, machine and date.
    """
    from intentmeta.research.benchmark_encoders import (
        cached_table_encoder,
        check_never_seen,
        load_encoder,
    )
    from intentmeta.research.evaluate_open import load_rule, refuse_fitting_on_test

    refuse_fitting_on_test(config.split, fit)
    check_never_seen(config.encoder, "clinc150")
    torch.manual_seed(0)
    split, train = load_clinc150(data, config.split)
    texts = [*split.texts, *split.oos_texts, *(t for group in train.values() for t in group)]
    names = [descriptive_intent_name(intent) for intent in train] if config.name_as_example else []
    texts += [name for name in names if name is not None]  # what name_as_example encodes
    model = load_encoder(config.encoder)
    encoder = cached_table_encoder(model, texts, cache_dir)
    rule = load_rule(config.rule) if config.rule else None
    started = time.perf_counter()
    runs = [
        run_seed(
            encoder,
            split,
            train,
            config.shots,
            seed,
            config.threshold,
            rule,
            config.name_as_example,
            config.share,
        )
        for seed in range(config.seeds)
    ]
    if plot:
        plot_reliability_diagram(
            torch.cat([r.confidence for r in runs]),
            torch.cat([r.correct for r in runs]),
            plot,
            title=f"CLINC150 {config.split}, {config.shots}-shot, {config.seeds} seeds",
        )
    record = {
        "data": "CLINC150",
        "split": config.split,
        "shots": config.shots,
        "seeds": config.seeds,
        "threshold": config.threshold,
        "encoder": encoder.name,
        "rule_used": config.rule,
        "name_as_example": config.name_as_example,
        "out_of_scope_share": config.share,
        "summary": summarise(runs),
        "per_seed": [
            {k: getattr(r, k) for k in ("in_scope_accuracy", "oos_recall", "oos_precision")}
            | {"auroc": r.auroc, "ece": r.ece, "in_scope_at_bar": r.in_scope_at_bar}
            for r in runs
        ],
        "rule": _fit_on_validation(data, model) if fit else None,
        "machine": f"{platform.processor() or platform.machine()}, torch 1 thread",
        "date": date.today().isoformat(),
        "seconds": round(time.perf_counter() - started, 1),
    }
    Path(out).mkdir(parents=True, exist_ok=True)
    label = "" if config.encoder == "default" else f"_{Path(config.encoder).name}"
    label += "" if config.name_as_example else "_no_names"
    label += "" if config.share is None else f"_share{config.share:g}"
    name = f"clinc150_oos{label}_{config.split}_{config.shots}shot_{config.threshold}.json"
    (Path(out) / name).write_text(json.dumps(record, indent=2))
    record["path"] = str(Path(out) / name)
    return record


def _fit_on_validation(data: str | Path, encoder) -> dict:
    """The rule fitted on CLINC150 ``val`` episodes alone (``--fit-confidence``)."""
    from intentmeta.research.benchmark_encoders import cached_table_encoder
    from intentmeta.research.evaluate_open import load_pool
    from intentmeta.research.rule_fitting import FitConfig, fit_rule

    pool = load_pool(data, "val")
    val_table = cached_table_encoder(encoder, pool.texts())
    return fit_rule({"clinc150": pool}, {"clinc150": val_table}, FitConfig(), encoder.name).state()


def format_record(record: dict) -> str:
    """The summary as lines of ``metric  mean ± half-width``."""
    lines = [
        f"{metric:18s} {value['mean']:.4g} ± {value['ci95']:.2g}"
        for metric, value in record["summary"].items()
    ]
    if record.get("rule"):
        lines.append(f"rule               {json.dumps(record['rule'])}")
    return "\n".join([*lines, f"wrote {record['path']}"])
