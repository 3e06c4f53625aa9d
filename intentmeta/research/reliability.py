"""How far to trust a confidence: expected calibration error, reliability diagrams, AUROC."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch


@dataclass
class ReliabilityBins:
    """Predictions grouped by confidence into equal-width bins over ``[0, 1]``.

    Attributes:
        edges: ``(n_bins + 1,)`` bin edges; bin ``b`` holds confidences in
            ``(edges[b], edges[b+1]]``
            (the first bin also holds 0).
        counts: ``(n_bins,)`` predictions per bin.
        confidence: ``(n_bins,)`` mean confidence per bin (0 where empty).
        accuracy: ``(n_bins,)`` share right per bin (0 where empty).
    """

    edges: torch.Tensor
    counts: torch.Tensor
    confidence: torch.Tensor
    accuracy: torch.Tensor


def reliability_bins(
    confidence: torch.Tensor, correct: torch.Tensor, n_bins: int = 15
) -> ReliabilityBins:
    """Group predictions by confidence.

    Args:
        confidence: ``(n,)`` probabilities in ``[0, 1]``.
        correct: ``(n,)`` booleans, whether each prediction was right.
        n_bins: Number of equal-width bins.

    Returns:
        The bins' counts, mean confidences and accuracies.
    """
    confidence = confidence.double().clamp(0.0, 1.0)
    edges = torch.linspace(0.0, 1.0, n_bins + 1, dtype=torch.float64)
    index = (torch.bucketize(confidence, edges, right=False) - 1).clamp(0, n_bins - 1)  # (n,)
    counts = torch.bincount(index, minlength=n_bins)  # (n_bins,)
    denominator = counts.clamp(min=1).double()
    sums = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, index, confidence)
    hits = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, index, correct.double())
    return ReliabilityBins(edges, counts, sums / denominator, hits / denominator)


def expected_calibration_error(
    confidence: torch.Tensor, correct: torch.Tensor, n_bins: int = 15
) -> float:
    """ECE: the count-weighted mean gap between confidence and accuracy over confidence bins.

    Guo et al. 2017, "On Calibration of Modern Neural Networks" (15 equal-width bins).

    Args:
        confidence: ``(n,)`` probabilities in ``[0, 1]``.
        correct: ``(n,)`` booleans.
        n_bins: Number of equal-width bins.

    Returns:
        A value in ``[0, 1]``; 0 is perfectly calibrated.

    Example:
        >>> ece = expected_calibration_error(torch.tensor([0.8, 0.8]), torch.tensor([True, False]))
        >>> round(ece, 6)
        0.3
    """
    if confidence.numel() == 0:
        raise ValueError("no predictions to calibrate")
    bins = reliability_bins(confidence, correct, n_bins)
    weights = bins.counts.double() / confidence.numel()  # (n_bins,)
    return float((weights * (bins.confidence - bins.accuracy).abs()).sum())


def auroc(scores: torch.Tensor, positive: torch.Tensor) -> float:
    """Area under the ROC curve: chance that a random positive scores above a random negative.

    Ties count one half (the Mann-Whitney U statistic).

    Args:
        scores: ``(n,)`` higher means more likely positive.
        positive: ``(n,)`` booleans.

    Returns:
        A value in ``[0, 1]``.
    """
    positive = positive.bool()
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUROC needs both positives and negatives")
    order = scores.double().argsort()
    sorted_scores = scores.double()[order]
    ranks = torch.empty_like(sorted_scores)
    # Tied scores share the mean of their ranks.
    _, inverse, counts = torch.unique(sorted_scores, return_inverse=True, return_counts=True)
    first = torch.cumsum(counts, 0) - counts  # (n_unique,) rank - 1 of each group's first
    mean_rank = first.double() + (counts.double() + 1) / 2  # (n_unique,)
    ranks[order] = mean_rank[inverse]
    u = float(ranks[positive].sum()) - n_pos * (n_pos + 1) / 2
    return u / (n_pos * n_neg)


def plot_reliability_diagram(
    confidence: torch.Tensor,
    correct: torch.Tensor,
    path: str | os.PathLike,
    n_bins: int = 15,
    title: str = "Reliability diagram",
) -> None:
    """Draw accuracy against confidence per bin, with the diagonal, and save a PNG.

    Args:
        confidence: ``(n,)`` probabilities.
        correct: ``(n,)`` booleans.
        path: Where to write the image.
        n_bins: Number of equal-width bins.
        title: Figure title; the ECE is appended.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = reliability_bins(confidence, correct, n_bins)
    ece = expected_calibration_error(confidence, correct, n_bins)
    centres = ((bins.edges[:-1] + bins.edges[1:]) / 2).numpy()
    width = 1.0 / n_bins
    filled = (bins.counts > 0).numpy()
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(5, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    top.bar(centres[filled], bins.accuracy.numpy()[filled], width=width * 0.9, label="accuracy")
    top.plot([0, 1], [0, 1], "k--", linewidth=1, label="perfect calibration")
    top.plot(centres[filled], bins.confidence.numpy()[filled], "r.", label="mean confidence")
    top.set_ylabel("share right")
    top.set_ylim(0, 1)
    top.set_title(f"{title} (ECE {ece:.3f})")
    top.legend(loc="upper left")
    bottom.bar(centres, bins.counts.numpy(), width=width * 0.9, color="grey")
    bottom.set_yscale("log")
    bottom.set_xlabel("confidence")
    bottom.set_ylabel("predictions")
    bottom.set_xlim(0, 1)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
