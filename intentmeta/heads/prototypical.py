"""Prototypical Networks: each intent is the mean of its examples, optionally adapted."""

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

    With ``adapt_steps > 0`` (cosine metric), processing a whole support set also fits a linear
    classifier initialised from the normalised prototypes — a few Adam steps of cross-entropy
    on the support set, pulled toward the prototypes — the "prototypes as initialisation"
    idea of Triantafillou et al. (2020, Proto-MAML, arXiv:1903.03096) without the inner-loop
    meta-learning. A class added or edited one at a time gets its prototype scaled to the adapted
    rows' mean norm: an unscaled prototype would be out-shouted by the adapted rows (its own
    messages went to it 49% of the time on BANKING77 validation, against 84% when scaled).

    With ``nearest_weight = a > 0`` (cosine metric) the score of a class mixes in the cosine of
    its nearest example: ``(1 - a) * prototype score + a * max_i cos(q, x_i)``. The prototype
    sees what a class's examples share, the nearest example keeps a rare phrasing from being
    averaged away. The support examples are then kept too, so this costs one more
    ``(n_query, n_support)`` product per message.

    Args:
        config: Metric, temperature, projection, adaptation and mixing settings.

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
        self.register_buffer("weights", torch.empty(0, dim))  # (n_classes, dim), adapted rows
        self.register_buffer("bias", torch.empty(0))  # (n_classes,), in logit units
        self.register_buffer("row_scale", torch.tensor(1.0))  # mean norm of the adapted rows
        self.register_buffer("support", torch.empty(0, dim))  # (n_support, dim) if mixing
        self.register_buffer("support_columns", torch.empty(0, dtype=torch.long))  # (n_support,)

    @property
    def mixes_nearest(self) -> bool:
        """Whether scores mix in nearest-example evidence."""
        return self.config.nearest_weight > 0 and self.config.metric == "cosine"

    @property
    def adapts(self) -> bool:
        """Whether whole support sets are adapted (only outside meta-training)."""
        return self.config.adapt_steps > 0 and self.config.metric == "cosine" and not self.training

    def adaptation_steps(self, n_support: int, n_classes: int) -> int:
        """Steps the adaptation can afford for a support set of this size (0: skip it)."""
        if self.config.adapt_max_work is None:  # no cap: every step, at any size
            return self.config.adapt_steps
        work_per_step = 3.0 * n_support * n_classes * self.config.dim
        steps = min(self.config.adapt_steps, int(self.config.adapt_max_work / work_per_step))
        return steps if steps >= 10 else 0

    def _reset_support(self, support: torch.Tensor, columns: torch.Tensor) -> None:
        n_classes = int(columns.max()) + 1
        self.sums = ops.class_sums(support, columns, n_classes)  # (n_classes, dim)
        self.counts = torch.bincount(columns, minlength=n_classes).to(support.dtype)
        self.prototypes = self._prototypes(self.sums, self.counts)
        self.weights, self.bias = self.prototypes, torch.zeros(n_classes)
        self.row_scale = torch.tensor(1.0)
        if self.mixes_nearest:
            self.support, self.support_columns = F.normalize(support, dim=-1), columns
        steps = self.adaptation_steps(len(support), n_classes) if self.adapts else 0
        if steps:
            self.weights, self.bias = self._adapt(support, columns, steps)
            self.row_scale = self.weights.norm(dim=1).mean()

    def _adapt(
        self, support: torch.Tensor, columns: torch.Tensor, steps: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Fit ``(n_classes, dim)`` weights and ``(n_classes,)`` biases in ``steps`` Adam steps."""
        with torch.inference_mode(False), torch.enable_grad():
            # clone(): encoder outputs may be inference tensors, which autograd cannot save
            inputs = F.normalize(support.detach().clone(), dim=-1)  # (n_support, dim)
            targets = columns.clone()
            start = self.prototypes.detach().clone()  # (n_classes, dim)
            weights = start.clone().requires_grad_(True)
            bias = torch.zeros(len(start), requires_grad=True)
            optimiser = torch.optim.Adam([weights, bias], lr=self.config.adapt_lr)
            temperature = float(self.temperature.detach())
            for _ in range(steps):
                optimiser.zero_grad()
                logits = inputs @ weights.T / temperature + bias  # (n_support, n_classes)
                pull = (weights - start).pow(2).sum() / len(start)
                loss = F.cross_entropy(logits, targets)
                (loss + self.config.adapt_regularisation * pull).backward()
                optimiser.step()
        return weights.detach(), bias.detach()

    def _add_rows(self, support: torch.Tensor, column: int) -> None:
        row_sum = support.sum(dim=0, keepdim=True)  # (1, dim)
        row_count = self.counts.new_tensor([support.shape[0]])
        prototype = self._prototypes(row_sum, row_count)  # (1, dim)
        self.sums = torch.cat([self.sums, row_sum])
        self.counts = torch.cat([self.counts, row_count])
        self.prototypes = torch.cat([self.prototypes, prototype])
        self.weights = torch.cat([self.weights, prototype * self.row_scale])
        self.bias = torch.cat([self.bias, self.bias.new_zeros(1)])
        self._keep_examples(support, column)

    def _keep_examples(self, support: torch.Tensor, column: int) -> None:
        if self.mixes_nearest:
            self.support = torch.cat([self.support, F.normalize(support, dim=-1)])
            columns = self.support_columns.new_full((support.shape[0],), column)
            self.support_columns = torch.cat([self.support_columns, columns])

    def _extend_row(self, support: torch.Tensor, column: int) -> None:
        self.sums[column] += support.sum(dim=0)
        self.counts[column] += support.shape[0]
        prototype = self._prototypes(
            self.sums[column : column + 1], self.counts[column : column + 1]
        )[0]
        self.prototypes[column] = prototype
        if self.weights.data_ptr() != self.prototypes.data_ptr():
            # back to the (scaled) prototype: the old adaptation was fitted to other examples
            self.weights[column], self.bias[column] = prototype * self.row_scale, 0.0
        self._keep_examples(support, column)

    def _drop_column(self, column: int) -> None:
        keep = torch.arange(self.n_classes) != column
        shared = self.weights.data_ptr() == self.prototypes.data_ptr()
        self.sums, self.counts, self.prototypes = (
            self.sums[keep],
            self.counts[keep],
            self.prototypes[keep],
        )
        self.weights = self.prototypes if shared else self.weights[keep]
        self.bias = self.bias[keep]
        if self.mixes_nearest:
            kept = self.support_columns != column
            self.support = self.support[kept]
            columns = self.support_columns[kept]
            self.support_columns = columns - (columns > column).long()  # close the gap

    def _prototypes(self, sums: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        prototypes = sums / counts.unsqueeze(1)  # (n, dim)
        # Normalised once here, so scoring a query is a single matrix product.
        return F.normalize(prototypes, dim=-1) if self.config.metric == "cosine" else prototypes

    def _score(self, queries: torch.Tensor) -> torch.Tensor:
        if self.config.metric == "cosine":
            queries = F.normalize(queries, dim=-1)
            similarity = queries @ self.weights.T + self.bias * self.temperature  # (n_q, n_cls)
            if self.mixes_nearest:
                nearest = ops.class_max(
                    queries @ self.support.T, self.support_columns, self.n_classes
                )  # (n_query, n_classes)
                weight = self.config.nearest_weight
                similarity = (1 - weight) * similarity + weight * nearest
            return similarity  # the base class divides by the temperature, bias included
        return -ops.squared_euclidean_distances(queries, self.prototypes)
