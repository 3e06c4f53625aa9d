"""The on-disk embedding cache and the evaluation protocols, on fake encoders and toy embeddings."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

from intentmeta.research.embedding_cache import EmbeddingCache, cached_encode, default_cache_dir
from intentmeta.research.episodes import meta_split
from intentmeta.research.evaluate import (
    METHODS,
    EvalConfig,
    episodic_eval,
    evaluate,
    full_class_eval,
)
from intentmeta.research.evaluate_report import format_table, plot_accuracy, save_results
from intentmeta.research.statistics import mean_ci


def test_cached_encode_skips_encoding_on_the_second_run(fake_encoder, tmp_path):
    texts = ["where is my parcel", "refund my money", "where is my parcel"]
    first = cached_encode(fake_encoder, texts, tmp_path, progress=False)
    calls = fake_encoder.calls
    second = cached_encode(fake_encoder, texts, tmp_path, progress=False)
    assert fake_encoder.calls == calls
    assert torch.equal(first, second)
    assert torch.allclose(first, fake_encoder.encode(texts))


def test_cached_encode_encodes_only_the_new_texts(fake_encoder, tmp_path):
    cached_encode(fake_encoder, ["hello there"], tmp_path, progress=False)
    seen = []
    original = fake_encoder.encode

    def spy(texts, *, progress=False):
        seen.extend(texts)
        return original(texts, progress=progress)

    fake_encoder.encode = spy
    cached_encode(fake_encoder, ["hello there", "good morning"], tmp_path, progress=False)
    assert seen == ["good morning"]


def test_cache_keeps_encoders_apart(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.put("model-a", ["hi"], torch.ones(1, 2))
    assert cache.get("model-b", ["hi"]) == {}
    assert torch.equal(cache.get("model-a", ["hi"])["hi"], torch.ones(2))


def test_cache_directory_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("INTENTMETA_CACHE", str(tmp_path / "elsewhere"))
    assert default_cache_dir() == tmp_path / "elsewhere"


def clusters(n_classes: int, per_class: int, dim: int = 16, spread: float = 0.05, seed: int = 0):
    """Well-separated Gaussian clusters: every sensible method classifies them perfectly."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.eye(dim)[:n_classes] * 3  # (n_classes, dim), orthogonal
    labels = [f"intent{c}" for c in range(n_classes) for _ in range(per_class)]
    noise = spread * torch.randn(len(labels), dim, generator=generator)
    rows = torch.stack([centres[int(label[6:])] for label in labels]) + noise  # (n, dim)
    return torch.nn.functional.normalize(rows, dim=-1), labels


def test_t_interval_matches_scipy():
    values = [71.2, 74.9, 73.3, 70.8, 75.6]
    mean, half = mean_ci(values)
    low, high = stats.t.interval(0.95, df=4, loc=np.mean(values), scale=stats.sem(values))
    assert mean == pytest.approx(np.mean(values))
    assert (mean - half, mean + half) == pytest.approx((low, high))


def test_t_interval_of_one_value_is_undefined():
    assert math.isnan(mean_ci([3.0])[1])


def test_every_method_is_perfect_on_separable_clusters():
    train_x, train_y = clusters(6, 12, seed=1)
    test_x, test_y = clusters(6, 8, seed=2)
    config = EvalConfig(shots=[1, 3], seeds=2)
    results = full_class_eval(train_x, train_y, test_x, test_y, config, progress=False)
    assert set(results) == {"1", "3"}
    for row in results.values():
        assert set(row) == set(METHODS)
        for scores in row.values():
            assert scores["accuracy"]["values"] == [100.0] * 2
            assert scores["macro_f1"]["mean"] == pytest.approx(100.0)


def test_methods_tell_overlapping_clusters_apart_less_than_perfectly():
    train_x, train_y = clusters(6, 12, spread=2.0, seed=1)
    test_x, test_y = clusters(6, 30, spread=2.0, seed=2)
    config = EvalConfig(shots=[1], seeds=2, methods=["prototypical", "nearest_neighbour"])
    results = full_class_eval(train_x, train_y, test_x, test_y, config, progress=False)
    for scores in results["1"].values():
        assert 100 / 6 / 2 < scores["accuracy"]["mean"] < 100


def test_episodes_on_separable_clusters_are_all_correct():
    x, y = clusters(8, 10, seed=3)
    config = EvalConfig(episodes=20, n_way=3, n_query=4)
    results = episodic_eval(x, y, config, k_shot=1, progress=False)
    for scores in results.values():
        assert scores["accuracy"]["values"] == [100.0] * 20


def test_default_method_classifies_through_the_intent_classifier():
    x, y = clusters(4, 6, seed=4)
    labels = torch.tensor([int(label[6:]) for label in y])
    predicted = METHODS["default"](x[::2], labels[::2], x[1::2], 4)
    assert torch.equal(predicted, labels[1::2])


def write_toy_set(directory, words, per_intent):
    directory.mkdir()
    for split, start in [("train", 0), ("test", per_intent)]:
        rows = ["text,label"]
        for word in words:
            rows += [
                f"{word} {word} message {i},{word}_intent" for i in range(start, start + per_intent)
            ]
        (directory / f"{split}.csv").write_text("\n".join(rows) + "\n")


def test_evaluate_runs_both_protocols_and_writes_json_and_plot(fake_encoder, tmp_path):
    words = [
        "parcel",
        "refund",
        "hello",
        "invoice",
        "password",
        "weather",
        "music",
        "train",
        "pizza",
        "movie",
    ]
    write_toy_set(tmp_path / "toy", words, per_intent=6)
    methods = ["prototypical", "logistic_regression"]  # the default head is tested above
    config = EvalConfig(
        shots=[1, 2],
        seeds=2,
        episodes=10,
        n_way=2,
        episode_shots=[1, 3],
        n_query=2,
        methods=methods,
    )
    results = evaluate(str(tmp_path / "toy"), config, fake_encoder, str(tmp_path / "cache"), False)
    assert results["n_intents"] == 10 and results["split"] == "test"
    assert results["full_class"]["2"]["prototypical"]["accuracy"]["mean"] > 90
    assert set(results["episodic"]) == {"2-way 1-shot", "2-way 3-shot"}
    assert not set(results["episodic_intents"]) & set(meta_split([f"{w}_intent" for w in words])[0])
    json_path = save_results(results, tmp_path / "out")
    assert json.loads(json_path.read_text())["dataset"] == "toy"
    png = plot_accuracy([results, results], tmp_path / "out" / "plot.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert "| prototypical |" in format_table(results)


def test_validation_mode_holds_out_part_of_train(fake_encoder, tmp_path):
    write_toy_set(tmp_path / "toy", ["parcel", "refund", "hello"], per_intent=10)
    config = EvalConfig(
        shots=[2], seeds=1, validation=0.3, episode_shots=[], methods=["prototypical"]
    )
    results = evaluate(str(tmp_path / "toy"), config, fake_encoder, str(tmp_path / "cache"), False)
    assert results["split"].startswith("validation")
    assert results["n_eval"] == 9


def test_cached_encoder_encodes_each_text_once_across_runs(tmp_path, fake_encoder):
    from intentmeta.research.embedding_cache import CachedEncoder

    first = CachedEncoder(fake_encoder, tmp_path).encode(["a parcel", "a refund"])
    calls = fake_encoder.calls
    again = CachedEncoder(fake_encoder, tmp_path).encode(["a refund", "a parcel"])
    assert fake_encoder.calls == calls  # read from disk, not encoded
    assert torch.allclose(again, first.flip(0))


def test_clinc150_out_of_scope_split_comes_from_the_one_clinc_reader():
    from intentmeta.research.evaluate_oos import load_clinc150

    fixtures = Path(__file__).parent / "fixtures" / "clinc"
    split, train = load_clinc150(fixtures, "test")
    assert len(split.texts) == len(split.labels) == 2
    assert split.oos_texts == ["sing me a song", "how tall is a giraffe", "paint my house"]
    assert "oos" not in train and sum(map(len, train.values())) > 0
