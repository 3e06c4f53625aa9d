"""Registries saved by earlier versions still load and answer as they did."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import FakeEncoder

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
