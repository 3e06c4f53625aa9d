"""Prototypical Networks: each intent is the mean of its examples."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F

from intentmeta import ops
from intentmeta.heads.adaptation import AdaptationConfig, PrototypeAdaptation
from intentmeta.heads.base import FewShotHead, HeadConfig, TopClasses
from intentmeta.heads.nearest import NearestExampleConfig, NearestExamples
from intentmeta.heads.rows import PrototypeStep
from intentmeta.heads.shortlist import SHORTLIST, HalfPrecisionRows, shortlisted_top


class PrototypicalHead(FewShotHead):
    """Prototypical Networks (Snell, Swersky & Zemel, 2017, arXiv:1703.05175).

    A class is the mean of its support embeddings; a query is scored by its cosine similarity
    (or negative squared Euclidean distance) to each prototype, divided by a temperature.
    Per-class sums and counts are kept, so editing one intent updates one row.

    Two optional steps (cosine metric only), each in its own module with its own config:
    ``adapt_steps > 0`` adds :class:`PrototypeAdaptation` (a linear probe initialised from the
    prototypes), ``nearest_weight > 0`` adds :class:`NearestExamples` (a share of the score from
    the class's nearest example). :meth:`top` reads every class in fp16 and scores a shortlist
    exactly, examples included (:mod:`intentmeta.heads.shortlist`): the same classes as the full
    computation, a fraction of the work.

    Args:
        config: Metric, temperature, projection and the steps' settings.

    Example:
        >>> head = PrototypicalHead(HeadConfig(dim=2))
        >>> head.process_support_set(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([7, 3]))
        >>> head(torch.tensor([[0.9, 0.1]])).argmax(dim=1)  # column 1 is class 7
        tensor([1])
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
        config, dim = self.config, self.config.dim
        self.register_buffer("sums", torch.empty(0, dim))  # (n_classes, dim)
        self.register_buffer("counts", torch.empty(0))  # (n_classes,)
        self.register_buffer("prototypes", torch.empty(0, dim))  # (n_classes, dim)
        cosine = config.metric == "cosine"
        adaptation = AdaptationConfig(
            config.adapt_steps, config.adapt_lr, config.adapt_regularisation, config.adapt_max_work
        )
        self.adaptation = (
            PrototypeAdaptation(adaptation, dim) if cosine and adaptation.steps > 0 else None
        )
        nearest = NearestExampleConfig(config.nearest_weight)
        self.nearest = NearestExamples(nearest, dim) if cosine and nearest.weight > 0 else None
        self.screen = HalfPrecisionRows(dim)  # fp16 copy of the scoring rows, for top()
        self.shortlist = SHORTLIST  # most classes top() scores exactly for one message

    def linear_form(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Cosine score = ``unit query @ rows.T + offsets``, ``(n_classes, dim)``, ``(n_classes,)``.

        The rows are the adapted weights (offsets: biases in similarity units) or the prototypes.
        """
        if self.adaptation is None:
            return self.prototypes, None
        return self.adaptation.weights, self.adaptation.bias * self.temperature

    def top(self, queries: torch.Tensor, k: int) -> TopClasses:
        if self.config.metric != "cosine" or self.n_classes == 0:
            return super().top(queries, k)
        self._check_embeddings(queries, "queries")
        return shortlisted_top(self, F.normalize(self.embed(queries), dim=-1), k)

    def _steps(self) -> list[PrototypeStep]:
        return [step for step in (self.adaptation, self.nearest) if step is not None]

    def _reset_support(self, support: torch.Tensor, columns: torch.Tensor) -> None:
        n_classes = int(columns.max()) + 1
        self.set_rows("sums", ops.class_sums(support, columns, n_classes))  # (n_classes, dim)
        self.set_rows("counts", torch.bincount(columns, minlength=n_classes).to(support.dtype))
        self.set_rows("prototypes", self._normalised(self.sums / self.counts.unsqueeze(1)))
        for step in self._steps():
            step.reset(support, columns, self.prototypes, self.temperature.detach())
        self.screen.copy(self.linear_form()[0])

    def _add_rows(self, support: torch.Tensor, column: int) -> None:
        row_sum = support.sum(dim=0, keepdim=True)  # (1, dim)
        prototype = self._normalised(row_sum / support.shape[0])  # (1, dim)
        self.append_rows("sums", row_sum)
        self.append_rows("counts", self.counts.new_tensor([support.shape[0]]))
        self.append_rows("prototypes", prototype)
        for step in self._steps():
            step.add(support, column, prototype)
        self.screen.append(self.linear_form()[0])

    def _extend_row(self, support: torch.Tensor, column: int) -> None:
        self.sums[column] += support.sum(dim=0)
        self.counts[column] += support.shape[0]
        self.prototypes[column] = self._normalised(self.sums[column] / self.counts[column])
        for step in self._steps():
            step.extend(support, column, self.prototypes[column])
        self.screen.update(self.linear_form()[0], column)

    def _drop_column(self, column: int) -> None:
        last = self.n_classes - 1
        self.remove_rows(("sums", "counts", "prototypes"), torch.tensor([column]))
        for step in self._steps():
            step.drop(column, last)
        self.screen.drop(self.linear_form()[0], column)

    def _support_loaded(self) -> None:
        for step in self._steps():
            step.loaded()
        self.screen.copy(self.linear_form()[0])

    def _normalised(self, means: torch.Tensor) -> torch.Tensor:
        # Normalised once here, so scoring a query is a single matrix product.
        return F.normalize(means, dim=-1) if self.config.metric == "cosine" else means

    def _score(self, queries: torch.Tensor) -> torch.Tensor:
        if self.config.metric != "cosine":
            return -ops.squared_euclidean_distances(queries, self.prototypes)
        unit = F.normalize(queries, dim=-1)  # (n_query, dim)
        rows, offsets = self.linear_form()
        similarity = unit @ rows.T  # (n_query, n_classes)
        if offsets is not None:
            similarity = similarity + offsets  # the base class divides by T, bias included
        if self.nearest is not None:
            similarity = self.nearest.mix(similarity, self.nearest.evidence(unit, self.n_classes))
        return similarity
