"""Matching Networks' full-context query embedding: an attention LSTM that reads the support set."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from intentmeta.heads.config import HeadConfig


@dataclass
class FullContextConfig:
    """How a query reads the support set before it is scored.

    Attributes:
        steps: Processing steps of the attention LSTM (0: no full-context embedding).
    """

    steps: int = 1  # one read of the support set (HeadConfig.context_steps = 0 leaves it out)

    @classmethod
    def of(cls, config: HeadConfig) -> FullContextConfig:
        """The full-context settings of a head's config (its ``context_steps``)."""
        return cls(config.context_steps)


class FullContextEmbedding(nn.Module):
    """Vinyals' ``f`` (Vinyals et al., 2016, arXiv:1606.04080, appendix A.1).

    Each step reads the support set with the refined query's attention (a softmax over its
    scaled similarities to the examples), and an LSTM cell takes
    the query and that readout; the refined query is ``query + gate * hidden``. The gate starts
    at zero, so an untrained embedding is the identity and the head the parameter-free one. The
    support-side bidirectional LSTM ``g`` is left out on purpose: it would make each intent's
    embeddings depend on every other intent, and adding an intent would re-embed them all.

    Example:
        >>> context = FullContextEmbedding(FullContextConfig(steps=2), dim=2)
        >>> support = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> context(torch.tensor([[0.6, 0.8]]), support, lambda q: q @ support.T)  # gate closed
        tensor([[0.6000, 0.8000]], grad_fn=<AddBackward0>)
    """

    def __init__(self, config: FullContextConfig, dim: int) -> None:
        super().__init__()
        self.config = config
        self.cell = nn.LSTMCell(2 * dim, dim)
        self.gate = nn.Parameter(torch.zeros(dim))  # (dim,)

    def forward(
        self,
        queries: torch.Tensor,
        support: torch.Tensor,
        similarities: Callable[[torch.Tensor], torch.Tensor],
    ) -> torch.Tensor:
        """Refine queries by reading the support set ``steps`` times.

        Args:
            queries: ``(n_query, dim)`` embeddings.
            support: ``(n_support, dim)`` embeddings read out by the attention.
            similarities: ``(n_query, dim)`` refined queries -> ``(n_query, n_support)`` scaled
                similarities, whose softmax over the examples is the attention.

        Returns:
            ``(n_query, dim)`` refined queries.
        """
        hidden = torch.zeros_like(queries)  # (n_query, dim)
        cell = torch.zeros_like(queries)
        refined = queries
        for _ in range(self.config.steps):
            attention = similarities(refined).softmax(dim=1)  # (n_query, n_support)
            readout = attention @ support  # (n_query, dim)
            hidden, cell = self.cell(torch.cat([queries, readout], dim=1), (hidden, cell))
            refined = queries + self.gate * hidden  # starts as the identity
        return refined
