"""The out-of-scope rule: registry statistics in, one probability per answer out.

Cosines mean different things in different places: an intent's examples may sit at 0.7 from its
prototype under one encoder and 0.9 under another, and a registry of 300 neighbouring banking
intents leaves less room than five unrelated ones. So the rule never compares a raw cosine with a
constant. It measures the registry first:

- ``expected`` (per intent): the cosine a *new* message of the intent typically has to its
  prototype, from the mean pairwise cosine of its examples (shrunk toward the registry's pooled
  value, so 3 examples are not trusted blindly), corrected for the number of examples;
- ``cross`` (registry): how close a typical example comes to the *nearest other* intent's
  prototype, i.e. how similar a message that is not of an intent looks to it.

Every cosine is then read on the registry's own scale, ``(cosine - cross) / (expected - cross)``
(0: as close as a neighbouring intent's message, 1: as close as a typical own message). Besides
the winner's prototype, the rule reads the winner's *nearest example*: a terse message that
matches one phrasing closely is in scope even when the average of the intent's examples is far.
Two logistic models meta-learned over open-intent episodes (known intents from K examples, the other
intents' messages out of scope) turn the features into probabilities:

- ``p_oos``: the message fits none of the intents;
- ``q``: the head's winner is right, given the message is in scope.

The answer is the most probable of "out of scope" (``p_oos``) and the winner
(``(1 - p_oos) * q``); its probability is the confidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from intentmeta.registry_scale import (
    RegistryScale,
    expected_similarity,
    registry_scale,
    registry_statistics,
)

__all__ = [
    "DEFAULT_PROVENANCE",
    "RegistryScale",
    "RejectionRule",
    "answer_distribution",
    "effective_thresholds",
    "expected_similarity",
    "linear_probabilities",
    "registry_scale",
    "registry_statistics",
]

#: Where the default weights come from (saved with every registry, checked by the warning).
DEFAULT_PROVENANCE: dict[str, Any] = {
    "encoder": "sentence-transformers/all-MiniLM-L6-v2",
    "head": "prototypical",
    "data": ["banking77", "clinc150"],
    "split": "val (CLINC150 val + oos_val; BANKING77 30% of train held out)",
    "known_ratios": [0.25, 0.5, 0.75, 1.0],
    "shots": [3, 20],
    "spread": [0.1332, 0.3044],
    "out_of_scope_prior": 0.4,
    "episodes": 84,
    "date": "2026-11-29",
}


@dataclass
class RejectionRule:
    """Weights of the two logistic models, and where they came from.

    Attributes:
        oos_weights: ``p_oos`` weights of (level, gap, tightness, log examples, level x log
            examples) and the bias; level = ``(cosine - cross) / spread``, gap = (winner -
            runner-up cosine) / spread, tightness = (intent's expected - mean expected) / spread.
        intent_weights: ``q`` weights of (gap, level, log examples) and the bias.
        nearest_weights: ``p_oos`` weights of nearness and of nearness x log examples;
            nearness = (cosine to the winner's nearest example - cosine to its prototype) /
            spread - ``nearest_offset``. Zero in rules fitted before the rule read it.
        nearest_offset: Mean nearness of the messages the rule was fitted on (a message
            without an example measured is taken at it).
        shrinkage: Pseudo-pairs pulling an intent's mean pairwise cosine to the pooled one.
        fallback_pairwise: Pooled pairwise cosine used while no intent has two examples.
        fallback_spread: ``mean_expected - cross`` used while there is a single intent.
        provenance: Encoder, data, splits, ranges of shots / intents / spread it was fitted on,
            and the fallback statistics used where a registry cannot measure its own.
    """

    # Defaults: fitted for the off-the-shelf all-MiniLM-L6-v2 by training/fit_rejection_rule.py;
    # other shipped encoders' rules: RejectionRule.for_encoder (intentmeta/shipped_rules.py).
    oos_weights: tuple[float, float, float, float, float, float] = (
        *(-0.8038, -1.0422, 2.0304),
        *(0.4884, -0.6969, 0.4799),
    )
    intent_weights: tuple[float, float, float, float] = (2.6747, 0.4571, 0.6918, -1.0147)
    nearest_weights: tuple[float, float] = (0.2578, -0.6958)
    nearest_offset: float = 0.0999
    shrinkage: float = 3.0  # pseudo-pairs: 3 examples' worth of pooled evidence
    fallback_pairwise: float = 0.5
    fallback_spread: float = 0.2189
    provenance: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_PROVENANCE))

    # ----------------------------------------------------------------------------- features
    @staticmethod
    def features(
        chosen: torch.Tensor,
        runner_up: torch.Tensor,
        expected: torch.Tensor,
        examples: torch.Tensor,
        cross: float | torch.Tensor,
        mean_expected: float | torch.Tensor,
        spread: float | torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(n, 5)`` features of ``p_oos`` and ``(n, 3)`` of ``q`` (scale terms may be
        per-message tensors, as when fitting over many registries at once)."""
        level = (chosen - cross) / spread  # (n,)
        gap = (chosen - runner_up) / spread  # (n,)
        tightness = (expected - mean_expected) / spread  # (n,)
        log_examples = examples.float().clamp(min=1).log()  # (n,)
        oos = torch.stack([level, gap, tightness, log_examples, level * log_examples], dim=1)
        return oos, torch.stack([gap, level, log_examples], dim=1)

    @staticmethod
    def nearness(
        chosen: torch.Tensor,
        nearest: torch.Tensor,
        spread: float | torch.Tensor,
        offset: float = 0.0,
    ) -> torch.Tensor:
        """``(n,)`` how much closer a message comes to the winner's nearest example than to its
        prototype, in spreads, minus ``offset``."""
        return (nearest - chosen) / spread - offset

    def probabilities(
        self,
        chosen: torch.Tensor,
        runner_up: torch.Tensor,
        expected: torch.Tensor,
        examples: torch.Tensor,
        scale: RegistryScale,
        adjustment: tuple[float, float] = (1.0, 0.0),
        nearest: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``p_oos`` and ``q`` of each message.

        Args:
            chosen: ``(n,)`` cosine of each message to the winning intent's prototype.
            runner_up: ``(n,)`` cosine to the best other prototype (``scale.cross`` when the
                registry has one intent).
            expected: ``(n,)`` the winning intent's expected own-message cosine.
            examples: ``(n,)`` the winning intent's number of examples.
            scale: The registry's cosine scale.
            adjustment: ``(a, b)`` of a calibration: out-of-scope log-odds ``z`` -> ``a z + b``.
            nearest: ``(n,)`` cosine to the winning intent's nearest example; ``None``: at the
                rule's mean nearness.

        Returns:
            ``(n,)`` probabilities of out of scope and of the winner being right if in scope.
        """
        folded = self.linear_logits(expected, examples, scale, adjustment)
        if nearest is None:
            nearest = self.typical_nearest(chosen, scale.spread)
        return linear_probabilities(folded, chosen, runner_up, nearest)

    def typical_nearest(self, chosen: torch.Tensor, spread: float) -> torch.Tensor:
        """``(n,)`` the nearest-example cosine at which nearness is the rule's mean."""
        return chosen + self.nearest_offset * spread

    def linear_logits(
        self,
        expected: torch.Tensor,
        examples: torch.Tensor,
        scale: RegistryScale,
        adjustment: tuple[float, float] = (1.0, 0.0),
    ) -> torch.Tensor:
        """The rule folded per intent: both log-odds as ``c * a + r * b + e * f + d`` in the
        winner's cosine ``c``, the runner-up's ``r`` and the winner's nearest example's ``e``
        (every feature is linear in them once the intent, hence ``log n``, is known): computed
        once per edit, a message costs one small product.

        Args:
            expected: ``(n,)`` each intent's expected own-message cosine.
            examples: ``(n,)`` each intent's number of examples.
            scale: The registry's cosine scale.
            adjustment: ``(a, b)`` of a calibration of the out-of-scope log-odds.

        Returns:
            ``(n, 2, 4)``: for ``p_oos`` then ``q``, the weights of ``(c, r, e, 1)``.
        """
        w_level, w_gap, w_tight, w_log, w_level_log, w_bias = self.oos_weights
        v_gap, v_level, v_log, v_bias = self.intent_weights
        spread, cross, (scale_by, shift) = scale.spread, scale.cross, adjustment
        log_n = examples.float().clamp(min=1).log()  # (n,)
        tightness = (expected.float() - scale.mean_expected) / spread  # (n,)
        per_level = (w_level + w_level_log * log_n) / spread  # (n,) weight of (c - cross)
        w_near, w_near_log = self.nearest_weights
        nearness_weight = w_near + w_near_log * log_n  # (n,)
        near = nearness_weight / spread  # (n,) weight of (e - c)
        oos_constant = w_tight * tightness + w_log * log_n + w_bias - cross * per_level  # (n,)
        oos_constant = oos_constant - nearness_weight * self.nearest_offset
        intent_constant = v_log * log_n + v_bias - cross * v_level / spread  # (n,)
        ones = torch.ones_like(log_n)
        oos = torch.stack(
            [per_level + w_gap / spread - near, -w_gap / spread * ones, near, oos_constant],
            dim=1,
        )
        oos = oos * scale_by + oos.new_tensor([0.0, 0.0, 0.0, shift])  # (n, 4)
        intent = torch.stack(
            [(v_gap + v_level) / spread * ones, -v_gap / spread * ones, 0 * ones, intent_constant],
            dim=1,
        )  # (n, 4)
        return torch.stack([oos, intent], dim=1)

    @classmethod
    def for_encoder(cls, encoder: str) -> RejectionRule:
        """The rule shipped for ``encoder`` (a registry's encoder name, see
        :mod:`intentmeta.shipped_rules`); any other encoder gets the off-the-shelf MiniLM's,
        whose provenance check warns when the registry's cosine spread is far from it.

        >>> RejectionRule.for_encoder("my-org/my-encoder") == RejectionRule()
        True
        """
        from intentmeta.shipped_rules import shipped_rule_state

        state = shipped_rule_state(encoder)
        return cls.from_state(state) if state is not None else cls()

    # ----------------------------------------------------------------------------- saving
    def state(self) -> dict[str, Any]:
        """JSON-serialisable weights and provenance, saved in the registry."""
        return {
            "oos_weights": list(self.oos_weights),
            "intent_weights": list(self.intent_weights),
            "nearest_weights": list(self.nearest_weights),
            "nearest_offset": self.nearest_offset,
            "shrinkage": self.shrinkage,
            "fallback_pairwise": self.fallback_pairwise,
            "fallback_spread": self.fallback_spread,
            "provenance": self.provenance,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RejectionRule:
        """The rule :meth:`state` described (a state saved before the nearest example was read
        has none: its weight is 0, and the rule decides as it did)."""
        return cls(
            tuple(float(x) for x in state["oos_weights"]),
            tuple(float(x) for x in state["intent_weights"]),
            tuple(float(x) for x in state.get("nearest_weights", (0.0, 0.0))),
            float(state.get("nearest_offset", 0.0)),
            float(state["shrinkage"]),
            float(state["fallback_pairwise"]),
            float(state["fallback_spread"]),
            dict(state.get("provenance", {})),
        )

    def outside_provenance(
        self, scale: RegistryScale, mean_examples: float, encoder: str
    ) -> dict[str, str]:
        """Why this registry is far from what the rule was fitted on: ``{kind: reason}``, empty
        if nothing; the kind (``"shots"``, ``"spread"``, ``"fallback <statistic>"``) names the
        reason without its figures."""
        fitted = self.provenance
        reasons = {
            f"fallback {what}": f"too few {what} to measure: {what} fallback used"
            for what in scale.fallbacks
        }
        shots = fitted.get("shots")
        if shots and not shots[0] / 1.5 <= mean_examples <= shots[1] * 1.5:
            reasons["shots"] = f"{mean_examples:.1f} examples per intent (fitted on {shots})"
        spread = fitted.get("spread")
        if spread and not spread[0] / 2 <= scale.spread <= spread[1] * 2:
            reasons["spread"] = (
                f"cosine spread {scale.spread:.3f} of encoder {encoder!r} (fitted on {spread} "
                f"with {fitted.get('encoder')!r})"
            )
        return reasons


def linear_probabilities(
    coefficients: torch.Tensor,
    chosen: torch.Tensor,
    runner_up: torch.Tensor,
    nearest: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(n,)`` ``p_oos`` and ``(n,)`` ``q`` of messages from the ``(n, 2, 4)`` rows of
    :meth:`RejectionRule.linear_logits` of their winners, their ``(n,)`` cosines to the winner's
    prototype, to the best other one and to the winner's nearest example."""
    inputs = torch.stack([chosen, runner_up, nearest, torch.ones_like(chosen)], dim=1)  # (n, 4)
    logits = (coefficients @ inputs[:, :, None])[:, :, 0]  # (n, 2)
    p_oos, q = torch.sigmoid(logits).unbind(dim=1)
    return p_oos, q


def effective_thresholds(folded: torch.Tensor, cross: float, nearest_shift: float) -> torch.Tensor:
    """``(n,)`` cosine below which a message matched to each intent is rejected, from the
    intents' ``(n, 2, 4)`` rows of :meth:`RejectionRule.linear_logits`.

    Taken with the runner-up at the registry's ``cross`` level (a typical clear match) and the
    nearest example at ``nearest_shift`` above the prototype's cosine (the rule's mean); a
    closer runner-up raises the bar, a closer example lowers it. Found by bisection on the
    decision itself.
    """
    low = torch.full(folded.shape[:1], -1.0)
    high = torch.full(folded.shape[:1], 1.0)
    runner_up = torch.full_like(low, cross)
    for _ in range(30):
        middle = (low + high) / 2
        p_oos, q = linear_probabilities(folded, middle, runner_up, middle + nearest_shift)
        rejected = p_oos > (1 - p_oos) * q
        low = torch.where(rejected, middle, low)
        high = torch.where(rejected, high, middle)
    return high


def answer_distribution(
    p_oos: torch.Tensor, q: torch.Tensor, head_top: torch.Tensor
) -> torch.Tensor:
    """One probability per answer: the listed intents, then "out of scope".

    The winner (column 0 of ``head_top``) gets ``(1 - p_oos) * q``; the other listed intents
    share ``(1 - p_oos) * (1 - q)`` in proportion to the head's probabilities (the unlisted
    ones keep the rest), never above the winner; "out of scope" gets ``p_oos``. With every intent
    listed, each row sums to 1.

    Args:
        p_oos: ``(n,)`` probability of out of scope.
        q: ``(n,)`` probability the winner is right if in scope.
        head_top: ``(n, k)`` the head's softmax probabilities of its top ``k`` intents, best
            first.

    Returns:
        ``(n, k + 1)`` probabilities.

    >>> answer_distribution(torch.tensor([0.2]), torch.tensor([0.5]), torch.tensor([[0.6, 0.4]]))
    tensor([[0.4000, 0.4000, 0.2000]])
    """
    winner = head_top[:, :1]  # (n, 1)
    others = head_top[:, 1:] / (1 - winner).clamp(min=1e-12)  # (n, k-1) shares of the rest
    largest = others.max(dim=1).values if others.shape[1] else torch.zeros_like(q)
    q = torch.maximum(q, largest / (1 + largest))  # keeps the winner on top
    in_scope = 1 - p_oos  # (n,)
    return torch.cat(
        [
            (in_scope * q)[:, None],
            (in_scope * (1 - q))[:, None] * others,
            p_oos[:, None],
        ],
        dim=1,
    )
