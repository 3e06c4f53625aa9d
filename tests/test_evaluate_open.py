"""The open-intent benchmark, its metrics and baselines, and the refusal to fit on test."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import FakeEncoder, write_intent_csv

from intentmeta.cli import main
from intentmeta.research.evaluate_open import (
    OpenConfig,
    evaluate_open,
    load_pool,
    refuse_fitting_on_test,
    sample_episode,
)
from intentmeta.research.evaluate_open_methods import (
    Answers,
    Scored,
    best_threshold,
    fast_macro_f1,
    open_metrics,
)
from intentmeta.research.evaluate_open_report import format_open_table, robustness_table

ROOT = Path(__file__).parent.parent
TOPICS = ["parcel", "refund", "weather", "music", "garden", "taxes"]


def write_toy_data(folder: Path) -> Path:
    """Six intents whose messages share a topic word: train (8 each) and test (4 each)."""
    for split, n in (("train", 8), ("test", 4)):
        rows = [(f"{t} question {split} number {i} {t}", t) for t in TOPICS for i in range(n)]
        write_intent_csv(folder / f"{split}.csv", rows)
    return folder


def test_an_episode_keeps_the_known_share_and_marks_the_others_open(tmp_path):
    pool = load_pool(write_toy_data(tmp_path / "toy"), "test")
    episode = sample_episode(pool, 0.5, shots=3, seed=1)
    assert len(episode.known) == 3 and len(episode.support_texts) == 9
    open_rows = [t for t in episode.query_truth if t is None]
    assert len(open_rows) == 3 * 4
    assert set(episode.query_truth) - {None} == set(episode.known)
    assert sample_episode(pool, 0.5, shots=3, seed=1) == episode  # reproducible


def test_validation_pools_never_read_the_test_split(tmp_path):
    folder = write_toy_data(tmp_path / "toy")
    val = load_pool(folder, "val")
    test_texts = {row[0] for row in csv.reader((folder / "test.csv").open())}
    assert not test_texts & set(val.texts())


def test_open_metrics_count_open_as_one_class():
    truth = ["a", "a", None, None]
    answers = Answers(
        ["a", None, None, "a"],
        torch.tensor([0.9, 0.6, 0.8, 0.7]),
        torch.tensor([0.1, 0.6, 0.8, 0.3]),
    )
    metrics = open_metrics(answers, truth)
    assert metrics["accuracy"] == 0.5
    # class a: precision 1/2, recall 1/2 -> F1 0.5; open: precision 1/2, recall 1/2 -> 0.5
    assert metrics["macro_f1"] == pytest.approx(0.5)
    assert metrics["oos_recall"] == 0.5 and metrics["oos_precision"] == 0.5
    assert metrics["auroc"] == pytest.approx(0.75)
    assert not math.isnan(metrics["ece"])


def test_fast_macro_f1_agrees_with_scikit_learn():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    truth, predicted = rng.integers(0, 5, 200), rng.integers(0, 6, 200)
    expected = f1_score(truth, predicted, labels=np.unique(truth), average="macro")
    assert fast_macro_f1(predicted, truth, 6) == pytest.approx(expected)


def test_the_best_threshold_separates_validation_scores():
    scored = Scored(["a", "a", "b", "b"], torch.tensor([0.9, 0.8, 0.2, 0.1]), probability=True)
    threshold = best_threshold([scored], [["a", "a", None, None]])
    assert 0.2 < threshold <= 0.8


def test_a_small_open_intent_run_compares_every_method(tmp_path):
    folder = write_toy_data(tmp_path / "toy")
    config = OpenConfig(ratios=[0.5], shots=[3], seeds=2)
    record = evaluate_open(
        folder, config, tmp_path / "cache", progress=False, encoder=FakeEncoder()
    )
    (cell,) = record["cells"]
    assert set(cell["methods"]) == {"intentmeta", "msp", "cosine", "lr"}
    ours = cell["methods"]["intentmeta"]
    assert set(ours) >= {"macro_f1", "accuracy", "oos_recall", "auroc", "mcc", "ece"}
    assert 0.0 <= ours["macro_f1"]["mean"] <= 1.0 and ours["macro_f1"]["ci95"] is not None
    assert all(len(runs) == 2 for runs in cell["per_seed"].values())
    assert math.isnan(cell["methods"]["cosine"]["ece"]["mean"])  # a cosine is no probability
    table = format_open_table(record).splitlines()
    assert len(table) == 2 + 4 and table[2].startswith("| 50 % | 3 | intentmeta |")
    (row,) = robustness_table([record], {"toy": 6}).splitlines()[2:]
    assert row.startswith("| toy | fake-bag-of-words | prototypical | 3 | 50 % (3) | 2 |")


def test_two_rules_are_compared_on_the_same_episodes_seed_by_seed(tmp_path):
    from intentmeta.rejection_rule import RejectionRule
    from intentmeta.research.evaluate_open_report import rule_comparison_table

    folder = write_toy_data(tmp_path / "toy")
    rule = tmp_path / "rule.json"
    rule.write_text(json.dumps(RejectionRule(oos_weights=(0, 0, 0, 0, 0, 5.0)).state()))
    runs = [
        evaluate_open(
            folder,
            OpenConfig(ratios=[0.5], shots=[3], seeds=2, baselines=False, rule=chosen),
            tmp_path / "cache",
            progress=False,
            encoder=FakeEncoder(),
        )
        for chosen in (None, str(rule))
    ]
    (row,) = rule_comparison_table([runs[0]], [runs[1]]).splitlines()[2:]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:4] == ["toy", "3", "50 %", "2"]
    assert cells[8] == "100.0"  # a rule rejecting everything finds every open message


def test_a_rule_is_loaded_from_its_json_or_a_shipped_encoders_name(tmp_path):
    from intentmeta.rejection_rule import RejectionRule
    from intentmeta.research.evaluate_open import load_rule
    from intentmeta.shipped_encoders import META_LEARNED, OFF_THE_SHELF

    saved = tmp_path / "rule.json"
    saved.write_text(json.dumps(RejectionRule(shrinkage=1.0).state()))
    assert load_rule(str(saved)).shrinkage == 1.0
    assert load_rule(OFF_THE_SHELF) == RejectionRule()
    assert load_rule(META_LEARNED) == RejectionRule.for_encoder(META_LEARNED) != RejectionRule()
    with pytest.raises(ValueError, match="neither"):
        load_rule(str(tmp_path / "missing.json"))


def test_fitting_on_a_test_split_is_refused(capsys):
    with pytest.raises(ValueError, match="test"):
        refuse_fitting_on_test("test", True)
    refuse_fitting_on_test("val", True)
    refuse_fitting_on_test("test", False)
    status = main(["eval", "--data", "unused", "--oos", "--fit-confidence", "--split", "test"])
    assert status == 2
    assert "refusing split 'test'" in capsys.readouterr().err


def test_the_scripts_refuse_fitting_on_test_before_loading_anything():
    for script, extra in (
        ("training/evaluate_out_of_scope.py", ["--fit-confidence"]),
        ("training/fit_rejection_rule.py", []),
    ):
        done = subprocess.run(
            [sys.executable, str(ROOT / script), "--split", "test", *extra],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
            timeout=120,
        )
        assert done.returncode != 0
        assert "test" in done.stderr and "refus" in done.stderr


def test_an_encoder_is_refused_on_a_data_set_it_was_trained_on(tmp_path):
    from intentmeta.research.benchmark_encoders import encoders_per_dataset
    from intentmeta.shipped_encoders import META_LEARNED

    run = tmp_path / "trained-on-banking77"
    run.mkdir()
    (run / "training.json").write_text(json.dumps({"sources": ["/data/banking77"]}))
    assert encoders_per_dataset([f"clinc150={run}"]) == {"clinc150": str(run)}
    with pytest.raises(SystemExit, match="trained on banking77"):
        encoders_per_dataset([f"banking77={run}"])
    with pytest.raises(SystemExit, match="trained on clinc150"):
        encoders_per_dataset([f"clinc150={META_LEARNED}"])
    with pytest.raises(SystemExit, match="DATA=ENCODER"):
        encoders_per_dataset([str(run)])
