"""Prototypical Networks: each intent is the mean of its examples."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from intentmeta import ops
from intentmeta.heads.base import FewShotHead, HeadConfig


class PlainPrototypicalHead(FewShotHead):
    """Prototypical Networks (Snell, Swersky & Zemel, 2017, arXiv:1703.05175).

    A class is the mean of its support embeddings; a query is scored by its cosine similarity
    (or negative squared Euclidean distance) to each prototype, divided by a temperature.
    Per-class sums and counts are kept, so editing one intent updates one row.

    Example:
        >>> head = PlainPrototypicalHead(HeadConfig(dim=2))
        >>> head.process_support_set(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([7, 3]))
        >>> head(torch.tensor([[0.9, 0.1]])).argmax(dim=1)  # column 1 is class 7
        tensor([1])
    """

    def __init__(self, config: HeadConfig | None = None) -> None:
        super().__init__(config)
        self.register_buffer("sums", torch.empty(0, self.config.dim))  # (n_classes, dim)
        self.register_buffer("counts", torch.empty(0))  # (n_classes,)
        self.register_buffer("prototypes", torch.empty(0, self.config.dim))  # (n_classes, dim)

    def _reset_support(self, support: torch.Tensor, columns: torch.Tensor) -> None:
        n_classes = int(columns.max()) + 1
        self.set_rows("sums", ops.class_sums(support, columns, n_classes))  # (n_classes, dim)
        self.set_rows("counts", torch.bincount(columns, minlength=n_classes).to(support.dtype))
        self.set_rows("prototypes", self._normalised(self.sums / self.counts.unsqueeze(1)))

    def _add_rows(self, support: torch.Tensor, column: int) -> None:
        row_sum = support.sum(dim=0, keepdim=True)  # (1, dim)
        self.append_rows("sums", row_sum)
        self.append_rows("counts", self.counts.new_tensor([support.shape[0]]))
        self.append_rows("prototypes", self._normalised(row_sum / support.shape[0]))

    def _extend_row(self, support: torch.Tensor, column: int) -> None:
        self.sums[column] += support.sum(dim=0)
        self.counts[column] += support.shape[0]
        self.prototypes[column] = self._normalised(self.sums[column] / self.counts[column])

    def _drop_column(self, column: int) -> None:
        self.remove_rows(("sums", "counts", "prototypes"), torch.tensor([column]))

    def _normalised(self, means: torch.Tensor) -> torch.Tensor:
        # Normalised once here, so scoring a query is a single matrix product.
        return F.normalize(means, dim=-1) if self.config.metric == "cosine" else means

    def _score(self, queries: torch.Tensor) -> torch.Tensor:
        if self.config.metric != "cosine":
            return -ops.squared_euclidean_distances(queries, self.prototypes)
        return F.normalize(queries, dim=-1) @ self.prototypes.T  # (n_query, n_classes)
