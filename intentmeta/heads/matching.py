"""Matching Networks: attention over every support example."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from intentmeta import ops
from intentmeta.heads.base import FewShotHead, HeadConfig


class MatchingHead(FewShotHead):
    """Matching Networks (Vinyals et al., 2016, arXiv:1606.04080).

    A query attends to every support example with a softmax over scaled cosine similarities,
    and each class receives the attention mass of its examples. The logits returned are
    ``log sum_{i in c} exp(sim(q, x_i) / T)``: unnormalised, and their softmax is exactly the
    paper's ``P(c | q)``.

    With ``context_steps > 0`` the query gets the paper's full-context embedding ``f``: an
    attention LSTM that reads the support set for that many steps. Its output gate starts at
    zero, so an untrained head is the parameter-free one. The support-side bidirectional LSTM
    ``g`` is left out on purpose: it would make each intent's embeddings depend on every other
    intent, and adding an intent would re-embed them all.

    With ``whitening`` set, processing a whole support set also fits a whitening of the
    embedding space from the pooled within-class covariance (shrunk toward isotropy): directions
    in which examples of one intent vary a lot count less. Intents added one at a time are
    mapped with the whitening in force, so they change nothing for the others.

    Args:
        config: Metric, temperature, projection, full-context and whitening settings.

    Example:
        >>> import torch
        >>> head = MatchingHead(HeadConfig(dim=2))
        >>> support = torch.tensor([[1.0, 0.0], [0.8, 0.2], [0.0, 1.0]])
        >>> head.process_support_set(support, torch.tensor([0, 0, 1]))
        >>> head(torch.tensor([[0.9, 0.1]])).shape
        torch.Size([1, 2])
    """

    def __init__(self, config: HeadConfig | None = None) -> None:
        super().__init__(config)
        dim = self.config.dim
        self.register_buffer("support", torch.empty(0, dim))  # (n_support, dim)
        self.register_buffer("support_columns", torch.empty(0, dtype=torch.long))  # (n_support,)
        self.register_buffer("centre", torch.zeros(dim))  # (dim,) support mean when whitening
        self.register_buffer("whitening_matrix", torch.eye(dim))  # (dim, dim)
        self.context: nn.LSTMCell | None = None
        if self.config.context_steps > 0:
            self.context = nn.LSTMCell(2 * dim, dim)
            self.context_gate = nn.Parameter(torch.zeros(dim))

    def _reset_support(self, support: torch.Tensor, columns: torch.Tensor) -> None:
        dim = self.config.dim
        self.centre, self.whitening_matrix = torch.zeros(dim), torch.eye(dim)
        if self.config.whitening is not None and not self.training:
            self.centre, self.whitening_matrix = ops.shrunk_whitening(
                support.detach(), columns, int(columns.max()) + 1, self.config.whitening
            )
        self.set_rows("support", self._normalise(support))
        self.set_rows("support_columns", columns)

    def _extend_row(self, support: torch.Tensor, column: int) -> None:
        self._add_rows(support, column)

    def _add_rows(self, support: torch.Tensor, column: int) -> None:
        self.append_rows("support", self._normalise(support))
        self.append_rows("support_columns", self.support_columns.new_full((len(support),), column))

    def _drop_column(self, column: int) -> None:
        last = self.n_classes - 1
        self.remove_rows(("support", "support_columns"), (self.support_columns == column).nonzero())
        if column != last:
            self.support_columns[self.support_columns == last] = column  # the last one moved

    def _normalise(self, embeddings: torch.Tensor) -> torch.Tensor:
        if self.config.whitening is not None:
            embeddings = (embeddings - self.centre) @ self.whitening_matrix  # (n, dim)
        return F.normalize(embeddings, dim=-1) if self.config.metric == "cosine" else embeddings

    def _pairwise(self, queries: torch.Tensor) -> torch.Tensor:
        if self.config.metric == "cosine":
            return self._normalise(queries) @ self.support.T  # (n_query, n_support)
        return -ops.squared_euclidean_distances(self._normalise(queries), self.support)

    def _full_context(self, queries: torch.Tensor) -> torch.Tensor:
        """Vinyals' ``f``: refine each query by reading the support set ``context_steps`` times."""
        hidden = torch.zeros_like(queries)  # (n_query, dim)
        cell = torch.zeros_like(queries)
        refined = queries
        for _ in range(self.config.context_steps):
            attention = (self._pairwise(refined) / self.temperature).softmax(dim=1)
            readout = attention @ self.support  # (n_query, dim)
            hidden, cell = self.context(torch.cat([queries, readout], dim=1), (hidden, cell))
            refined = queries + self.context_gate * hidden  # starts as the identity
        return refined

    def _score(self, queries: torch.Tensor) -> torch.Tensor:
        if self.context is not None:
            queries = self._full_context(queries)
        scaled = self._pairwise(queries) / self.temperature  # (n_query, n_support)
        logits = ops.class_logsumexp(scaled, self.support_columns, self.n_classes)
        return logits * self.temperature  # the base class divides by the temperature again
