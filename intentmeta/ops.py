"""Few-shot tensor maths as small pure functions; every shape is in the docstring."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def compute_prototypes(support: torch.Tensor, labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Mean support embedding of each class.

    Args:
        support: ``(n_support, dim)`` embeddings.
        labels: ``(n_support,)`` class indices in ``[0, n_classes)``.
        n_classes: Number of classes; every class must have at least one example.

    Returns:
        ``(n_classes, dim)`` prototypes.
    """
    sums = class_sums(support, labels, n_classes)  # (n_classes, dim)
    counts = torch.bincount(labels, minlength=n_classes).clamp(min=1)  # (n_classes,)
    return sums / counts.unsqueeze(1).to(sums.dtype)


def class_sums(support: torch.Tensor, labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Sum of the support embeddings of each class.

    Args:
        support: ``(n_support, dim)`` embeddings.
        labels: ``(n_support,)`` class indices in ``[0, n_classes)``.
        n_classes: Number of classes.

    Returns:
        ``(n_classes, dim)`` sums.
    """
    sums = support.new_zeros(n_classes, support.shape[1])
    return sums.index_add_(0, labels, support)


def cosine_similarity_matrix(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of every query to every key.

    Args:
        queries: ``(n_query, dim)``.
        keys: ``(n_key, dim)``.

    Returns:
        ``(n_query, n_key)`` similarities in ``[-1, 1]``.
    """
    return F.normalize(queries, dim=-1) @ F.normalize(keys, dim=-1).T


def squared_euclidean_distances(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distance of every query to every key.

    Args:
        queries: ``(n_query, dim)``.
        keys: ``(n_key, dim)``.

    Returns:
        ``(n_query, n_key)`` non-negative distances.
    """
    return torch.cdist(queries, keys).pow(2)


def class_logsumexp(scores: torch.Tensor, labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Pool per-example scores into per-class logits: ``log sum_{i in c} exp(score_i)``.

    A softmax over the result equals the attention mass each class receives in a softmax over
    all examples, i.e. Matching Networks' ``P(c | x) = sum_i a(x, x_i) 1[y_i = c]``, while the
    values stay unnormalised logits.

    Args:
        scores: ``(n_query, n_support)`` scaled similarities.
        labels: ``(n_support,)`` class indices in ``[0, n_classes)``.
        n_classes: Number of classes; each must own at least one example.

    Returns:
        ``(n_query, n_classes)`` logits.
    """
    row_max = scores.max(dim=1, keepdim=True).values  # (n_query, 1), for a stable exp
    weights = (scores - row_max).exp()  # (n_query, n_support)
    mass = weights.new_zeros(scores.shape[0], n_classes)
    mass.index_add_(1, labels, weights)  # (n_query, n_classes)
    return mass.clamp(min=torch.finfo(mass.dtype).tiny).log() + row_max
