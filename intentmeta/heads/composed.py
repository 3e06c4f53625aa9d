"""The default prototype head: plain prototypes, then the optional steps, scored by shortlist."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F

from intentmeta.heads.adaptation import AdaptationConfig, PrototypeAdaptation
from intentmeta.heads.base import HeadStep, TopClasses
from intentmeta.heads.config import HeadConfig
from intentmeta.heads.nearest import NearestExampleConfig, NearestExamples
from intentmeta.heads.prototypical import PlainPrototypicalHead
from intentmeta.heads.shortlist import EXACT_PASS, SHORTLIST, HalfPrecisionRows, shortlisted_top

#: State names saved before the steps had their own modules (registries keep loading exactly).
NAMES_BEFORE_THE_STEPS = {
    **{name: f"adaptation.{name}" for name in ("weights", "bias", "row_scale")},
    "support": "nearest.examples",
    "support_columns": "nearest.example_columns",
}


class PrototypicalHead(PlainPrototypicalHead):
    """:class:`PlainPrototypicalHead` with optional steps (cosine metric only), kept in step.

    ``adapt_steps > 0`` adds :class:`PrototypeAdaptation` (a linear probe initialised from the
    prototypes), ``nearest_weight > 0`` adds :class:`NearestExamples` (a share of the score from
    the class's nearest example). :meth:`top` reads every class in fp16 and scores a shortlist
    exactly (:mod:`intentmeta.heads.shortlist`): the same classes, a fraction of the work.

    Example:
        >>> head = PrototypicalHead(HeadConfig(dim=2, nearest_weight=0.1))
        >>> head.process_support_set(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([7, 3]))
        >>> head.top(torch.tensor([[0.9, 0.1]]), k=1).columns  # column 1 is class 7
        tensor([[1]])
    """

    renamed_state: ClassVar[dict[str, str]] = NAMES_BEFORE_THE_STEPS

    def __init__(self, config: HeadConfig | None = None) -> None:
        super().__init__(config)
        dim, cosine = self.config.dim, self.config.metric == "cosine"
        adapt, nearest = AdaptationConfig.of(self.config), NearestExampleConfig.of(self.config)
        self.adaptation = PrototypeAdaptation(adapt, dim) if cosine and adapt.steps > 0 else None
        self.nearest = NearestExamples(nearest, dim) if cosine and nearest.weight > 0 else None
        self.screen = HalfPrecisionRows(dim)  # fp16 copy of the scoring rows, for top()
        self.shortlist = SHORTLIST  # most classes top() scores exactly for one message

    def steps(self) -> list[HeadStep]:
        """Adaptation, nearest examples (those switched on), then the fp16 screen of the rows."""
        return [step for step in (self.adaptation, self.nearest, self.screen) if step is not None]

    def linear_form(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Cosine score = ``unit query @ rows.T + offsets`` (adapted rows, or prototypes)."""
        if self.adaptation is None:
            return self.prototypes, None  # (n_classes, dim)
        return self.adaptation.weights, self.adaptation.bias * self.temperature

    def top(self, queries: torch.Tensor, k: int) -> TopClasses:
        if self.config.metric != "cosine" or self.n_classes <= min(self.shortlist, EXACT_PASS):
            return super().top(queries, k)  # a small registry: one exact pass is cheaper
        self._check_embeddings(queries, "queries")
        return shortlisted_top(self, F.normalize(self.embed(queries), dim=-1), k)

    def _score(self, queries: torch.Tensor) -> torch.Tensor:
        if self.config.metric != "cosine":
            return super()._score(queries)
        unit = F.normalize(queries, dim=-1)  # (n_query, dim)
        rows, offsets = self.linear_form()
        similarity = unit @ rows.T  # (n_query, n_classes)
        if offsets is not None:
            similarity = similarity + offsets  # the base class divides by T, bias included
        if self.nearest is not None:
            similarity = self.nearest.mix(similarity, self.nearest.evidence(unit, self.n_classes))
        return similarity
