"""Out-of-scope rejection and calibrated confidence: when a message fits no intent.

The decision reads the *raw* encoder embeddings, never the head's scores, so a new or meta-trained
head changes which intent wins but not what "out of scope" means. A message is rejected when its
cosine similarity to the winning intent's prototype (the normalised mean of its examples) is below
that intent's threshold. With ``"auto"`` the thresholds come from the examples alone: each example
is scored against the prototype of the *other* examples of its intent (leave-one-out), and

    threshold(intent) = quantile_q(all leave-one-out similarities)
                        + shift * (mean leave-one-out similarity of the intent - mean over intents)
                        + offset

i.e. one global rule ("reject what is less similar than the 5% least typical examples") nudged
toward each intent's own tightness. Leave-one-out statistics are kept per intent, so adding an
intent costs ``O(n_examples * dim)``; the global quantile is recomputed lazily over all
leave-one-out values (10,000 floats for 1,000 intents of 10 examples).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from intentmeta.prediction import Prediction

if TYPE_CHECKING:
    from intentmeta.classifier import IntentClassifier


@dataclass
class CalibrationConfig:
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
class _IntentStats:
    prototype: torch.Tensor  # (dim,) unit vector
    loo: torch.Tensor  # (n_examples,) leave-one-out similarities; empty for one example
    loo_mean: float  # their mean, NaN for one example (kept as a float: cheap to gather)


def intent_stats(embeddings: torch.Tensor) -> _IntentStats:
    """Normalised prototype and leave-one-out similarities of one intent's examples.

    Args:
        embeddings: ``(n_examples, dim)`` raw encoder embeddings.
    """
    total = embeddings.sum(dim=0)  # (dim,)
    prototype = F.normalize(total, dim=0)
    if embeddings.shape[0] < 2:
        return _IntentStats(prototype, embeddings.new_empty(0), math.nan)
    others = F.normalize(total - embeddings, dim=1)  # (n_examples, dim) prototype without each
    loo = (F.normalize(embeddings, dim=1) * others).sum(dim=1)  # (n_examples,)
    return _IntentStats(prototype, loo, float(loo.mean()))


class OutOfScopeDetector:
    """Decides from the raw embeddings whether a message fits no intent, and how sure to be.

    ``Prediction.confidence`` is the probability that the answer is right: for an accepted
    message, that the intent is the correct one; for a rejected message, that it is really out of
    scope. Both come from logistic maps of (similarity - threshold) fitted on CLINC150 ``val``
    with out-of-scope messages weighted to 20% of the traffic; a different share shifts them.

    Args:
        threshold: ``"auto"`` derives per-intent thresholds from the examples (see the module
            docstring); a float rejects a message whose cosine similarity to its best intent's
            prototype is below it; ``None`` never rejects.
        config: Quantile, shift and confidence maps of the automatic mode.

    Example:
        >>> detector = OutOfScopeDetector(0.5)
        >>> detector.add(0, torch.tensor([[1.0, 0.0], [0.9, 0.1]]))
        >>> detector.decide(torch.zeros(1, 1), torch.tensor([[0.0, 1.0]]), ["a"], 1, [0])[0].intent
        >>> detector.decide(torch.zeros(1, 1), torch.tensor([[1.0, 0.0]]), ["a"], 1, [0])[0].intent
        'a'
    """

    def __init__(
        self, threshold: float | str | None = "auto", config: CalibrationConfig | None = None
    ) -> None:
        self.threshold = threshold
        self.config = config or CalibrationConfig()
        self.offset = 0.0  # set by calibrate(); moves every automatic threshold
        self._stats: dict[int, _IntentStats] = {}  # by head label, which survives renames
        # Derived lazily and dropped on every change: (quantile, mean of the intents' means),
        # and the stacked prototypes and thresholds of the last column order asked for.
        self._global: tuple[float, float] | None = None
        self._columns: tuple[tuple[int, ...], torch.Tensor, torch.Tensor] | None = None

    # ----------------------------------------------------------------------------- registry hooks
    def reset(self, clf: IntentClassifier) -> None:
        """All intents were replaced."""
        self._stats = {i.label: intent_stats(i.embeddings) for i in clf._intents.values()}
        self._invalidate()

    def intent_changed(self, clf: IntentClassifier, name: str) -> None:
        """One intent was added or its examples changed."""
        intent = clf._intents[name]
        self.add(intent.label, intent.embeddings)

    def intent_removed(self, clf: IntentClassifier, name: str, label: int) -> None:
        """One intent was removed."""
        self._stats.pop(label, None)
        self._invalidate()

    def add(self, label: int, embeddings: torch.Tensor) -> None:
        """Store (or replace) the statistics of one intent from its ``(n, dim)`` embeddings."""
        self._stats[label] = intent_stats(embeddings.float())
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

    def _stacked(self, labels: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(n_intents, dim)`` prototypes and ``(n_intents,)`` automatic thresholds, cached."""
        key = tuple(labels)
        if self._columns is None or self._columns[0] != key:
            quantile, mean_of_means = self._global_terms()
            stats = [self._stats[label] for label in labels]
            shifts = torch.tensor([s.loo_mean - mean_of_means for s in stats]).nan_to_num(0.0)
            thresholds = quantile + self.config.shift * shifts + self.offset  # (n_intents,)
            prototypes = torch.stack([s.prototype for s in stats])  # (n_intents, dim)
            self._columns = (key, prototypes, thresholds)
        return self._columns[1], self._columns[2]

    def auto_thresholds(self, labels: list[int]) -> torch.Tensor:
        """``(n_intents,)`` automatic cosine thresholds of the intents with these labels."""
        return self._stacked(labels)[1].clone()

    def thresholds(self, labels: list[int]) -> torch.Tensor:
        """``(n_intents,)`` cosine similarity below which each intent's best match is rejected."""
        if self.threshold is None:
            return torch.full((len(labels),), -math.inf)
        if isinstance(self.threshold, (int, float)):
            return torch.full((len(labels),), float(self.threshold))
        return self.auto_thresholds(labels)

    # ----------------------------------------------------------------------------- deciding
    def margins(
        self, queries: torch.Tensor, labels: list[int], best: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Raw-embedding evidence for each query's chosen intent.

        Args:
            queries: ``(n_query, dim)`` raw encoder embeddings.
            labels: Head label of each intent column.
            best: ``(n_query,)`` column of each query's chosen intent.

        Returns:
            ``(n_query,)`` cosine similarity to the chosen prototype, its margin over the
            threshold used for rejection (the automatic one when rejection is off), and the
            gap between the best and second-best prototype similarity.
        """
        prototypes = self._stacked(labels)[0]  # (n_intents, dim)
        similarity = F.normalize(queries.float(), dim=1) @ prototypes.T  # (n_query, n_intents)
        chosen = similarity.gather(1, best[:, None])[:, 0]  # (n_query,)
        thresholds = (
            self.auto_thresholds(labels) if self.threshold is None else self.thresholds(labels)
        )
        runner_up = similarity.scatter(1, best[:, None], -math.inf).max(dim=1).values
        gap = (chosen - runner_up).clamp(0.0, self.config.max_gap)  # (n_query,), inf -> cap
        return chosen, chosen - thresholds[best], gap

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
        self,
        logits: torch.Tensor,
        queries: torch.Tensor,
        names: list[str],
        top_k: int,
        labels: list[int],
    ) -> list[Prediction]:
        """Turn the head's logits and the raw query embeddings into predictions.

        Args:
            logits: ``(n_query, n_intents)`` from the head; they pick the intent and fill
                ``scores``.
            queries: ``(n_query, dim)`` raw encoder embeddings; they decide rejection and
                confidence.
            names: Intent name of each column.
            top_k: How many intents to list in ``scores``.
            labels: Head label of each column.

        Returns:
            One prediction per query.
        """
        probabilities = logits.softmax(dim=1)  # (n_query, n_intents)
        top = probabilities.topk(min(top_k, len(names)), dim=1)
        best = top.indices[:, 0]  # (n_query,)
        similarity, margin, gap = self.margins(queries, labels, best)
        rejected = (
            torch.zeros_like(margin, dtype=torch.bool) if self.threshold is None else margin < 0
        )
        confidence = self.confidence(margin, gap, rejected)  # (n_query,)
        predictions = []
        for row in range(logits.shape[0]):
            scores = {
                names[i]: float(p)
                for i, p in zip(top.indices[row].tolist(), top.values[row].tolist(), strict=True)
            }
            out = bool(rejected[row])
            predictions.append(
                Prediction(
                    intent=None if out else names[int(best[row])],
                    confidence=float(confidence[row]),
                    scores=scores,
                    is_out_of_scope=out,
                    similarity=float(similarity[row]),
                )
            )
        return predictions

    # ----------------------------------------------------------------------------- tuning
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

    def calibrate_classifier(
        self,
        clf: IntentClassifier,
        out_of_scope: torch.Tensor,
        in_scope: torch.Tensor | None = None,
    ) -> dict[str, float]:
        """Tune :attr:`offset` from embeddings of labelled messages (the caller holds the lock).

        Args:
            clf: The classifier whose head picks each message's intent.
            out_of_scope: ``(m, dim)`` embeddings of messages that fit no intent.
            in_scope: ``(n, dim)`` embeddings of messages that fit one; ``None`` uses the
                intents' own examples, each scored leave-one-out.

        Returns:
            What :meth:`calibrate` returns.
        """
        labels = clf.head.classes.tolist()

        def margins(queries: torch.Tensor) -> torch.Tensor:
            best = clf.head(queries).argmax(dim=1)  # (n,)
            return self.margins(queries, labels, best)[1] + self.offset  # (n,), offset excluded

        if in_scope is None:
            thresholds = self.auto_thresholds(labels) - self.offset  # (n_intents,)
            in_margins = torch.cat(
                [self._stats[label].loo - t for label, t in zip(labels, thresholds, strict=True)]
            )
        else:
            in_margins = margins(in_scope)
        return self.calibrate(in_margins, margins(out_of_scope))

    # ----------------------------------------------------------------------------- saving
    def state(self) -> dict[str, Any]:
        """JSON-serialisable calibration state, saved with the registry."""
        return {"threshold": self.threshold, "offset": self.offset, "config": asdict(self.config)}

    def load_state(self, state: dict[str, Any] | None, clf: IntentClassifier) -> None:
        """Restore what :meth:`state` returned; per-intent statistics are recomputed."""
        state = state or {}
        if "config" in state:
            config = dict(state["config"])
            for key in ("accept_weights", "reject_weights"):
                if key in config:
                    config[key] = tuple(config[key])
            self.config = CalibrationConfig(**config)
        self.offset = float(state.get("offset", 0.0))
        self.reset(clf)
