"""Registries saved by earlier versions still load and answer as they did."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from conftest import FakeEncoder
from safetensors.torch import load_file

from intentmeta import IntentClassifier

FIXTURES = Path(__file__).parent / "fixtures"


def test_a_registry_saved_before_the_redesign_loads_and_answers_the_same(tmp_path):
    # Saved by the flat-package intentmeta (format version 1) after fit, add_intent,
    # remove_examples, rename_intent and calibrate, with the fake encoder of conftest.py.
    registry = shutil.copytree(FIXTURES / "registry_v1", tmp_path / "registry")
    expected = json.loads((FIXTURES / "registry_v1_predictions.json").read_text())
    # Issue 18 replaced the out-of-scope rule and its probabilities: the head's ranking and the
    # raw evidence are unchanged; the old calibration offset no longer applies (a warning).
    with pytest.warns(UserWarning, match="calibrate"):
        clf = IntentClassifier.load(registry, encoder=FakeEncoder())
    assert clf.intents == ["track_order", "refund", "hello", "weather"]
    for prediction, saved in zip(
        clf.classify_batch(expected["texts"]), expected["predictions"], strict=True
    ):
        assert prediction.best_intent == next(iter(saved["scores"]))
        assert prediction.similarity == pytest.approx(saved["similarity"], abs=1e-6)


def test_a_matching_registry_saved_before_its_steps_had_modules_loads_and_answers_the_same(
    tmp_path,
):
    # Saved by commit d2e7340, whose matching head held its whitening (centre, whitening_matrix)
    # and full-context LSTM (context.*, context_gate) itself: learned parameters, and an intent
    # added after fit under the whitening then in force (a refit would move every score).
    registry = shutil.copytree(FIXTURES / "registry_matching_pre_steps", tmp_path / "registry")
    expected = json.loads((FIXTURES / "registry_matching_pre_steps_predictions.json").read_text())
    tensors = load_file(next(registry.glob("*.safetensors")))
    clf = IntentClassifier.load(registry, encoder=FakeEncoder())
    assert torch.equal(clf.head.whitening.matrix, tensors["head_buffer.whitening_matrix"])
    assert torch.equal(clf.head.context.gate, tensors["head.context_gate"])
    for prediction, saved in zip(
        clf.classify_batch(expected["texts"]), expected["predictions"], strict=True
    ):
        assert prediction.scores == pytest.approx(saved["scores"], abs=1e-6)
        best, runner_up = sorted(saved["scores"].values(), reverse=True)[:2]
        if best - runner_up > 1e-6:  # "rain today" and "quantum sofa" tie: float order decides
            assert prediction.intent == saved["intent"]
        assert prediction.similarity == pytest.approx(saved["similarity"], abs=1e-6)
