"""Grouping message embeddings, estimating how many groups there are, and naming each group.

Thin, tested wrappers around scikit-learn (and scipy's hierarchical clustering) that
:mod:`intentmeta.discovery` and the discovery benchmark share:

* :func:`cluster`: Ward agglomerative clustering (k-means beyond ``max_ward`` messages);
* :func:`estimate_n_groups`: the number of groups, by one of :data:`ESTIMATORS`;
* :func:`group_names`: c-TF-IDF keywords (BERTopic's class-based TF-IDF, Grootendorst 2022).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import torch

#: Words of support messages that name no topic, beyond scikit-learn's English stop words.
FILLER_WORDS = frozenset(
    [
        "does",
        "did",
        "doing",
        "don",
        "dont",
        "want",
        "wanted",
        "need",
        "needs",
        "like",
        "just",
        "hi",
        "hello",
        "hey",
        "thanks",
        "thank",
        "im",
        "ive",
        "id",
        "would",
        "could",
    ]
)

#: Ways to estimate the number of groups.
ESTIMATORS = ("silhouette", "average_linkage", "hdbscan")


def cluster(
    embeddings: torch.Tensor, n_groups: int, *, max_ward: int = 20_000, seed: int = 0
) -> np.ndarray:
    """Partition unit-norm embeddings into ``n_groups`` groups.

    Args:
        embeddings: ``(n, dim)`` unit vectors.
        n_groups: How many groups (clamped to ``1..n``).
        max_ward: Above this many rows Ward's O(n^2) memory is too much; k-means is used.
        seed: k-means seed.

    Returns:
        ``(n,)`` group index of each row, in ``0..n_groups-1``.
    """
    from sklearn.cluster import AgglomerativeClustering, KMeans

    x = embeddings.double().numpy()
    n_groups = max(1, min(n_groups, len(x)))
    if n_groups == 1:
        return np.zeros(len(x), dtype=int)
    if len(x) <= max_ward:
        return AgglomerativeClustering(n_clusters=n_groups, linkage="ward").fit_predict(x)
    return KMeans(n_clusters=n_groups, n_init=3, random_state=seed).fit_predict(x)


def estimate_n_groups(
    embeddings: torch.Tensor,
    estimator: str = "silhouette",
    *,
    threshold: float = 0.5,
    min_group_size: int = 5,
    max_groups: int = 400,
    max_rows: int = 5_000,
    seed: int = 0,
) -> int:
    """How many groups the embeddings fall into.

    Args:
        embeddings: ``(n, dim)`` unit vectors.
        estimator: ``"silhouette"`` — the cut of the Ward tree with the best cosine silhouette;
            ``"average_linkage"`` — groups of average cosine distance below ``threshold``;
            ``"hdbscan"`` — clusters HDBSCAN finds (``min_group_size`` each).
        threshold: Distance cut of ``"average_linkage"``.
        min_group_size: Groups smaller than this (or than a tenth of a short log, at least
            two) are not counted: they are outliers. Not used by ``"silhouette"``.
        max_groups: Upper end of the silhouette search.
        max_rows: Estimate on a random sample of this many rows (the search holds an
            ``(n, n)`` matrix).
        seed: Seed of that sample.

    Returns:
        The estimated number of groups, at least 1.

    Raises:
        ValueError: For an unknown estimator.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; choose among {ESTIMATORS}")
    n = len(embeddings)
    if n < 3:
        return 1
    x = embeddings.double().numpy()
    if n > max_rows:
        x = x[np.random.default_rng(seed).choice(n, max_rows, replace=False)]
    if estimator == "silhouette":
        return _silhouette_k(x, max_groups)
    if estimator == "average_linkage":
        from sklearn.cluster import AgglomerativeClustering

        labels = AgglomerativeClustering(
            n_clusters=None, metric="cosine", linkage="average", distance_threshold=threshold
        ).fit_predict(x)
    else:
        from sklearn.cluster import HDBSCAN

        labels = HDBSCAN(min_cluster_size=min_group_size, copy=True).fit_predict(x)
    sizes = np.bincount(labels[labels >= 0])
    # In a short log (under 50 messages) a group of two or three is already a pattern.
    return max(1, int((sizes >= min(min_group_size, max(2, n // 10))).sum()))


def _silhouette_k(x: np.ndarray, max_groups: int) -> int:
    from scipy.cluster.hierarchy import fcluster, linkage
    from sklearn.metrics import silhouette_score

    tree = linkage(x, method="ward")
    distance = np.clip(1.0 - x @ x.T, 0.0, None)  # (n, n) cosine distance
    np.fill_diagonal(distance, 0.0)
    top = min(max_groups, len(x) - 1)
    # A geometric grid (about 4% apart) then a fine search around its best point.
    grid = sorted({int(k + 0.5) for k in np.geomspace(2, top, num=90)} | {top})
    score = {}
    for k in grid:
        labels = fcluster(tree, t=k, criterion="maxclust")
        if len(np.unique(labels)) > 1:
            score[k] = silhouette_score(distance, labels, metric="precomputed")
    if not score:
        return 1
    best = max(score, key=score.get)
    for k in range(max(2, int(best * 0.96)), min(top, int(best * 1.04) + 1) + 1):
        if k not in score:
            labels = fcluster(tree, t=k, criterion="maxclust")
            if len(np.unique(labels)) > 1:
                score[k] = silhouette_score(distance, labels, metric="precomputed")
    return max(score, key=score.get)


def group_names(
    texts: Sequence[str],
    groups: np.ndarray,
    n_groups: int,
    *,
    n_words: int = 2,
    taken: Sequence[str] = (),
) -> tuple[list[str], list[list[str]]]:
    """A readable name for each group from its most distinctive words (c-TF-IDF).

    Each group's messages form one document; a word scores ``tf(word, group) / words(group) *
    log(1 + mean words per group / frequency of the word in all groups)``.

    Args:
        texts: The messages.
        groups: ``(n,)`` group index of each message.
        n_groups: Number of groups (indices ``0..n_groups-1``).
        n_words: Words joined with ``_`` into a name.
        taken: Names not to reuse (existing intents); clashes get a numeric suffix.

    Returns:
        ``(names, keywords)``: one valid intent name and up to five keywords per group.
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

    documents = [" ".join(texts[i] for i in np.flatnonzero(groups == g)) for g in range(n_groups)]
    keywords: list[list[str]] = [[] for _ in range(n_groups)]
    try:
        vectorizer = CountVectorizer(
            stop_words=sorted(ENGLISH_STOP_WORDS | FILLER_WORDS),
            token_pattern=r"(?u)\b[^\W\d_]{2,}\b",
        )
        counts = vectorizer.fit_transform(documents).toarray().astype(float)  # (groups, vocab)
    except ValueError:  # nothing but stop words, digits and symbols
        counts = None
    if counts is not None:
        vocabulary = vectorizer.get_feature_names_out()
        words_per_group = counts.sum(axis=1, keepdims=True).clip(min=1)  # (groups, 1)
        idf = np.log(1 + words_per_group.mean() / counts.sum(axis=0).clip(min=1))  # (vocab,)
        scores = counts / words_per_group * idf  # (groups, vocab)
        for g in range(n_groups):
            best = np.argsort(-scores[g], kind="stable")[:5]
            keywords[g] = [str(vocabulary[j]) for j in best if scores[g, j] > 0]
    used = set(taken)
    names = []
    for g in range(n_groups):
        base = "_".join(keywords[g][:n_words]) or f"group_{g}"
        base = re.sub(r"[^\w]+", "_", base)[:56].strip("_") or f"group_{g}"
        name, suffix = base, 2
        while name in used:
            name, suffix = f"{base}_{suffix}", suffix + 1
        used.add(name)
        names.append(name)
    return names, keywords
