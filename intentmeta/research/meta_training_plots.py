"""Learning curves of a meta-training run as a PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class History(Protocol):
    """What a plot reads from a run's history (``meta_training.TrainHistory`` has it all).

    Typed structurally so this module needs nothing from ``meta_training``: no import circle.
    """

    steps: list[int]
    loss: list[float]
    accuracy: list[float]
    validation_steps: list[int]
    validation_accuracy: list[float]
    best_step: int


def smooth(values: list[float], window: int) -> list[float]:
    """Trailing moving average, so noisy per-episode curves stay readable.

    >>> smooth([0.0, 2.0, 4.0], 2)
    [0.0, 1.0, 3.0]
    """
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def plot_history(history: History, path: str | Path) -> Path:
    """Plot training loss, training accuracy and validation accuracy against episodes.

    Args:
        history: A run's history.
        path: PNG file to write.

    Returns:
        The PNG's path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    window = max(1, len(history.steps) // 50)
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 4))
    loss_axis.plot(history.steps, smooth(history.loss, window))
    loss_axis.set(xlabel="episode", ylabel="loss", title="training loss")
    accuracy_axis.plot(history.steps, smooth(history.accuracy, window), label="training episodes")
    if history.validation_steps:
        accuracy_axis.plot(
            history.validation_steps, history.validation_accuracy, "o-", label="validation"
        )
        accuracy_axis.axvline(
            history.best_step, color="grey", linestyle=":", label="best validation"
        )
    accuracy_axis.set(xlabel="episode", ylabel="query accuracy", title="accuracy")
    accuracy_axis.legend()
    return save_figure(figure, path)


def save_figure(figure, path: str | Path) -> Path:
    """Lay out, write (100 dpi) and close a matplotlib figure; return where it went."""
    import matplotlib.pyplot as plt

    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
