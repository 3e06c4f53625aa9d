"""Samplers: K per class, class-disjointness, reproducible seeds."""

from __future__ import annotations

from collections import Counter

import pytest

from intentmeta.research.episodes import (
    EpisodeSampler,
    class_disjoint_split,
    meta_split,
    sample_k_shot,
)

LABELS = [f"intent{i % 7}" for i in range(70)]  # 7 intents, 10 rows each


def test_k_shot_sample_takes_k_rows_of_every_intent():
    rows = sample_k_shot(LABELS, k=3, seed=0)
    assert Counter(LABELS[i] for i in rows) == {f"intent{c}": 3 for c in range(7)}
    assert len(set(rows)) == len(rows)


def test_k_shot_sample_is_reproducible_and_seed_dependent():
    assert sample_k_shot(LABELS, 2, seed=4) == sample_k_shot(LABELS, 2, seed=4)
    assert sample_k_shot(LABELS, 2, seed=4) != sample_k_shot(LABELS, 2, seed=5)


def test_k_shot_sample_gives_all_rows_of_a_small_intent():
    rows = sample_k_shot(["a", "a", "b"], k=5)
    assert sorted(rows) == [0, 1, 2]


def test_class_disjoint_split_by_fractions_covers_every_intent_once():
    intents = [f"i{n}" for n in range(10)]
    groups = class_disjoint_split(intents, [0.6, 0.2, 0.2], seed=1)
    assert [len(g) for g in groups] == [6, 2, 2]
    assert sorted(i for group in groups for i in group) == sorted(intents)


def test_class_disjoint_split_by_sizes_and_seed():
    intents = list(range(20))
    first = class_disjoint_split(intents, [5, 5], seed=3)
    assert [len(g) for g in first] == [5, 5]
    assert not set(first[0]) & set(first[1])
    assert first == class_disjoint_split(intents, [5, 5], seed=3)
    assert first != class_disjoint_split(intents, [5, 5], seed=4)


def test_class_disjoint_split_rejects_bad_fractions():
    with pytest.raises(ValueError):
        class_disjoint_split(["a", "b"], [0.5, 0.6])
    with pytest.raises(ValueError):
        class_disjoint_split(["a", "b"], [2, 1])


def test_episodes_have_n_way_k_shot_and_disjoint_support_and_query():
    sampler = EpisodeSampler(LABELS, n_way=5, k_shot=2, n_query=3, seed=0, n_episodes=20)
    episodes = list(sampler)
    assert len(episodes) == len(sampler) == 20
    for episode in episodes:
        assert Counter(episode.support_labels) == {c: 2 for c in range(5)}
        assert Counter(episode.query_labels) == {c: 3 for c in range(5)}
        assert not set(episode.support_indices) & set(episode.query_indices)
        for rows, labels in [
            (episode.support_indices, episode.support_labels),
            (episode.query_indices, episode.query_labels),
        ]:
            assert all(
                LABELS[r] == episode.classes[lab] for r, lab in zip(rows, labels, strict=True)
            )


def test_episodes_are_reproducible_from_the_seed():
    def draw(seed):
        sampler = EpisodeSampler(list(range(10)) * 4, 3, 1, 2, seed=seed, n_episodes=5)
        return [e.support_indices + e.query_indices for e in sampler]

    assert draw(0) == draw(0)
    assert draw(0) != draw(1)


def test_episode_sampler_needs_enough_rich_classes():
    with pytest.raises(ValueError, match="5-way"):
        EpisodeSampler(["a"] * 10 + ["b"] * 10, n_way=5, k_shot=1, n_query=1)


def test_meta_split_gives_three_disjoint_groups_covering_all_intents():
    intents = [f"i{n}" for n in range(77)]
    train, val, test = meta_split(intents)
    assert (len(train), len(val), len(test)) == (46, 15, 16)
    assert not (set(train) & set(val) or set(train) & set(test) or set(val) & set(test))
    assert meta_split(intents) == (train, val, test)
