"""What a classification returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from intentmeta.out_of_scope import Decisions

#: What ``IntentClassifier.predict`` returns for a message that fits no intent.
OUT_OF_SCOPE = "oos"


@dataclass(frozen=True)
class Prediction:
    """The classifier's answer for one message.

    Attributes:
        intent: The predicted intent, or ``None`` when the message is out of scope.
        confidence: Probability in ``[0, 1]`` that this answer (intent or out of scope) is right:
            the answer's entry in ``scores``.
        scores: One probability per answer, best first: the top intents and, unless rejection
            is off, ``"oos"`` (out of scope). With every intent listed (``top_k`` at least the
            number of intents) the entries sum to 1; otherwise the unlisted intents hold the
            rest.
        is_out_of_scope: Whether the message fits no intent.
        similarity: The best intent's raw evidence (cosine similarity for the cosine metric),
            which out-of-scope thresholds are compared with.

    Example:
        >>> p = Prediction("track_order", 0.93, {"track_order": 0.93, "refund_status": 0.04})
        >>> p.intent, p.is_out_of_scope
        ('track_order', False)
    """

    intent: str | None
    confidence: float
    scores: dict[str, float] = field(default_factory=dict)
    is_out_of_scope: bool = False
    similarity: float = float("nan")

    @property
    def best_intent(self) -> str | None:
        """The top-scoring intent, even when the message was judged out of scope."""
        return next((name for name in self.scores if name != OUT_OF_SCOPE), None)

    @classmethod
    def batch(
        cls, names: list[str], top_columns: torch.Tensor, decisions: Decisions
    ) -> list[Prediction]:
        """One prediction per message from the head's top columns and the detector's decisions.

        Args:
            names: Intent name of each column.
            top_columns: ``(n_query, k)`` the head's best columns, best first.
            decisions: What :class:`~intentmeta.out_of_scope.OutOfScopeDetector` decided; its
                ``probabilities`` hold one entry per listed intent, then "out of scope".
        """
        predictions = []
        for columns, probabilities, rejected, confidence, similarity in zip(
            top_columns.tolist(),
            decisions.probabilities.tolist(),
            decisions.rejected.tolist(),
            decisions.confidence.tolist(),
            decisions.similarity.tolist(),
            strict=True,
        ):
            scores = {names[i]: p for i, p in zip(columns, probabilities, strict=False)}
            if len(probabilities) > len(columns):
                scores[OUT_OF_SCOPE] = probabilities[-1]
            predictions.append(
                cls(
                    intent=None if rejected else names[columns[0]],
                    confidence=confidence,
                    scores=dict(sorted(scores.items(), key=lambda item: -item[1])),
                    is_out_of_scope=rejected,
                    similarity=similarity,
                )
            )
        return predictions
