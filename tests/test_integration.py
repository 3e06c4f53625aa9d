"""The real bundled all-MiniLM-L6-v2, offline."""

from __future__ import annotations

import pytest

from intentmeta import IntentClassifier, builtin_intents

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ecommerce():
    return IntentClassifier.from_builtin("ecommerce")


def test_builtin_set_has_at_least_fifteen_intents_with_eight_to_twelve_examples():
    intents = builtin_intents("ecommerce")
    assert len(intents) >= 15
    assert all(8 <= len(examples) <= 12 for examples in intents.values())


def test_a_late_package_lands_on_track_order(ecommerce):
    assert ecommerce.classify("my package still hasn't arrived").intent == "track_order"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("I'd like to talk to a real person please", "talk_to_human"),
        ("the mug I got was smashed to pieces", "damaged_item"),
        ("my card keeps getting declined at checkout", "payment_failed"),
        ("thanks a lot!", "thanks"),
    ],
)
def test_builtin_intents_recognise_new_phrasings(ecommerce, text, intent):
    assert ecommerce.classify(text).intent == intent


def test_real_encoder_truncates_very_long_text_instead_of_failing(real_encoder):
    vectors = real_encoder.encode(["where is my order " * 20_000])
    assert vectors.shape == (1, real_encoder.dim)


def test_real_encoder_embeddings_are_unit_length_and_cached(real_encoder):
    first = real_encoder.encode(["has my order shipped", "hello"])
    again = real_encoder.encode(["hello", "has my order shipped"])
    assert first.norm(dim=1).tolist() == pytest.approx([1.0, 1.0], abs=1e-5)
    assert (again[[1, 0]] == first).all()
