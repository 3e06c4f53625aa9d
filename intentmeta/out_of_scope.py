"""Out-of-scope rejection and calibrated confidence: when a message fits no intent.

The decision reads the *raw* encoder embeddings, never the head's scores, so a new or meta-trained
head changes which intent wins but not what "out of scope" means. A message is rejected when its
cosine similarity to the winning intent's prototype (the normalised mean of its examples) is below
that intent's threshold. With ``"auto"`` the thresholds come from the examples alone: each example
is scored against the prototype of the *other* examples of its intent (leave-one-out), and

    threshold(intent) = quantile_q(all leave-one-out similarities)
                        + shift * (mean leave-one-out similarity of the intent - mean over intents)
                        + offset

i.e. one global rule ("reject what is less similar than the 9% least typical examples") nudged
toward each intent's own tightness. Leave-one-out statistics are kept per intent, so adding an
intent costs ``O(n_examples * dim)``; the global quantile is recomputed lazily over all
leave-one-out values (10,000 floats for 1,000 intents of 10 examples).

This module knows nothing of the classifier: it takes intent labels, embeddings and similarities,
and returns decisions as tensors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F


@dataclass
class OutOfScopeConfig:
    """How automatic thresholds and confidences are computed (chosen on CLINC150 ``val``).

    Attributes:
        quantile: Share of the examples' leave-one-out similarities below the global threshold.
        shift: Weight of an intent's own mean leave-one-out similarity in its threshold.
        fallback: Cosine threshold used while no intent has two examples (no leave-one-out).
        accept_weights: Logistic map of an accepted answer: weights of (similarity - threshold)
            and (best - second-best prototype similarity), then the bias.
        reject_weights: Logistic map of a rejection: weight of (threshold - similarity), bias.
        max_gap: Cap on the best-vs-second gap (a lone intent has no runner-up).
    """

    quantile: float = 0.09  # best (in-scope + OOS) on CLINC150 val with in-scope >= 86
    shift: float = 0.25  # tighter intents get stricter thresholds; +1 point accuracy on val
    fallback: float = 0.5  # a typical paraphrase similarity of all-MiniLM-L6-v2
    accept_weights: tuple[float, float, float] = (6.3, 11.6, -0.23)  # fitted on CLINC150 val
    reject_weights: tuple[float, float] = (22.57, -1.32)  # fitted on val, 20% out-of-scope prior
    max_gap: float = 0.5  # beyond this, the runner-up no longer matters


@dataclass
class IntentStats:
    """Leave-one-out statistics of one intent's examples."""

    loo: torch.Tensor  # (n_examples,) leave-one-out similarities; empty for one example
    loo_mean: float  # their mean, NaN for one example (kept as a float: cheap to gather)


def intent_stats(embeddings: torch.Tensor) -> IntentStats:
    """Leave-one-out similarities of one intent's examples.

    Args:
        embeddings: ``(n_examples, dim)`` raw encoder embeddings.
    """
    if embeddings.shape[0] < 2:
        return IntentStats(embeddings.new_empty(0), math.nan)
    total = embeddings.sum(dim=0)  # (dim,)
    others = F.normalize(total - embeddings, dim=1)  # (n_examples, dim) prototype without each
    loo = (F.normalize(embeddings, dim=1) * others).sum(dim=1)  # (n_examples,)
    return IntentStats(loo, float(loo.mean()))


@dataclass(frozen=True)
class Decisions:
    """What the detector decided for a batch of messages.

    Attributes:
        rejected: ``(n_query,)`` whether each message is out of scope.
        confidence: ``(n_query,)`` probability that each answer (intent or out of scope) is right.
        similarity: ``(n_query,)`` cosine similarity to the chosen intent's prototype.
    """

    rejected: torch.Tensor
    confidence: torch.Tensor
    similarity: torch.Tensor


class OutOfScopeDetector:
    """Decides from raw-embedding similarities whether a message fits no intent, and how sure to be.

    ``confidence`` is the probability that the answer is right: for an accepted message, that the
    intent is the correct one; for a rejected message, that it is really out of scope. Both come
    from logistic maps of (similarity - threshold) fitted on CLINC150 ``val`` with out-of-scope
    messages weighted to 20% of the traffic; a different share shifts them.

    Intents are known by integer labels; every method taking ``labels`` means "one column per
    label, in this order", matching the ``similarity`` columns it is given.

    Args:
        threshold: ``"auto"`` derives per-intent thresholds from the examples (see the module
            docstring); a float rejects a message whose cosine similarity to its best intent's
            prototype is below it; ``None`` never rejects.
        config: Quantile, shift and confidence maps of the automatic mode.

    Example:
        >>> detector = OutOfScopeDetector(0.5)
        >>> detector.set_intent(0, torch.tensor([[1.0, 0.0], [0.9, 0.1]]))
        >>> chosen = torch.tensor([0.2, 0.95])  # cosines to the chosen intent's prototype
        >>> no_other = torch.full((2,), -math.inf)  # a single intent: no runner-up
        >>> detector.decide(chosen, no_other, [0, 0]).rejected.tolist()
        [True, False]
    """

    def __init__(
        self, threshold: float | str | None = "auto", config: OutOfScopeConfig | None = None
    ) -> None:
        self.threshold = threshold
        self.config = config or OutOfScopeConfig()
        self.offset = 0.0  # set by calibrate(); moves every automatic threshold
        self._stats: dict[int, IntentStats] = {}  # by intent label, which survives renames
        # Derived lazily and dropped on every change: (quantile, mean of the intents' means),
        # and the automatic thresholds of the last column order asked for.
        self._global: tuple[float, float] | None = None
        self._columns: tuple[Sequence[int], torch.Tensor] | None = None

    # ----------------------------------------------------------------------------- intents
    def reset(self, intents: Mapping[int, torch.Tensor]) -> None:
        """Replace every intent: ``{label: (n_examples, dim) embeddings}``."""
        self._stats = {label: intent_stats(e.float()) for label, e in intents.items()}
        self._invalidate()

    def set_intent(self, label: int, embeddings: torch.Tensor) -> None:
        """Store (or replace) the statistics of one intent from its ``(n, dim)`` embeddings."""
        self._stats[label] = intent_stats(embeddings.float())
        self._invalidate()

    def remove_intent(self, label: int) -> None:
        """Forget one intent."""
        self._stats.pop(label, None)
        self._invalidate()

    def _invalidate(self) -> None:
        self._global = None
        self._columns = None

    # ----------------------------------------------------------------------------- thresholds
    def _global_terms(self) -> tuple[float, float]:
        if self._global is None:
            with_loo = [s for s in self._stats.values() if s.loo.numel()]
            if not with_loo:
                self._global = (self.config.fallback, math.nan)
            else:
                values = torch.cat([s.loo for s in with_loo])  # (n_examples_with_loo,)
                quantile = float(torch.quantile(values, self.config.quantile))
                self._global = (quantile, sum(s.loo_mean for s in with_loo) / len(with_loo))
        return self._global

    def _auto(self, labels: Sequence[int]) -> torch.Tensor:
        """``(n_intents,)`` automatic thresholds, cached until the next change."""
        cached = self._columns
        # The caller passes the same sequence object until its intents change: O(1) per message.
        if cached is None or (cached[0] is not labels and list(cached[0]) != list(labels)):
            quantile, mean_of_means = self._global_terms()
            shifts = torch.tensor(
                [self._stats[label].loo_mean - mean_of_means for label in labels]
            ).nan_to_num(0.0)  # (n_intents,)
            cached = self._columns = (labels, quantile + self.config.shift * shifts + self.offset)
        return cached[1]

    def _chosen_thresholds(self, labels: Sequence[int]) -> torch.Tensor:
        """``(n,)`` thresholds used for the intents with these labels (one per message).

        Looks up only these intents, so a message costs the same with 10,000 intents as with
        10; elementwise the same arithmetic as :meth:`thresholds`.
        """
        if isinstance(self.threshold, (int, float)):
            return torch.full((len(labels),), float(self.threshold))
        quantile, mean_of_means = self._global_terms()
        shifts = torch.tensor(
            [self._stats[label].loo_mean - mean_of_means for label in labels]
        ).nan_to_num(0.0)  # (n,)
        return quantile + self.config.shift * shifts + self.offset

    def auto_thresholds(self, labels: Sequence[int]) -> torch.Tensor:
        """``(n_intents,)`` automatic cosine thresholds of the intents with these labels."""
        return self._auto(labels).clone()

    def thresholds(self, labels: Sequence[int]) -> torch.Tensor:
        """``(n_intents,)`` cosine similarity below which each intent's best match is rejected."""
        if self.threshold is None:
            return torch.full((len(labels),), -math.inf)
        if isinstance(self.threshold, (int, float)):
            return torch.full((len(labels),), float(self.threshold))
        return self.auto_thresholds(labels)

    # ----------------------------------------------------------------------------- deciding
    def evidence(
        self, chosen: torch.Tensor, runner_up: torch.Tensor, labels: Sequence[int]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Raw-embedding evidence for each query's chosen intent.

        Args:
            chosen: ``(n_query,)`` cosine of each raw query embedding to its chosen intent's
                prototype.
            runner_up: ``(n_query,)`` its best cosine to any other intent's prototype
                (``-inf`` when there is no other intent).
            labels: The chosen intent's label, one per query.

        Returns:
            ``(n_query,)`` cosine similarity to the chosen prototype, its margin over the
            threshold used for rejection (the automatic one when rejection is off), and the
            gap between the best and second-best prototype similarity.
        """
        thresholds = self._chosen_thresholds(labels)  # (n_query,)
        gap = (chosen - runner_up).clamp(0.0, self.config.max_gap)  # (n_query,), inf -> cap
        return chosen, chosen - thresholds, gap

    def confidence(
        self, margin: torch.Tensor, gap: torch.Tensor, rejected: torch.Tensor
    ) -> torch.Tensor:
        """``(n_query,)`` probability that each answer (intent, or out of scope) is right."""
        w_margin, w_gap, bias = self.config.accept_weights
        r_margin, r_bias = self.config.reject_weights
        accept = torch.sigmoid(w_margin * margin + w_gap * gap + bias)
        reject = torch.sigmoid(-r_margin * margin + r_bias)
        return torch.where(rejected, reject, accept)

    def decide(
        self, chosen: torch.Tensor, runner_up: torch.Tensor, labels: Sequence[int]
    ) -> Decisions:
        """Reject or accept each query's chosen intent, with a confidence.

        Args:
            chosen: ``(n_query,)`` cosines of the raw queries to their chosen prototypes.
            runner_up: ``(n_query,)`` their best cosines to any other prototype.
            labels: The chosen intent's label, one per query.
        """
        chosen, margin, gap = self.evidence(chosen, runner_up, labels)
        rejected = (
            torch.zeros_like(margin, dtype=torch.bool) if self.threshold is None else margin < 0
        )
        return Decisions(rejected, self.confidence(margin, gap, rejected), chosen)

    # ----------------------------------------------------------------------------- tuning
    def leave_one_out_margins(self, labels: Sequence[int]) -> torch.Tensor:
        """Margins (offset excluded) of every stored example, scored leave-one-out."""
        thresholds = self._auto(labels) - self.offset  # (n_intents,)
        return torch.cat(
            [self._stats[label].loo - t for label, t in zip(labels, thresholds, strict=True)]
        )

    def calibrate(self, in_scope: torch.Tensor, out_of_scope: torch.Tensor) -> dict[str, float]:
        """Move the automatic thresholds to separate labelled margins best.

        Args:
            in_scope: ``(n,)`` margins (similarity - threshold, offset excluded) of messages
                that belong to some intent.
            out_of_scope: ``(m,)`` margins of messages that fit none.

        Returns:
            The offset chosen and the in-scope acceptance and out-of-scope rejection rates it
            gives on those messages (maximising their mean, i.e. balanced accuracy).
        """
        candidates = torch.cat([in_scope, out_of_scope, torch.zeros(1)]).unique()  # sorted
        accepted = (in_scope[None, :] >= candidates[:, None]).float().mean(dim=1)
        rejected = (out_of_scope[None, :] < candidates[:, None]).float().mean(dim=1)
        balanced = (accepted + rejected) / 2  # (n_candidates,)
        best = int(torch.argmax(balanced + 1e-6 * (candidates == 0)))  # ties keep offset 0
        self.offset = float(candidates[best])
        self._invalidate()
        return {
            "offset": self.offset,
            "in_scope_accepted": float(accepted[best]),
            "out_of_scope_rejected": float(rejected[best]),
        }

    # ----------------------------------------------------------------------------- saving
    def state(self) -> dict[str, Any]:
        """JSON-serialisable calibration state, saved with the registry."""
        return {"threshold": self.threshold, "offset": self.offset, "config": asdict(self.config)}

    def load_state(self, state: dict[str, Any] | None) -> None:
        """Restore what :meth:`state` returned (per-intent statistics are set separately)."""
        state = state or {}
        if "config" in state:
            config = dict(state["config"])
            for key in ("accept_weights", "reject_weights"):
                if key in config:
                    config[key] = tuple(config[key])
            self.config = OutOfScopeConfig(**config)
        self.offset = float(state.get("offset", 0.0))
        self._invalidate()
