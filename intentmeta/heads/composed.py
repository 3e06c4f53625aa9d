"""The default prototype head: plain prototypes, then the optional steps, scored by shortlist."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F

from intentmeta.heads.adaptation import AdaptationConfig, PrototypeAdaptation
from intentmeta.heads.base import HeadConfig, TopClasses
from intentmeta.heads.nearest import NearestExampleConfig, NearestExamples
from intentmeta.heads.prototypical import PlainPrototypicalHead
from intentmeta.heads.rows import PrototypeStep
from intentmeta.heads.shortlist import SHORTLIST, HalfPrecisionRows, shortlisted_top


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

    # Registries saved before the steps had their own modules keep loading exactly.
    renamed_buffers: ClassVar[dict[str, str]] = {
        "weights": "adaptation.weights",
        "bias": "adaptation.bias",
        "row_scale": "adaptation.row_scale",
        "support": "nearest.examples",
        "support_columns": "nearest.example_columns",
    }

    def __init__(self, config: HeadConfig | None = None) -> None:
        super().__init__(config)
        c, cosine = self.config, self.config.metric == "cosine"
        adapt = AdaptationConfig(
            c.adapt_steps, c.adapt_lr, c.adapt_regularisation, c.adapt_max_work
        )
        self.adaptation = PrototypeAdaptation(adapt, c.dim) if cosine and adapt.steps > 0 else None
        nearest = NearestExampleConfig(c.nearest_weight)
        self.nearest = NearestExamples(nearest, c.dim) if cosine and nearest.weight > 0 else None
        self.screen = HalfPrecisionRows(c.dim)  # fp16 copy of the scoring rows, for top()
        self.shortlist = SHORTLIST  # most classes top() scores exactly for one message

    def linear_form(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Cosine score = ``unit query @ rows.T + offsets`` (adapted rows, or prototypes)."""
        if self.adaptation is None:
            return self.prototypes, None  # (n_classes, dim)
        return self.adaptation.weights, self.adaptation.bias * self.temperature

    def top(self, queries: torch.Tensor, k: int) -> TopClasses:
        if self.config.metric != "cosine" or self.n_classes == 0:
            return super().top(queries, k)
        self._check_embeddings(queries, "queries")
        return shortlisted_top(self, F.normalize(self.embed(queries), dim=-1), k)

    def _steps(self) -> list[PrototypeStep]:
        return [step for step in (self.adaptation, self.nearest) if step is not None]

    def _reset_support(self, support: torch.Tensor, columns: torch.Tensor) -> None:
        super()._reset_support(support, columns)
        for step in self._steps():
            step.reset(support, columns, self.prototypes, self.temperature.detach())
        self.screen.copy(self.linear_form()[0])

    def _add_rows(self, support: torch.Tensor, column: int) -> None:
        super()._add_rows(support, column)
        for step in self._steps():
            step.add(support, column, self.prototypes[-1:])
        self.screen.append(self.linear_form()[0])

    def _extend_row(self, support: torch.Tensor, column: int) -> None:
        super()._extend_row(support, column)
        for step in self._steps():
            step.extend(support, column, self.prototypes[column])
        self.screen.update(self.linear_form()[0], column)

    def _drop_column(self, column: int) -> None:
        super()._drop_column(column)
        for step in self._steps():
            step.drop(column, self.n_classes - 1)  # classes still holds the removed column
        self.screen.drop(self.linear_form()[0], column)

    def _support_loaded(self) -> None:
        for step in self._steps():
            step.loaded()
        self.screen.copy(self.linear_form()[0])

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
