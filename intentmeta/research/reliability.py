"""How far to trust a confidence: expected calibration error, reliability diagrams, AUROC."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class ReliabilityBins:
    """Predictions grouped by confidence into equal-width bins over ``[0, 1]``.

    Attributes:
        edges: ``(n_bins + 1,)`` bin edges; bin ``b`` holds confidences in
            ``(edges[b], edges[b+1]]`` (the first bin also holds 0).
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
    """Group predictions by confidence (scikit-learn's ``calibration_curve``, uniform bins).

    Args:
        confidence: ``(n,)`` probabilities in ``[0, 1]``.
        correct: ``(n,)`` booleans, whether each prediction was right.
        n_bins: Number of equal-width bins.

    Returns:
        The bins' counts, mean confidences and accuracies.
    """
    from sklearn.calibration import calibration_curve

    probabilities = confidence.double().clamp(0.0, 1.0).numpy()
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # calibration_curve returns the non-empty bins only; this is its own bin rule, for counts.
    counts = np.bincount(np.searchsorted(edges[1:-1], probabilities), minlength=n_bins)
    accuracy, mean_confidence = np.zeros(n_bins), np.zeros(n_bins)
    if len(probabilities):
        filled = counts > 0
        accuracy[filled], mean_confidence[filled] = calibration_curve(
            correct.numpy().astype(int), probabilities, n_bins=n_bins, strategy="uniform"
        )
    return ReliabilityBins(
        torch.from_numpy(edges),
        torch.from_numpy(counts),
        torch.from_numpy(mean_confidence),
        torch.from_numpy(accuracy),
    )


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
    """Area under the ROC curve (scikit-learn's ``roc_auc_score``; ties count one half).

    Args:
        scores: ``(n,)`` higher means more likely positive.
        positive: ``(n,)`` booleans.

    Returns:
        A value in ``[0, 1]``: the chance that a random positive scores above a random negative.

    >>> auroc(torch.tensor([0.9, 0.4, 0.4, 0.1]), torch.tensor([True, True, False, False]))
    0.875
    """
    from sklearn.metrics import roc_auc_score

    positive = positive.bool()
    if bool(positive.all()) or not bool(positive.any()):
        raise ValueError("AUROC needs both positives and negatives")
    return float(roc_auc_score(positive.numpy(), scores.double().numpy()))


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
