"""The discovery and mislabel evaluations, on a small synthetic data set and the fake encoder."""

from __future__ import annotations

import csv
import random

import pytest

from intentmeta.research.evaluate_discovery import (
    DiscoveryEvalConfig,
    clustering_scores,
    evaluate_discovery,
    format_discovery_table,
    hungarian_accuracy,
    safe_names,
)
from intentmeta.research.evaluate_mislabels import (
    MislabelConfig,
    evaluate_mislabels,
    format_mislabel_table,
)

TOPICS = {
    "track_order": "parcel",
    "refund?": "refund",
    "greeting": "hello",
    "password": "password",
    "gift_card": "giftcard",
    "address": "address",
}


@pytest.fixture
def dataset(tmp_path):
    """Six intents, each message its topic word (twice) and two filler words."""
    rng = random.Random(0)
    filler = [f"word{i}" for i in range(40)]
    for split, n in (("train", 20), ("test", 12)):
        with (tmp_path / f"{split}.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "category"])
            for intent, topic in TOPICS.items():
                for i in range(n):
                    words = [topic, topic, *rng.sample(filler, 2)]
                    writer.writerow([f"{' '.join(words)} {split}{i}", intent])
    return tmp_path


def test_hungarian_accuracy_matches_groups_one_to_one():
    assert hungarian_accuracy(["a", "a", "b", "b"], [7, 7, 3, 3]) == 1.0
    assert hungarian_accuracy(["a", "a", "b", "b"], [1, 1, 1, 1]) == 0.5
    assert hungarian_accuracy(["a", "b", "c"], [0, 0, 1]) == pytest.approx(2 / 3)


def test_clustering_scores_of_a_relabelled_partition_are_perfect():
    scores = clustering_scores(["x", "x", "y", "z"], ["g2", "g2", 0, "known"])
    assert scores == pytest.approx({"NMI": 100.0, "ARI": 100.0, "ACC": 100.0})


def test_safe_names_are_valid_intent_names():
    assert safe_names(["reverted_card_payment?", "a b/c"]) == ["reverted_card_payment_", "a_b_c"]


def test_discovery_evaluation_on_separable_intents(dataset, fake_encoder, tmp_path):
    config = DiscoveryEvalConfig(seeds=2, known_fractions=[0.5])
    results = evaluate_discovery(str(dataset), config, fake_encoder, str(tmp_path / "cache"), False)
    rows = results["rows"]
    assert results["n_intents"] == 6 and results["n_messages"] == 72
    assert rows["ours, K given"]["NMI"]["mean"] > 90
    assert rows["k-means (true K)"]["NMI"]["runs"].__len__() == 2
    assert rows["ours, 50% known, K given"]["ACC"]["mean"] > 80
    assert "ours, K estimated" in rows and "HDBSCAN (min cluster 5)" in rows
    assert "| ours, K given |" in format_discovery_table(results)


def test_mislabel_evaluation_flags_flipped_examples(dataset, fake_encoder, tmp_path):
    config = MislabelConfig(shots=10, flip=0.1, seeds=2, margins=[0.0, 0.2])
    results = evaluate_mislabels(str(dataset), config, str(tmp_path / "cache"), fake_encoder)
    default = results["sweep"]["0.2"]
    assert default["recall"]["mean"] > 0.8
    assert default["precision"]["mean"] > 0.8
    assert results["accuracy"]["fixed"]["mean"] >= results["accuracy"]["noisy"]["mean"]
    assert "| suspect margin |" in format_mislabel_table(results)
