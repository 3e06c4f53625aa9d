"""Prototypical Networks: each intent is the mean of its examples."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from intentmeta import ops
from intentmeta.heads.base import FewShotHead, HeadConfig


class PrototypicalHead(FewShotHead):
    """Prototypical Networks (Snell, Swersky & Zemel, 2017, arXiv:1703.05175).

    A class is represented by the mean of its support embeddings; a query is scored by its
    cosine similarity (or negative squared Euclidean distance) to each prototype, divided by a
    temperature. Per-class sums and counts are kept, so adding examples to one intent updates
    one row and nothing else.

    Args:
        config: Metric, temperature and projection settings.

    Example:
        >>> import torch
        >>> head = PrototypicalHead(HeadConfig(dim=2))
        >>> head.process_support_set(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([7, 3]))
        >>> head(torch.tensor([[0.9, 0.1]])).argmax(dim=1)  # column 1 is class 7
        tensor([1])
    """

    def __init__(self, config: HeadConfig | None = None) -> None:
        super().__init__(config)
        dim = self.config.dim
        self.register_buffer("sums", torch.empty(0, dim))  # (n_classes, dim)
        self.register_buffer("counts", torch.empty(0))  # (n_classes,)
        self.register_buffer("prototypes", torch.empty(0, dim))  # (n_classes, dim)

    def _reset_support(self, support: torch.Tensor, columns: torch.Tensor) -> None:
        n_classes = int(columns.max()) + 1
        self.sums = ops.class_sums(support, columns, n_classes)  # (n_classes, dim)
        self.counts = torch.bincount(columns, minlength=n_classes).to(support.dtype)
        self.prototypes = self._prototypes(self.sums, self.counts)

    def _add_rows(self, support: torch.Tensor, column: int) -> None:
        row_sum = support.sum(dim=0, keepdim=True)  # (1, dim)
        row_count = self.counts.new_tensor([support.shape[0]])
        self.sums = torch.cat([self.sums, row_sum])
        self.counts = torch.cat([self.counts, row_count])
        self.prototypes = torch.cat([self.prototypes, self._prototypes(row_sum, row_count)])

    def _extend_row(self, support: torch.Tensor, column: int) -> None:
        self.sums[column] += support.sum(dim=0)
        self.counts[column] += support.shape[0]
        self.prototypes[column] = self._prototypes(
            self.sums[column : column + 1], self.counts[column : column + 1]
        )[0]

    def _drop_column(self, column: int) -> None:
        keep = torch.arange(self.n_classes) != column
        self.sums, self.counts, self.prototypes = (
            self.sums[keep],
            self.counts[keep],
            self.prototypes[keep],
        )

    def _prototypes(self, sums: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        prototypes = sums / counts.unsqueeze(1)  # (n, dim)
        # Normalised once here, so scoring a query is a single matrix product.
        return F.normalize(prototypes, dim=-1) if self.config.metric == "cosine" else prototypes

    def _score(self, queries: torch.Tensor) -> torch.Tensor:
        if self.config.metric == "cosine":
            return F.normalize(queries, dim=-1) @ self.prototypes.T  # (n_query, n_classes)
        return -ops.squared_euclidean_distances(queries, self.prototypes)
