"""A registry's own cosine scale: what the out-of-scope rule measures before reading a cosine.

Cosines mean different things in different places (another encoder, 300 neighbouring intents or
five unrelated ones), so :mod:`intentmeta.rejection_rule` reads every cosine relative to:

- ``expected`` (per intent): the cosine a *new* message of the intent typically has to its
  prototype, from the mean pairwise cosine of its examples (shrunk toward the registry's pooled
  value), corrected for the number of examples;
- ``cross`` (registry): how close a typical example comes to the *nearest other* intent's
  prototype.

The detector keeps the per-intent statistics incrementally (:mod:`intentmeta.intent_statistics`);
:func:`registry_statistics` is their batch form, for fitting and tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class RegistryScale:
    """The registry's own cosine scale (see the module docstring).

    Attributes:
        mean_expected: Mean over intents of the expected own-message cosine.
        cross: Mean over intents of a typical example's cosine to the nearest other prototype.
        n_intents: Number of intents.
        fallbacks: Which statistics came from the rule's provenance (too few intents/examples).
    """

    mean_expected: float
    cross: float
    n_intents: int
    fallbacks: tuple[str, ...] = ()

    @property
    def spread(self) -> float:
        """``mean_expected - cross``, at least 0.01 (cosine units)."""
        return max(self.mean_expected - self.cross, 0.01)


def expected_similarity(
    sums: torch.Tensor, counts: torch.Tensor, shrinkage: float, fallback_pairwise: float
) -> tuple[torch.Tensor, bool]:
    """``(n_intents,)`` expected cosine of a new own message to each intent's prototype.

    With ``n`` unit examples of mean pairwise cosine ``rho`` summing to ``S``, a new message
    with the same cosine ``rho`` to each example has cosine ``n * rho / |S|`` to the prototype.
    ``rho`` is shrunk toward the pooled value over all intents by ``shrinkage`` pseudo-pairs.

    Args:
        sums: ``(n_intents, dim)`` sums of the (unit) example embeddings.
        counts: ``(n_intents,)`` examples per intent.
        shrinkage: Pseudo-pairs of the pooled value.
        fallback_pairwise: Pooled value when no intent has two examples.

    Returns:
        The expectations, and whether the fallback was used.
    """
    counts = counts.float()
    squared = (sums * sums).sum(dim=1)  # (n_intents,) |S|^2
    pairs = counts * (counts - 1) / 2
    within = (squared - counts) / 2  # sum of the pairwise cosines
    use_fallback = bool(pairs.sum() == 0)
    pooled = fallback_pairwise if use_fallback else float(within.sum() / pairs.sum())
    rho = (within + shrinkage * pooled) / (pairs + shrinkage)
    return counts * rho / squared.sqrt().clamp(min=1e-12), use_fallback


def registry_scale(
    expected: torch.Tensor,
    nearest_other: torch.Tensor,
    sums: torch.Tensor,
    counts: torch.Tensor,
    fallback_spread: float,
    fell_back: bool = False,
) -> RegistryScale:
    """The registry's scale from per-intent statistics.

    Args:
        expected: ``(n_intents,)`` from :func:`expected_similarity`.
        nearest_other: ``(n_intents,)`` cosine of each prototype to its nearest other one
            (NaN with a single intent).
        sums: ``(n_intents, dim)`` sums of example embeddings.
        counts: ``(n_intents,)`` examples per intent.
        fallback_spread: ``mean_expected - cross`` used with a single intent.
        fell_back: Whether ``expected`` used the pooled-cosine fallback.
    """
    mean_expected = float(expected.mean())
    fallbacks = ("examples",) if fell_back else ()
    if len(counts) < 2 or bool(nearest_other.isnan().all()):
        return RegistryScale(
            mean_expected, mean_expected - fallback_spread, len(counts), (*fallbacks, "intents")
        )
    # A prototype-to-prototype cosine, scaled down to a typical example's: |S| / n.
    per_example = sums.norm(dim=1) / counts.float()  # (n_intents,)
    cross = float((nearest_other * per_example).mean())
    if math.isnan(cross):
        cross = mean_expected - fallback_spread
    return RegistryScale(mean_expected, cross, len(counts), fallbacks)


def registry_statistics(
    embeddings: torch.Tensor, labels: torch.Tensor, n_intents: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-intent sums, counts and nearest-other-prototype cosines of a whole registry at once.

    The detector keeps the same statistics incrementally; this batch form is what fitting and
    tests use.

    Args:
        embeddings: ``(n_examples, dim)`` unit example embeddings.
        labels: ``(n_examples,)`` intent index of each, in ``[0, n_intents)``.
        n_intents: Number of intents.

    Returns:
        ``(n_intents, dim)`` sums, ``(n_intents,)`` counts and ``(n_intents,)`` nearest-other
        cosines (NaN for a single intent).
    """
    sums = torch.zeros(n_intents, embeddings.shape[1]).index_add_(0, labels, embeddings.float())
    counts = torch.bincount(labels, minlength=n_intents)
    prototypes = torch.nn.functional.normalize(sums, dim=1)  # (n_intents, dim)
    between = prototypes @ prototypes.T  # (n_intents, n_intents)
    between.fill_diagonal_(-math.inf)
    nearest = between.max(dim=1).values if n_intents > 1 else torch.full((1,), math.nan)
    return sums, counts, nearest
