"""Few-shot sampling: K examples per intent, class-disjoint splits, and N-way K-shot episodes."""

from __future__ import annotations

import random
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass


def group_indices(labels: Sequence[Hashable]) -> dict[Hashable, list[int]]:
    """Row indices of each label, labels in order of first appearance.

    >>> group_indices(["a", "b", "a"])
    {'a': [0, 2], 'b': [1]}
    """
    groups: dict[Hashable, list[int]] = {}
    for index, label in enumerate(labels):
        groups.setdefault(label, []).append(index)
    return groups


def sample_k_shot(labels: Sequence[Hashable], k: int, seed: int = 0) -> list[int]:
    """Pick ``k`` rows of every label at random, reproducibly.

    A label with fewer than ``k`` rows gives all of them.

    Args:
        labels: The label of each row (strings or integers).
        k: Rows per label.
        seed: The same seed and labels always give the same rows.

    Returns:
        Row indices, grouped by label in order of first appearance, sorted within a label.

    Raises:
        ValueError: If ``k`` is not positive.

    >>> sample_k_shot(["a", "b", "a", "a", "b"], k=1, seed=0) == sample_k_shot(
    ...     ["a", "b", "a", "a", "b"], k=1, seed=0)
    True
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    rng = random.Random(seed)
    chosen: list[int] = []
    for rows in group_indices(labels).values():
        chosen.extend(sorted(rng.sample(rows, min(k, len(rows)))))
    return chosen


def class_disjoint_split(
    intents: Sequence[Hashable], fractions: Sequence[float] | Sequence[int], seed: int = 0
) -> list[list[Hashable]]:
    """Shuffle intents and cut them into disjoint groups (e.g. meta-train / meta-val / meta-test).

    Args:
        intents: Distinct intent names (or ids); repeats are dropped.
        fractions: Either fractions summing to 1 (``[0.6, 0.2, 0.2]``), or integer group sizes
            summing to at most ``len(intents)``; the last group then gets exactly its size.
        seed: The same seed gives the same groups.

    Returns:
        One list of intents per fraction, pairwise disjoint, each sorted in input order.

    Raises:
        ValueError: If the fractions or sizes do not fit the number of intents.

    >>> class_disjoint_split(["a", "b", "c", "d"], [2, 2], seed=1)[0] != []
    True
    """
    unique = list(dict.fromkeys(intents))
    order = {intent: i for i, intent in enumerate(unique)}
    if all(isinstance(f, int) and not isinstance(f, bool) for f in fractions):
        sizes = [int(f) for f in fractions]
        if sum(sizes) > len(unique) or min(sizes, default=0) < 0:
            raise ValueError(f"group sizes {sizes} do not fit {len(unique)} intents")
    else:
        if any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
            raise ValueError(f"fractions must be non-negative and sum to 1, not {fractions}")
        sizes = [round(f * len(unique)) for f in fractions[:-1]]
        sizes.append(len(unique) - sum(sizes))
        if sizes[-1] < 0:
            raise ValueError(f"fractions {fractions} do not fit {len(unique)} intents")
    shuffled = unique[:]
    random.Random(seed).shuffle(shuffled)
    groups, start = [], 0
    for size in sizes:
        groups.append(sorted(shuffled[start : start + size], key=order.__getitem__))
        start += size
    return groups


def meta_split(
    intents: Sequence[Hashable], seed: int = 0
) -> tuple[list[Hashable], list[Hashable], list[Hashable]]:
    """The project's standard class-disjoint split: 60% meta-train, 20% meta-val, 20% meta-test.

    Meta-training draws episodes from the first group and stops early on the second; episodic
    evaluation uses only the third, so reported episodes never contain a trained-on intent.

    Args:
        intents: Distinct intents of a data set.
        seed: Seed of the shuffle; 0 is the one every script uses.

    Returns:
        ``(meta_train, meta_val, meta_test)`` intents.
    """
    train, val, test = class_disjoint_split(intents, [0.6, 0.2, 0.2], seed)
    return train, val, test


@dataclass
class Episode:
    """One N-way K-shot task.

    Attributes:
        support_indices: Rows of the support set (``n_way * k_shot``).
        support_labels: Episode label ``0..n_way-1`` of each support row.
        query_indices: Rows of the query set (``n_way * n_query``).
        query_labels: Episode label of each query row.
        classes: The original label of each episode label.
    """

    support_indices: list[int]
    support_labels: list[int]
    query_indices: list[int]
    query_labels: list[int]
    classes: list[Hashable]


class EpisodeSampler:
    """Random N-way K-shot episodes over labelled rows, reproducible from a seed.

    Each episode draws ``n_way`` labels among those with at least ``k_shot + n_query`` rows,
    then ``k_shot`` support and ``n_query`` query rows of each, without overlap. Labels are
    re-indexed ``0..n_way-1`` in the order drawn.

    Args:
        labels: The label of each row (strings or integers).
        n_way: Classes per episode.
        k_shot: Support rows per class.
        n_query: Query rows per class.
        seed: Seed of the episode stream.
        n_episodes: How many episodes one iteration yields (``None``: endless).

    Raises:
        ValueError: If fewer than ``n_way`` labels have enough rows.

    Example:
        >>> sampler = EpisodeSampler(["a"] * 5 + ["b"] * 5 + ["c"] * 5, n_way=2, k_shot=1,
        ...                          n_query=2, seed=0, n_episodes=3)
        >>> episode = next(iter(sampler))
        >>> episode.support_labels, episode.query_labels
        ([0, 1], [0, 0, 1, 1])
    """

    def __init__(
        self,
        labels: Sequence[Hashable],
        n_way: int,
        k_shot: int,
        n_query: int,
        seed: int = 0,
        n_episodes: int | None = None,
    ) -> None:
        if min(n_way, k_shot) < 1 or n_query < 0:
            raise ValueError("n_way and k_shot must be at least 1 and n_query at least 0")
        self.n_way, self.k_shot, self.n_query = n_way, k_shot, n_query
        self.seed = seed
        self.n_episodes = n_episodes
        groups = group_indices(labels)
        self.groups = {c: rows for c, rows in groups.items() if len(rows) >= k_shot + n_query}
        if len(self.groups) < n_way:
            raise ValueError(
                f"only {len(self.groups)} classes have {k_shot + n_query} rows; "
                f"{n_way}-way episodes need {n_way}"
            )
        self._classes = list(self.groups)

    def __len__(self) -> int:
        if self.n_episodes is None:
            raise TypeError("an endless sampler has no length")
        return self.n_episodes

    def __iter__(self) -> Iterator[Episode]:
        rng = random.Random(self.seed)
        count = 0
        while self.n_episodes is None or count < self.n_episodes:
            yield self.sample(rng)
            count += 1

    def sample(self, rng: random.Random) -> Episode:
        """Draw one episode with the given random generator."""
        classes = rng.sample(self._classes, self.n_way)
        support, support_labels, query, query_labels = [], [], [], []
        for episode_label, cls in enumerate(classes):
            rows = rng.sample(self.groups[cls], self.k_shot + self.n_query)
            support += rows[: self.k_shot]
            support_labels += [episode_label] * self.k_shot
            query += rows[self.k_shot :]
            query_labels += [episode_label] * self.n_query
        return Episode(support, support_labels, query, query_labels, classes)
