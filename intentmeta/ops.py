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


def class_max(scores: torch.Tensor, labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """The best score of each class's examples: nearest-example evidence.

    Args:
        scores: ``(n_query, n_support)`` similarities.
        labels: ``(n_support,)`` class indices in ``[0, n_classes)``.
        n_classes: Number of classes; each must own at least one example.

    Returns:
        ``(n_query, n_classes)`` maxima.
    """
    best = scores.new_full((scores.shape[0], n_classes), -torch.inf)
    index = labels.unsqueeze(0).expand_as(scores)  # (n_query, n_support)
    return best.scatter_reduce(1, index, scores, reduce="amax")


def shrunk_whitening(
    support: torch.Tensor, labels: torch.Tensor, n_classes: int, shrinkage: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Centre and whitening matrix from the pooled within-class covariance of a support set.

    The covariance is shrunk toward a multiple of the identity (Ledoit & Wolf's target):
    ``(1 - shrinkage) * S + shrinkage * trace(S) / dim * I``, so a few examples per class still
    give a well-conditioned ``S^(-1/2)``.

    Args:
        support: ``(n_support, dim)`` embeddings.
        labels: ``(n_support,)`` class indices in ``[0, n_classes)``.
        n_classes: Number of classes.
        shrinkage: Weight of the isotropic target, in ``(0, 1]``.

    Returns:
        The ``(dim,)`` centre and the ``(dim, dim)`` whitening matrix.
    """
    dim = support.shape[1]
    residuals = support - compute_prototypes(support, labels, n_classes)[labels]  # (n_s, dim)
    covariance = residuals.T @ residuals / max(len(support) - n_classes, 1)  # (dim, dim)
    isotropic = covariance.trace() / dim * torch.eye(dim, dtype=support.dtype)
    shrunk = (1 - shrinkage) * covariance + shrinkage * isotropic
    eigenvalues, eigenvectors = torch.linalg.eigh(shrunk)
    whitening = (eigenvectors / eigenvalues.clamp(min=1e-12).sqrt()) @ eigenvectors.T
    return support.mean(dim=0), whitening
