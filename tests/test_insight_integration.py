"""report() and discover() on the real bundled encoder and the built-in e-commerce intents."""

from __future__ import annotations

import pytest

from intentmeta import IntentClassifier

pytestmark = pytest.mark.integration

GIFT_CARDS = [
    "how much money is left on my gift card",
    "check my gift card balance",
    "can I pay with a gift card",
    "my gift card code is not working",
    "do you sell gift cards",
    "what's the balance of my gift voucher",
    "the gift card I got for my birthday won't redeem",
    "can I use two gift cards on one order",
]
KNOWN = [
    "where is my parcel, it's been a week",
    "cancel my order please, I ordered by mistake",
    "I'd like to talk to a real person",
    "thank you so much!",
]


@pytest.fixture(scope="module")
def messy(real_encoder):
    """The built-in intents, a duplicate of track_order, and a return request filed as greeting."""
    clf = IntentClassifier.from_builtin("ecommerce", encoder=real_encoder)
    clf.add_intent(
        "where_is_package",
        [
            "where is my package",
            "has my order been shipped",
            "my parcel still hasn't arrived",
            "track my delivery",
            "when does my order arrive",
        ],
    )
    clf.add_examples("greeting", ["the shoes don't fit, can I send them back for a return?"])
    return clf


def test_report_finds_the_planted_duplicate_intent_and_mislabel(messy):
    report = messy.report()
    assert {report.confusable[0].intent, report.confusable[0].other} == {
        "track_order",
        "where_is_package",
    }
    planted = [s for s in report.suspects if s.example.startswith("the shoes don't fit")]
    assert planted and planted[0].intent == "greeting"
    assert planted[0].better_intent == "return_item"
    assert report.suspects.index(planted[0]) < 3  # among the first the user reads
    figures = {f.intent: f for f in report.intents}
    assert figures["where_is_package"].nearest_intent == "track_order"


def test_discover_finds_and_names_a_planted_new_intent(messy):
    result = messy.discover(KNOWN + GIFT_CARDS)
    assert result.labels[0] in {"track_order", "where_is_package"}  # the planted duplicate
    assert result.labels[1:4] == ["cancel_order", "talk_to_human", "thanks"]
    group_ids = [label for label in result.labels[4:] if isinstance(label, int)]
    assert len(group_ids) >= 6  # most gift-card messages are left for a new intent
    biggest = result.group(max(set(group_ids), key=group_ids.count))
    assert "gift" in biggest.name or "card" in biggest.name
    assert biggest.size >= 5
