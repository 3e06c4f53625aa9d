"""Out-of-scope benchmark: K-shot intents, nothing out of scope shown, rejection measured.

CLINC150 (Larson et al. 2019) has 150 intents and held-out out-of-scope queries. Each seed draws
K examples per intent from ``train``, fits an :class:`IntentClassifier` on them alone, and
classifies ``val`` + ``oos_val`` or ``test`` + ``oos_test``.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from intentmeta.classifier import Encoder, IntentClassifier
from intentmeta.reliability import auroc, expected_calibration_error


@dataclass
class OosSplit:
    """In-scope and out-of-scope messages of one CLINC150 split."""

    texts: list[str]  # in-scope messages
    labels: list[str]  # their intents
    oos_texts: list[str]  # messages that fit no intent


def load_clinc150(path: str | Path, split: str) -> tuple[OosSplit, dict[str, list[str]]]:
    """Read CLINC150's ``data_full.json`` (a file or the folder holding it).

    Args:
        path: ``data_full.json`` or its directory.
        split: ``"val"`` or ``"test"``.

    Returns:
        The split, and the training examples grouped by intent.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "data_full.json"
    data = json.loads(path.read_text())
    train: dict[str, list[str]] = {}
    for text, intent in data["train"]:
        train.setdefault(intent, []).append(text)
    items = data[split]
    return (
        OosSplit(
            [t for t, _ in items], [i for _, i in items], [t for t, _ in data[f"oos_{split}"]]
        ),
        train,
    )


class CachedEncoder:
    """Wraps an encoder and remembers every text it has encoded (benchmarks re-use texts).

    Example:
        >>> from intentmeta.encoder import shared_encoder
        >>> encoder = CachedEncoder(shared_encoder())  # doctest: +SKIP
    """

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self.name = encoder.name
        self.dim = encoder.dim
        self.cache: dict[str, torch.Tensor] = {}

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> torch.Tensor:
        """``(len(texts), dim)`` embeddings, encoding only the texts not seen before."""
        missing = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if missing:
            rows = self.encoder.encode(missing, progress=progress)  # (n_missing, dim)
            self.cache.update(zip(missing, rows, strict=True))
        if not texts:
            return torch.empty(0, self.dim)
        return torch.stack([self.cache[t] for t in texts])  # (n, dim)


@dataclass
class OosRun:
    """What one seed measured (rates in ``[0, 1]``), plus per-message details for plots."""

    in_scope_accuracy: float
    oos_recall: float
    oos_precision: float
    auroc: float
    ece: float
    confidence: torch.Tensor = field(repr=False)  # (n,) every message's confidence
    correct: torch.Tensor = field(repr=False)  # (n,) whether each answer was right
    margin: torch.Tensor = field(repr=False)  # (n,) similarity - threshold of the best intent
    gap: torch.Tensor = field(repr=False)  # (n,) best - second-best prototype similarity
    is_oos: torch.Tensor = field(repr=False)  # (n,) whether each message is out of scope


def run_seed(
    encoder: Encoder,
    split: OosSplit,
    train: dict[str, list[str]],
    shots: int,
    seed: int,
    threshold: float | str | None = "auto",
) -> OosRun:
    """Fit a classifier on ``shots`` examples per intent and measure rejection on ``split``."""
    rng = random.Random(seed)
    texts, labels = [], []
    for intent in sorted(train):
        chosen = rng.sample(train[intent], min(shots, len(train[intent])))
        texts += chosen
        labels += [intent] * len(chosen)
    clf = IntentClassifier(encoder=encoder, oos_threshold=threshold).fit(texts, labels)
    queries = split.texts + split.oos_texts
    predictions = clf.classify_batch(queries)
    with torch.inference_mode():
        embedded = encoder.encode(queries)  # (n, dim)
        head_labels = clf.head.classes.tolist()
        best = clf.head(embedded).argmax(dim=1)  # (n,)
        _, margin, gap = clf.oos.margins(embedded, head_labels, best)
    truth = split.labels + [None] * len(split.oos_texts)
    is_oos = torch.tensor([t is None for t in truth])
    rejected = torch.tensor([p.is_out_of_scope for p in predictions])
    correct = torch.tensor([p.intent == t for p, t in zip(predictions, truth, strict=True)])
    confidence = torch.tensor([p.confidence for p in predictions])
    n_rejected = int(rejected.sum())
    return OosRun(
        in_scope_accuracy=float(correct[~is_oos].float().mean()),
        oos_recall=float(rejected[is_oos].float().mean()),
        oos_precision=float((rejected & is_oos).sum()) / n_rejected if n_rejected else math.nan,
        auroc=auroc(-margin, is_oos),
        ece=expected_calibration_error(confidence, correct),
        confidence=confidence,
        correct=correct,
        margin=margin,
        gap=gap,
        is_oos=is_oos,
    )


def mean_and_ci(values: Sequence[float]) -> tuple[float, float]:
    """Mean and half-width of its 95% Student-t confidence interval."""
    from scipy import stats

    tensor = torch.tensor(list(values), dtype=torch.float64)
    if len(values) < 2:
        return float(tensor.mean()), math.nan
    half = stats.t.ppf(0.975, len(values) - 1) * float(tensor.std()) / math.sqrt(len(values))
    return float(tensor.mean()), float(half)


def summarise(runs: Sequence[OosRun]) -> dict[str, dict[str, float]]:
    """``{metric: {"mean", "ci95"}}`` over seeds, rates in percent and AUROC/ECE as fractions."""
    summary = {}
    for metric, scale in [
        ("in_scope_accuracy", 100),
        ("oos_recall", 100),
        ("oos_precision", 100),
        ("auroc", 1),
        ("ece", 1),
    ]:
        mean, half = mean_and_ci([getattr(r, metric) * scale for r in runs])
        summary[metric] = {"mean": mean, "ci95": half}
    return summary
