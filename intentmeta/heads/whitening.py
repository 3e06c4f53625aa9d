"""Support-set whitening: directions in which one intent's examples vary a lot count less."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from intentmeta import ops
from intentmeta.heads.config import HeadConfig


@dataclass
class WhiteningConfig:
    """How the embedding space is whitened.

    Attributes:
        shrinkage: Weight of the isotropic target the within-class covariance is shrunk toward,
            in ``(0, 1]``; ``None`` turns whitening off (the map is the identity).
    """

    shrinkage: float | None = 0.7  # chosen on BANKING77/CLINC150 validation splits, T=0.1

    @classmethod
    def of(cls, config: HeadConfig) -> WhiteningConfig:
        """The whitening settings of a head's config (its ``whitening``)."""
        return cls(config.whitening)


class SupportWhitening(nn.Module):
    """Maps embeddings to ``(x - centre) @ W``, fitted on a whole support set.

    ``W`` is the inverse square root of the pooled within-class covariance, shrunk toward
    isotropy (:func:`intentmeta.ops.shrunk_whitening`). It is fitted only when a whole support
    set is processed outside training; classes added one at a time are mapped with the
    whitening in force, so they change nothing for the others. Off (``shrinkage=None``), or
    before a fit, embeddings pass unchanged or through the identity map.

    Example:
        >>> whitening = SupportWhitening(WhiteningConfig(shrinkage=0.5), dim=2)
        >>> support = torch.tensor([[1.0, 0.0], [3.0, 0.1], [0.0, 1.0], [0.0, 3.0]])
        >>> whitening.reset(support, torch.tensor([0, 0, 1, 1]), fit=True)
        >>> whitening(support).shape
        torch.Size([4, 2])
    """

    def __init__(self, config: WhiteningConfig, dim: int) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("centre", torch.zeros(dim))  # (dim,) support mean
        self.register_buffer("matrix", torch.eye(dim))  # (dim, dim)

    def reset(self, support: torch.Tensor, columns: torch.Tensor, fit: bool) -> None:
        """Back to the identity, then (if on and ``fit``) fit ``(n_support, dim)`` support."""
        dim = self.centre.shape[0]
        self.centre, self.matrix = torch.zeros(dim), torch.eye(dim)
        if self.config.shrinkage is not None and fit:
            self.centre, self.matrix = ops.shrunk_whitening(
                support.detach(), columns, int(columns.max()) + 1, self.config.shrinkage
            )

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        """``(n, dim)`` embeddings in the whitened space (unchanged when off)."""
        if self.config.shrinkage is None:
            return embeddings
        return (embeddings - self.centre) @ self.matrix  # (n, dim)
