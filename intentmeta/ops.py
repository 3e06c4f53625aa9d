"""Few-shot tensor maths as small pure functions; every shape is in the docstring."""

from __future__ import annotations

from collections.abc import Callable

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

    The covariance (divided by ``n_support - n_classes``) is shrunk toward a multiple of the
    identity (Ledoit & Wolf's target) by ``sklearn.covariance.shrunk_covariance``:
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
    from sklearn.covariance import shrunk_covariance  # imported here: scipy loads slowly

    residuals = support - compute_prototypes(support, labels, n_classes)[labels]  # (n_s, dim)
    covariance = residuals.T @ residuals / max(len(support) - n_classes, 1)  # (dim, dim)
    shrunk = torch.from_numpy(shrunk_covariance(covariance.cpu().numpy(), shrinkage))
    shrunk = shrunk.to(support.dtype)  # (dim, dim)
    eigenvalues, eigenvectors = torch.linalg.eigh(shrunk)
    whitening = (eigenvectors / eigenvalues.clamp(min=1e-12).sqrt()) @ eigenvectors.T
    return support.mean(dim=0), whitening


#: Bound on ``|fp16 dot product - fp32 dot product| / (|q| |r|)`` for :func:`half_precision_scores`:
#: rounding both operands to fp16 (2u), the fp32 sum of 384 exact products (~384 * 2^-24) and the
#: fp16 result (u), with u = 2^-11, come to 1.49e-3; 2^-9 leaves a third of headroom.
HALF_PRECISION_ERROR = 2.0**-9


def half_precision_scores(unit_queries: torch.Tensor, half_rows: torch.Tensor) -> torch.Tensor:
    """Cheap first-pass dot products in fp16, half the memory traffic of fp32.

    Within ``HALF_PRECISION_ERROR * |q| * |r| + 1e-6`` of the fp32 product (the products
    of fp16 values are summed in fp32 on the CPU; ``tests/test_shortlist.py`` checks it).

    Args:
        unit_queries: ``(n_query, dim)`` float32 queries.
        half_rows: ``(n, dim)`` float16 rows.

    Returns:
        ``(n_query, n)`` float32 approximate dot products.
    """
    return (unit_queries.half() @ half_rows.T).float()


def bounded_top_k(
    approx: torch.Tensor,
    upper: torch.Tensor,
    exact: Callable[[torch.Tensor], torch.Tensor],
    k: int,
    first: int = 8,
    limit: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Top-``k`` classes of each query, scoring exactly only the classes that could be.

    The ``first`` classes by ``approx`` are scored exactly; then every class whose ``upper``
    bound reaches a query's k-th best exact score so far, best bounds first and at most
    ``limit`` classes in all. A class left out while the limit was not reached has an upper
    bound below k exact scores, so it cannot be among the top ``k``: the answer is exact.

    Args:
        approx: ``(n_query, n)`` cheap estimates that rank the first shortlist.
        upper: ``(n_query, n)`` upper bounds of the exact scores.
        exact: ``(m,)`` column indices -> ``(n_query, m)`` exact scores.
        k: Classes wanted per query.
        first: Size of the first shortlist (at least ``k``).
        limit: Most classes scored exactly (at least ``first``); ``None``: no limit.

    Returns:
        ``(n_query, k)`` best scores, ``(n_query, k)`` their columns, the ``(m,)`` columns
        scored exactly, their ``(n_query, m)`` exact scores, and ``(n_query,)`` whether every
        class that could reach a query's top ``k`` was scored (the answer is then exact).
    """
    n_query, n = approx.shape
    k = min(k, n)
    width = min(n, max(k, first))
    if width == n:  # every class: nothing is left to bound
        columns = torch.arange(n)
        scores = exact(columns)  # (n_query, n)
        best = scores.topk(k, dim=1)
        return best.values, best.indices, columns, scores, torch.ones(n_query, dtype=torch.bool)
    top = approx.topk(width, dim=1).indices  # (n_query, width)
    # One query's indices are distinct: sorting them is what unique() gives, for less.
    columns = top[0].sort().values if n_query == 1 else top.unique()  # (m,)
    scores = exact(columns)  # (n_query, m)
    kth = scores.topk(k, dim=1).values[:, -1:]  # (n_query, 1): a lower bound of the k-th best
    possible = upper >= kth  # (n_query, n)
    possible[:, columns] = False
    more = (possible[0] if n_query == 1 else possible.any(dim=0)).nonzero()[:, 0]  # (r,)
    if limit is not None and len(columns) + len(more) > limit:
        ranking = upper[:, more].max(dim=0).values  # (r,)
        more = more[ranking.topk(max(limit - len(columns), 0)).indices]
    if more.numel():
        columns, scores = torch.cat([columns, more]), torch.cat([scores, exact(more)], dim=1)
    possible[:, more] = False
    best = scores.topk(k, dim=1)
    return best.values, columns[best.indices], columns, scores, ~possible.any(dim=1)


#: Up to this many rows, :func:`chosen_and_runner_up` scores all of them exactly in one product.
EXACT_ROWS = 128


def chosen_and_runner_up(
    unit_queries: torch.Tensor, rows: torch.Tensor, half_rows: torch.Tensor, best: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each query's dot product with its chosen row, and its best with any other row.

    Exactly what the full ``(n_query, n)`` float32 product would give, reading the rows in
    fp16: a row whose fp16 score is more than twice :data:`HALF_PRECISION_ERROR` below the
    best other fp16 score cannot be the runner-up, and the few others are scored in float32.

    Args:
        unit_queries: ``(n_query, dim)`` unit vectors.
        rows: ``(n, dim)`` unit rows (float32).
        half_rows: The same rows in float16.
        best: ``(n_query,)`` the chosen row of each query.

    Returns:
        ``(n_query,)`` chosen dot products and ``(n_query,)`` runner-up dot products
        (``-inf`` when there is a single row).
    """
    if rows.shape[0] <= EXACT_ROWS:  # a small registry: one exact product is cheaper
        exact = unit_queries @ rows.T  # (n_query, n)
        chosen = exact.gather(1, best[:, None])[:, 0]  # (n_query,)
        return chosen, exact.scatter_(1, best[:, None], -torch.inf).max(dim=1).values
    chosen = (unit_queries * rows[best]).sum(dim=1)  # (n_query,)
    approx = half_precision_scores(unit_queries, half_rows)  # (n_query, n)
    chosen_column = best[:, None]  # (n_query, 1)
    approx.scatter_(1, chosen_column, -torch.inf)
    slack = 2 * (HALF_PRECISION_ERROR + 1e-6)
    possible = approx >= approx.max(dim=1, keepdim=True).values - slack  # (n_query, n)
    possible.scatter_(1, chosen_column, False)
    single = unit_queries.shape[0] == 1
    columns = (possible[0] if single else possible.any(dim=0)).nonzero()[:, 0]  # (m,) union
    if not columns.shape[0]:  # a single row: no runner-up
        return chosen, torch.full_like(chosen, -torch.inf)
    exact = unit_queries @ rows[columns].T  # (n_query, m)
    if not single:  # a column another query made possible is not this one's runner-up
        exact = exact.masked_fill(~possible[:, columns], -torch.inf)
    return chosen, exact.max(dim=1).values
