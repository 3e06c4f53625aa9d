"""Out-of-scope rejection and confidence: when a message fits no intent."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch

from intentmeta.prediction import Prediction

if TYPE_CHECKING:
    from intentmeta.classifier import IntentClassifier


class OutOfScopeDetector:
    """Decides, from a head's logits and similarities, whether a message fits no intent.

    Args:
        threshold: ``None`` never rejects; a float rejects a message whose best intent's
            similarity is below it; ``"auto"`` derives thresholds from the intents' examples.

    Example:
        >>> detector = OutOfScopeDetector(0.5)
        >>> logits, similarity = torch.tensor([[2.0, 0.0]]), torch.tensor([[0.3, 0.1]])
        >>> detector.decide(logits, similarity, ["a", "b"], top_k=2)[0].is_out_of_scope
        True
    """

    def __init__(self, threshold: float | str | None = "auto") -> None:
        self.threshold = threshold

    def reset(self, clf: IntentClassifier) -> None:
        """All intents were replaced."""

    def intent_changed(self, clf: IntentClassifier, name: str) -> None:
        """One intent was added or its examples changed."""

    def intent_removed(self, clf: IntentClassifier, name: str, label: int) -> None:
        """One intent was removed."""

    def thresholds(self, names: list[str]) -> torch.Tensor:
        """``(n_intents,)`` similarity below which each intent's best match is rejected."""
        if isinstance(self.threshold, (int, float)):
            return torch.full((len(names),), float(self.threshold))
        return torch.full((len(names),), -math.inf)

    def decide(
        self, logits: torch.Tensor, similarity: torch.Tensor, names: list[str], top_k: int
    ) -> list[Prediction]:
        """Turn scores into predictions.

        Args:
            logits: ``(n_query, n_intents)``.
            similarity: ``(n_query, n_intents)`` temperature-free evidence.
            names: Intent name of each column.
            top_k: How many intents to list in ``scores``.

        Returns:
            One prediction per query.
        """
        probabilities = logits.softmax(dim=1)  # (n_query, n_intents)
        top = probabilities.topk(min(top_k, len(names)), dim=1)
        best = top.indices[:, 0]  # (n_query,)
        best_similarity = similarity.gather(1, best[:, None])[:, 0]  # (n_query,)
        rejected = best_similarity < self.thresholds(names)[best]  # (n_query,)
        predictions = []
        for row in range(logits.shape[0]):
            scores = {
                names[i]: float(p)
                for i, p in zip(top.indices[row].tolist(), top.values[row].tolist(), strict=True)
            }
            confidence = float(top.values[row, 0])
            out = bool(rejected[row])
            predictions.append(
                Prediction(
                    intent=None if out else names[int(best[row])],
                    confidence=1.0 - confidence if out else confidence,
                    scores=scores,
                    is_out_of_scope=out,
                    similarity=float(best_similarity[row]),
                )
            )
        return predictions

    def state(self) -> dict[str, Any]:
        """JSON-serialisable calibration state, saved with the registry."""
        return {"threshold": self.threshold}

    def load_state(self, state: dict[str, Any] | None, clf: IntentClassifier) -> None:
        """Restore what :meth:`state` returned (recomputing anything derivable)."""
        self.reset(clf)
