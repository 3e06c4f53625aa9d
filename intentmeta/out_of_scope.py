"""Out-of-scope rejection and one calibrated probability per answer: when a message fits no intent.

The decision reads the *raw* encoder embeddings, never the head's scores, so a new or meta-trained
head changes which intent wins but not what "out of scope" means. The rule itself
(:mod:`intentmeta.rejection_rule`) reads every cosine on the registry's own scale; this module
keeps the statistics it needs, per intent and updated per edit:

- the sum, count and norm of the intent's example embeddings (its mean pairwise cosine follows
  from them, with no leave-one-out vectors);
- the cosine of its prototype to the nearest other intent's prototype (kept incrementally: an
  edit costs one ``(n_intents, dim)`` product).

``"auto"`` answers with the most probable of "out of scope" and the head's winner; a float
threshold rejects a message whose cosine to the winner's prototype is below it; ``None`` never
rejects. :meth:`OutOfScopeDetector.calibrate` re-fits the out-of-scope probability on a team's
own labelled traffic. This module knows nothing of the classifier: it takes intent labels,
embeddings and similarities, and returns decisions as tensors.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from intentmeta.intent_statistics import IntentStatistics
from intentmeta.rejection_rule import (
    RegistryScale,
    RejectionRule,
    answer_distribution,
    effective_thresholds,
    expected_similarity,
    linear_probabilities,
    registry_scale,
)
from intentmeta.rule_provenance import warn_outside_provenance


@dataclass(frozen=True)
class Decisions:
    """What the detector decided for a batch of messages.

    Attributes:
        rejected: ``(n_query,)`` whether each message is out of scope.
        confidence: ``(n_query,)`` probability that each answer (intent or out of scope) is
            right; the largest entry of ``probabilities`` under ``"auto"``.
        similarity: ``(n_query,)`` cosine similarity to the chosen intent's prototype.
        probabilities: ``(n_query, k + 1)`` probability of each listed intent (the head's top
            ``k``, best first), then of "out of scope"; ``(n_query, k)`` without rejection.
    """

    rejected: torch.Tensor
    confidence: torch.Tensor
    similarity: torch.Tensor
    probabilities: torch.Tensor


class OutOfScopeDetector:
    """Decides from raw-embedding similarities whether a message fits no intent, and how sure to be.

    Intents are known by integer labels; every method taking ``labels`` means "one column per
    label, in this order", matching the ``similarity`` columns it is given.

    Args:
        threshold: ``"auto"`` (the rule), a float cosine threshold, or ``None`` (never reject).
        rule: The rule's weights and provenance; ``None`` uses the one shipped for ``encoder``
            (:meth:`RejectionRule.for_encoder`: the off-the-shelf MiniLM's for an encoder
            without one of its own).
        encoder: Name of the encoder the embeddings come from (chooses the shipped rule; checked
            against the rule's provenance).

    Example:
        >>> detector = OutOfScopeDetector(0.5)
        >>> detector.set_intent(0, torch.tensor([[1.0, 0.0], [0.9, 0.1]]))
        >>> chosen = torch.tensor([0.2, 0.95])  # (n_query,) cosines to the chosen prototypes
        >>> runner_up = torch.full((2,), -math.inf)  # no other intent
        >>> detector.decide(chosen, runner_up, [0, 0]).rejected.tolist()
        [True, False]
    """

    def __init__(
        self,
        threshold: float | str | None = "auto",
        rule: RejectionRule | None = None,
        encoder: str = "",
    ) -> None:
        self.threshold = threshold
        self._rule = rule or RejectionRule.for_encoder(encoder)
        self.encoder = encoder
        self.adjustment = (1.0, 0.0)  # set by calibrate(): p_oos logit -> a * logit + b
        # Per-intent sums, counts, prototypes, nearest-other cosines: stacked, by intent label
        # (which survives renames); created with the first intent, which gives the dimension.
        self.statistics: IntentStatistics | None = None
        # Derived lazily and dropped on every change: expected cosine of each row, the scale.
        self._scale: RegistryScale | None = None
        self._columns: torch.Tensor | None = None
        self._folded: tuple[tuple[float, float], torch.Tensor] | None = None  # (adjustment, rule)
        self._warned: set[str] = set()  # kinds of provenance warning given (once each)

    @property
    def reads_nearest_example(self) -> bool:
        """Whether decisions read the chosen intent's nearest example (``"auto"`` with a rule
        that weighs it): the caller measures it only then."""
        return self.threshold == "auto" and any(self.rule.nearest_weights)

    @property
    def rule(self) -> RejectionRule:
        """The rule's weights and provenance; setting one (e.g. refitted for another encoder)
        takes effect on the next message and is saved with the registry."""
        return self._rule

    @rule.setter
    def rule(self, rule: RejectionRule) -> None:
        self._rule = rule
        self._warned = set()
        self._invalidate()

    # ----------------------------------------------------------------------------- intents
    def reset(self, intents: Mapping[int, torch.Tensor]) -> None:
        """Replace every intent: ``{label: (n_examples, dim) embeddings}``."""
        dim = next(iter(intents.values())).shape[1] if intents else 0
        self.statistics = IntentStatistics(dim)
        self.statistics.reset(intents)
        self._invalidate()

    def set_intent(self, label: int, embeddings: torch.Tensor) -> None:
        """Store (or replace) one intent's statistics from its ``(n, dim)`` embeddings.

        One ``(n_intents, dim)`` product updates every intent's nearest other prototype.
        """
        if self.statistics is None:
            self.statistics = IntentStatistics(embeddings.shape[1])
        self.statistics.set(label, embeddings)
        self._invalidate()

    def remove_intent(self, label: int) -> None:
        """Forget one intent."""
        if self.statistics is not None and label in self.statistics.slot_of:
            self.statistics.remove(label)
        self._invalidate()

    def _invalidate(self) -> None:
        self._scale = None
        self._columns = None
        self._folded = None

    # ----------------------------------------------------------------------------- statistics
    def _global(self) -> tuple[torch.Tensor, RegistryScale]:
        """``(n_intents,)`` expected own-message cosine of each statistics row, and the
        registry's scale.

        Recomputed lazily after an edit, from the stacked statistics: ``O(n_intents * dim)``
        tensor work, no Python loop over intents.
        """
        if self._columns is None:
            table = self.statistics
            totals, counts = table.totals, table.counts  # (n, dim), (n,)
            expected, fell_back = expected_similarity(
                totals, counts, self.rule.shrinkage, self.rule.fallback_pairwise
            )
            self._scale = registry_scale(
                expected, table.nearest, totals, counts, self.rule.fallback_spread, fell_back
            )
            self._columns = expected
            self._check_provenance(float(counts.float().mean()))
        assert self._scale is not None
        return self._columns, self._scale

    def _linear_logits(self, adjustment: tuple[float, float]) -> torch.Tensor:
        """``(n_intents, 2, 4)`` the rule folded per statistics row (``linear_logits``), kept
        until the next edit or another calibration."""
        expected, scale = self._global()
        if self._folded is None or self._folded[0] != adjustment:
            folded = self.rule.linear_logits(expected, self.statistics.counts, scale, adjustment)
            self._folded = (adjustment, folded)
        return self._folded[1]

    def scale(self) -> RegistryScale:
        """The registry's cosine scale (see :mod:`intentmeta.rejection_rule`)."""
        return self._global()[1]

    def _check_provenance(self, mean_examples: float) -> None:
        # Only "auto" decides by the rule (None never rejects, a float compares the cosine);
        # the probabilities reported under those read it too, but nothing can calibrate them.
        if self.threshold == "auto":
            assert self._scale is not None
            reasons = self.rule.outside_provenance(self._scale, mean_examples, self.encoder)
            warn_outside_provenance(reasons, self._warned, stacklevel=5)

    def thresholds(self, labels: Sequence[int]) -> torch.Tensor:
        """``(n,)`` effective cosine below which a message matched to each intent is rejected.

        Under ``"auto"`` for a clear match (runner-up at the registry's cross level; a closer
        runner-up raises the bar); a float threshold is the same for all; ``None`` gives minus
        infinity.
        """
        if self.threshold is None:
            return torch.full((len(labels),), -math.inf)
        if isinstance(self.threshold, (int, float)):
            return torch.full((len(labels),), float(self.threshold))
        folded = self._linear_logits(self.adjustment)[self.statistics.slots(labels)]
        scale = self.scale()
        return effective_thresholds(folded, scale.cross, self.rule.nearest_offset * scale.spread)

    # ----------------------------------------------------------------------------- deciding
    def evidence(
        self,
        chosen: torch.Tensor,
        runner_up: torch.Tensor,
        labels: Sequence[int],
        nearest: torch.Tensor | None = None,
        adjustment: tuple[float, float] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """What the rule reads, and the two probabilities it gives.

        Args:
            chosen: ``(n_query,)`` cosine of each raw query embedding to its chosen intent's
                prototype.
            runner_up: ``(n_query,)`` its best cosine to any other intent's prototype
                (``-inf`` when there is no other intent).
            labels: The chosen intent's label, one per query.
            nearest: ``(n_query,)`` cosine to the chosen intent's nearest example; ``None``
                takes it at the rule's mean nearness.
            adjustment: Calibration of the out-of-scope log-odds; ``None``: the current one.

        Returns:
            ``(n_query,)`` cosine to the chosen prototype, probability that the message is out
            of scope, and probability that the chosen intent is right if it is in scope.
        """
        coefficients = self._linear_logits(self.adjustment if adjustment is None else adjustment)
        assert self._scale is not None
        if self._scale.n_intents < 2:  # no other intent: the runner-up is a neighbour's level
            runner_up = torch.full_like(runner_up, self._scale.cross)
        if nearest is None:
            nearest = self.rule.typical_nearest(chosen, self._scale.spread)
        rows = coefficients[self.statistics.slots(labels)]  # (n_query, 2, 4)
        p_oos, q = linear_probabilities(rows, chosen, runner_up, nearest)
        return chosen, p_oos, q

    def decide(
        self,
        chosen: torch.Tensor,
        runner_up: torch.Tensor,
        labels: Sequence[int],
        nearest: torch.Tensor | None = None,
        head_top: torch.Tensor | None = None,
    ) -> Decisions:
        """Reject or accept each query's chosen intent, with one probability per answer.

        Args:
            chosen: ``(n_query,)`` cosines of the raw queries to their chosen prototypes.
            runner_up: ``(n_query,)`` their best cosines to any other prototype.
            labels: The chosen intent's label, one per query.
            nearest: ``(n_query,)`` cosines to the chosen intent's nearest example (``None``:
                at the rule's mean nearness).
            head_top: ``(n_query, k)`` the head's softmax probabilities of its top ``k``
                intents, best (the chosen one) first; ``None`` lists the chosen intent only.
        """
        chosen, p_oos, q = self.evidence(chosen, runner_up, labels, nearest=nearest)
        if head_top is None:
            head_top = torch.ones(len(chosen), 1)
        if self.threshold is None:
            probabilities = answer_distribution(torch.zeros_like(p_oos), q, head_top)[:, :-1]
            rejected = torch.zeros_like(chosen, dtype=torch.bool)
            return Decisions(rejected, probabilities[:, 0], chosen, probabilities)
        probabilities = answer_distribution(p_oos, q, head_top)  # (n_query, k + 1)
        if self.threshold == "auto":
            rejected = probabilities[:, -1] > probabilities[:, 0]
        else:
            rejected = chosen < float(self.threshold)
        confidence = torch.where(rejected, probabilities[:, -1], probabilities[:, 0])
        return Decisions(rejected, confidence, chosen, probabilities)

    # ----------------------------------------------------------------------------- tuning
    def leave_one_out(self, label: int, embeddings: torch.Tensor) -> torch.Tensor:
        """``(n,)`` cosine of each of an intent's examples to the prototype of the others."""
        units = F.normalize(embeddings.float(), dim=1)  # (n, dim)
        total = self.statistics.totals[self.statistics.slot_of[label]]  # (dim,)
        others = F.normalize(total[None, :] - units, dim=1)  # (n, dim)
        return (units * others).sum(dim=1)

    def out_of_scope_logits(
        self,
        chosen: torch.Tensor,
        runner_up: torch.Tensor,
        labels: Sequence[int],
        nearest: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``(n_query,)`` log-odds of out of scope before any calibration."""
        p_oos = self.evidence(chosen, runner_up, labels, nearest, adjustment=(1.0, 0.0))[1]
        return p_oos.double().clamp(1e-12, 1 - 1e-12).logit().float()

    def calibrate(self, in_scope: torch.Tensor, out_of_scope: torch.Tensor) -> dict[str, float]:
        """Re-fit the out-of-scope probability on labelled traffic (Platt scaling).

        ``p_oos = sigmoid(a * logit + b)`` with ``(a, b)`` maximising the likelihood of the
        labels, the in-scope and out-of-scope messages weighted as given (their share in the
        data is taken as the traffic's).

        Args:
            in_scope: ``(n,)`` uncalibrated log-odds (:meth:`out_of_scope_logits`) of messages
                that belong to some intent.
            out_of_scope: ``(m,)`` those of messages that fit none.

        Returns:
            ``{"scale", "offset"}``: the fitted ``a`` and ``b``.
        """
        logits = torch.cat([in_scope, out_of_scope]).double()  # (n + m,)
        target = torch.cat([torch.zeros(len(in_scope)), torch.ones(len(out_of_scope))]).double()
        params = torch.tensor([1.0, 0.0], dtype=torch.float64, requires_grad=True)
        optimiser = torch.optim.LBFGS([params], max_iter=100, line_search_fn="strong_wolfe")

        def loss() -> torch.Tensor:
            optimiser.zero_grad()
            value = F.binary_cross_entropy_with_logits(params[0] * logits + params[1], target)
            value = value + 1e-4 * (params[0] - 1) ** 2  # keeps a finite slope on separable data
            value.backward()
            return value

        with torch.enable_grad():
            optimiser.step(loss)
        self.adjustment = (float(params[0].detach()), float(params[1].detach()))
        self._invalidate()
        return {"scale": self.adjustment[0], "offset": self.adjustment[1]}

    @property
    def expected_share(self) -> float | None:
        """The out-of-scope share of traffic the probability is set for: the rule's own prior,
        or the share given to :meth:`expect_share`; ``None`` after a calibration on labelled
        messages (which changes more than the share) or for a rule that records no prior."""
        prior = self.rule.provenance.get("out_of_scope_prior")
        scale, offset = self.adjustment
        if prior is None or scale != 1.0:
            return None
        return 1 / (1 + (1 - prior) / prior * math.exp(-offset))

    def expect_share(self, share: float) -> dict[str, float]:
        """Move the out-of-scope probability to a traffic whose out-of-scope share is ``share``.

        The rule was fitted with its messages weighted to ``provenance["out_of_scope_prior"]``;
        Bayes' rule moves its log-odds by ``logit(share) - logit(prior)`` for another share
        (no labelled message needed). Replaces any calibration.

        Returns:
            ``{"scale", "offset"}``: the map now applied to the out-of-scope log-odds.

        Raises:
            ValueError: If ``share`` is not strictly between 0 and 1, or the rule does not
                record the share it was fitted for.
        """
        prior = self.rule.provenance.get("out_of_scope_prior")
        if not isinstance(share, (int, float)) or not 0 < share < 1:
            raise ValueError(
                f"the out-of-scope share must lie strictly between 0 and 1, not {share!r}"
            )
        if prior is None:
            raise ValueError("this rule does not record the out-of-scope share it was fitted for")
        self.adjustment = (1.0, math.log(share / (1 - share)) - math.log(prior / (1 - prior)))
        self._invalidate()
        return {"scale": self.adjustment[0], "offset": self.adjustment[1]}

    # ----------------------------------------------------------------------------- saving
    def state(self) -> dict[str, Any]:
        """JSON-serialisable state saved with the registry: the rule and its provenance."""
        return {
            "threshold": self.threshold,
            "adjustment": list(self.adjustment),
            "rule": self.rule.state(),
        }

    def load_state(self, state: dict[str, Any] | None) -> None:
        """Restore what :meth:`state` returned (per-intent statistics are set separately).

        A registry saved before the rule existed (``"config"`` with a quantile) keeps its
        threshold setting and gets the current rule.
        """
        state = state or {}
        if "rule" in state:
            self.rule = RejectionRule.from_state(state["rule"])
        elif state.get("offset"):
            warnings.warn(
                "this registry was calibrated for the previous out-of-scope rule; its offset "
                "no longer applies: call calibrate() again",
                stacklevel=3,
            )
        scale, offset = state.get("adjustment", (1.0, 0.0))
        self.adjustment = (float(scale), float(offset))
        self._invalidate()
