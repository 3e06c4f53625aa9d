"""The one confidence-interval helper every research figure uses (Student's t, via scipy)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of its two-sided Student-t confidence interval.

    Args:
        values: Independent measurements (one per seed or episode).
        confidence: Coverage of the interval.

    Returns:
        ``(mean, half_width)``; the half-width is NaN for fewer than two values.

    >>> round(mean_ci([1.0, 2.0, 3.0])[1], 4)  # t(0.975, 2) * 1 / sqrt(3)
    2.4841
    >>> mean_ci([84.0, 84.0])
    (84.0, 0.0)
    """
    from scipy import stats

    array = np.asarray(values, dtype=float)
    mean = float(array.mean())
    if array.size < 2:
        return mean, math.nan
    sem = float(stats.sem(array))
    if sem == 0.0:  # identical values: scipy's interval would be NaN
        return mean, 0.0
    low, _ = stats.t.interval(confidence, df=array.size - 1, loc=mean, scale=sem)
    return mean, float(mean - low)


def summary(values: Sequence[float]) -> dict:
    """``{"mean", "ci95", "values"}``; ``ci95`` is ``None`` for fewer than two values.

    >>> summary([80.0, 82.0])["mean"]
    81.0
    """
    mean, half = mean_ci(values)
    return {"mean": mean, "ci95": None if math.isnan(half) else half, "values": list(values)}
