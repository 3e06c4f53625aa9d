"""Matching Networks: attention over every support example."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F

from intentmeta import ops
from intentmeta.heads.base import FewShotHead
from intentmeta.heads.config import HeadConfig
from intentmeta.heads.full_context import FullContextConfig, FullContextEmbedding
from intentmeta.heads.whitening import SupportWhitening, WhiteningConfig

#: State names saved before whitening and the full-context embedding had their own modules.
NAMES_BEFORE_THE_STEPS = {
    "centre": "whitening.centre",
    "whitening_matrix": "whitening.matrix",
    "context_gate": "context.gate",
    **{
        f"context.{n}": f"context.cell.{n}"
        for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    },
}


class MatchingHead(FewShotHead):
    """Matching Networks (Vinyals et al., 2016, arXiv:1606.04080).

    A query attends to every support example with a softmax over scaled cosine similarities,
    and each class receives the attention mass of its examples. The logits returned are
    ``log sum_{i in c} exp(sim(q, x_i) / T)``: unnormalised, and their softmax is exactly the
    paper's ``P(c | q)``. ``context_steps > 0`` refines each query with the paper's full-context
    embedding (:class:`FullContextEmbedding`); ``whitening`` maps every embedding through a
    whitening fitted on the support set (:class:`SupportWhitening`).

    Example:
        >>> head = MatchingHead(HeadConfig(dim=2))
        >>> head.process_support_set(torch.eye(2)[[0, 0, 1]], torch.tensor([0, 0, 1]))
        >>> head(torch.tensor([[0.9, 0.1]])).shape
        torch.Size([1, 2])
    """

    renamed_state: ClassVar[dict[str, str]] = NAMES_BEFORE_THE_STEPS

    def __init__(self, config: HeadConfig | None = None) -> None:
        super().__init__(config)
        dim, context = self.config.dim, FullContextConfig.of(self.config)
        self.register_buffer("support", torch.empty(0, dim))  # (n_support, dim)
        self.register_buffer("support_columns", torch.empty(0, dtype=torch.long))  # (n_support,)
        self.whitening = SupportWhitening(WhiteningConfig.of(self.config), dim)
        self.context = FullContextEmbedding(context, dim) if context.steps > 0 else None

    def _reset_support(self, support: torch.Tensor, columns: torch.Tensor) -> None:
        self.whitening.reset(support, columns, fit=not self.training)
        self.set_rows("support", self._normalise(support))
        self.set_rows("support_columns", columns)

    def _add_rows(self, support: torch.Tensor, column: int) -> None:
        self.append_rows("support", self._normalise(support))
        self.append_rows("support_columns", self.support_columns.new_full((len(support),), column))

    _extend_row = _add_rows  # more examples of a class are stored as a new class's are

    def _drop_column(self, column: int) -> None:
        self.remove_rows(("support", "support_columns"), (self.support_columns == column).nonzero())
        self.support_columns[self.support_columns == self.n_classes - 1] = column  # last moved

    def _normalise(self, embeddings: torch.Tensor) -> torch.Tensor:
        whitened = self.whitening(embeddings)  # (n, dim)
        return F.normalize(whitened, dim=-1) if self.config.metric == "cosine" else whitened

    def _scaled(self, queries: torch.Tensor) -> torch.Tensor:
        """``(n_query, dim)`` queries -> ``(n_query, n_support)`` similarities over T."""
        unit = self._normalise(queries)  # (n_query, dim), unit rows for the cosine metric
        if self.config.metric == "cosine":
            return unit @ self.support.T / self.temperature
        return -ops.squared_euclidean_distances(unit, self.support) / self.temperature

    def _score(self, queries: torch.Tensor) -> torch.Tensor:
        if self.context is not None:
            queries = self.context(queries, self.support, self._scaled)
        logits = ops.class_logsumexp(self._scaled(queries), self.support_columns, self.n_classes)
        return logits * self.temperature  # the base class divides by the temperature again
