"""The support-traffic proxy: its episodes, the semantic-router baseline, the table and script."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import FakeEncoder, write_intent_csv

from intentmeta.research.evaluate_open import load_pool
from intentmeta.research.support_traffic import (
    TrafficConfig,
    baseline_answers,
    prototype_cosine_scores,
    sample_traffic_episode,
    semantic_router_scores,
    traffic_cell,
    traffic_table,
)

ROOT = Path(__file__).parent.parent
TOPICS = ["parcel", "refund", "voucher", "invoice", "courier", "basket"]


def write_toy_data(folder: Path) -> Path:
    """Six intents; every other message is short (2 words), the others sentences (6 words)."""
    for split, n in (("train", 8), ("test", 6)):
        texts = [
            (t, f"{t} {i}" if i % 2 else f"my {t} {i} is late again")
            for t in TOPICS
            for i in range(n)
        ]
        rows = [(text, t) for t, text in texts]
        write_intent_csv(folder / f"{split}.csv", rows)
    return folder


def test_an_episode_asks_only_short_messages_half_of_them_out_of_scope(tmp_path):
    pool = load_pool(write_toy_data(tmp_path / "toy"), "test")
    episode = sample_traffic_episode(pool, n_intents=2, shots=3, max_words=3, seed=4)
    assert len(episode.known) == 2 and len(episode.support_texts) == 6
    assert all(len(text.split()) <= 3 for text in episode.query_texts)
    truth = episode.query_truth
    assert truth.count(None) == len(truth) - truth.count(None) == 2 * 3  # 3 short each
    assert set(truth) - {None} == set(episode.known)
    assert sample_traffic_episode(pool, 2, 3, 3, seed=4) == episode  # reproducible


def test_an_impossible_episode_is_refused_with_the_reason(tmp_path):
    pool = load_pool(write_toy_data(tmp_path / "toy"), "test")
    with pytest.raises(ValueError, match="n_intents must be 1 to 5"):
        sample_traffic_episode(pool, 6, 3, 3, seed=0)
    with pytest.raises(ValueError, match="no query of at most 1 words"):
        sample_traffic_episode(pool, 2, 3, 1, seed=0)


def router_by_hand(support, intents, query, top_k=5):
    """semantic-router 0.3's steps, one message at a time, written out plainly."""
    cosines = [float(F.cosine_similarity(query, row, dim=0)) for row in support]
    nearest = sorted(range(len(cosines)), key=lambda i: -cosines[i])[:top_k]
    votes: dict[str, list[float]] = {}
    for i in nearest:
        votes.setdefault(intents[i], []).append(cosines[i])
    winner = max(votes, key=lambda route: sum(votes[route]))
    return winner, max(votes[winner])


def test_the_router_baseline_follows_semantic_routers_steps():
    generator = torch.Generator().manual_seed(0)
    support = torch.randn(30, 8, generator=generator)
    intents = [random.Random(i).choice("abcde") for i in range(30)]
    queries = torch.randn(40, 8, generator=generator)
    scored = semantic_router_scores(support, intents, queries)
    for row, query in enumerate(queries):
        winner, score = router_by_hand(support, intents, query)
        assert scored.intent[row] == winner
        assert scored.score[row].item() == pytest.approx(score, abs=1e-5)


def test_the_fixed_thresholds_reject_below_half():
    support = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    queries = torch.tensor([[1.0, 0.1], [1.0, 1.0], [-1.0, -0.2]])
    answers = baseline_answers(support, ["a", "b"], queries, threshold=0.5)
    assert answers["cosine 0.5"].predicted == ["a", "a", None]
    assert answers["semantic-router"].predicted == ["a", "a", None]
    cosines = prototype_cosine_scores(support, ["a", "b"], queries).score
    assert cosines[1].item() == pytest.approx(0.7071, abs=1e-4)


def test_a_cell_scores_every_rule_on_every_encoder_and_the_table_shows_them(tmp_path):
    pool = load_pool(write_toy_data(tmp_path / "toy"), "test")
    config = TrafficConfig(intents=[3], shots=4, max_words=3, seeds=2)
    results = traffic_cell(pool, {"fake": (FakeEncoder(), {})}, 3, config)
    assert set(results) == {"intentmeta (fake)", "semantic-router (fake)", "cosine 0.5 (fake)"}
    for runs in results.values():
        assert len(runs) == 2 and all(-1 <= r["mcc"] <= 1 for r in runs)
    assert traffic_cell(pool, {"fake": (FakeEncoder(), {})}, 3, config) == results  # seeded
    table = traffic_table([{"data": "toy", "intents": 3, "results": results}])
    assert table.count("| toy | 3 |") == 3 and table.count("**") == 2
    assert "| intentmeta (fake) |" in table.split("mean MCC")[1]


def test_tuned_rules_learn_from_the_same_intents_validation_traffic(tmp_path):
    folder = write_toy_data(tmp_path / "toy")
    pool, val_pool = load_pool(folder, "test"), load_pool(folder, "val")
    config = TrafficConfig(intents=[3], shots=3, max_words=3, seeds=2)
    results = traffic_cell(pool, {"fake": (FakeEncoder(), {})}, 3, config, val_pool)
    tuned = {"intentmeta, calibrated", "semantic-router, best threshold", "cosine, best threshold"}
    assert {f"{name} (fake)" for name in tuned} < set(results)
    # calibrate() moved the probabilities: not the uncalibrated classifier's figures
    assert results["intentmeta, calibrated (fake)"] != results["intentmeta (fake)"]


def test_the_script_prints_the_table_and_keeps_every_seed(tmp_path):
    data = tmp_path / "data"
    write_toy_data(data / "toy")
    out = tmp_path / "traffic.json"
    arguments = ["--data", str(data), "--sets", "toy", "--split", "test", "--intents", "2"]
    arguments += ["--shots", "3", "--max-words", "3", "--seeds", "2", "--out", str(out)]
    done = subprocess.run(
        [sys.executable, "training/evaluate_support_traffic.py", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "| toy | 2 | intentmeta (all-MiniLM-L6-v2) |" in done.stdout
    assert len(json.loads(out.read_text())["cells"][0]["results"]) == 3
