"""The demo's API through ``gradio_client``: each endpoint, and a clear error on bad input."""

from __future__ import annotations

import csv
import io
import json

import pytest

from demo.screenshot import GIFT_CARD_EXAMPLES
from intentmeta import IntentClassifier

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def running_app(running_demo):
    return running_demo


@pytest.fixture(scope="module")
def client(running_app):
    from gradio_client import Client

    return Client(running_app[1], verbose=False)


def test_classify_returns_the_intent_its_scores_and_its_own_evidence(client):
    answer = client.predict("where is my parcel? it has not arrived", api_name="/classify")
    assert answer["intent"] == "track_order"
    assert 0.0 <= answer["confidence"] <= 1.0
    assert next(iter(answer["scores"])) == "track_order"
    assert [e["intent"] for e in answer["nearest_examples"][:3]] == ["track_order"] * 3


def test_add_intent_warns_first_and_saves_when_confirmed(running_app, client):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    coupon = "how do i use a discount code"  # apply_coupon's own example
    with pytest.raises(AppError, match=r"(?s)already looks like 'apply_coupon'.*confirm=True"):
        client.predict("coupon_help", coupon, api_name="/add_intent")
    assert "coupon_help" not in running_app[0].service.classifier
    status = client.predict("gift_card_balance", GIFT_CARD_EXAMPLES, True, api_name="/add_intent")
    assert "added intent 'gift_card_balance' with 3 example(s)" in status
    other_tab = Client(running_app[1], verbose=False)
    answer = other_tab.predict("how much is left on my gift card?", api_name="/classify")
    assert answer["intent"] == "gift_card_balance"


def test_list_intents_gives_every_intent_with_its_examples(running_app, client):
    intents = client.predict(api_name="/list_intents")
    clf = running_app[0].service.classifier
    assert [item["name"] for item in intents] == clf.intents
    assert intents[0]["examples"] == clf.examples(clf.intents[0])


def test_examples_are_added_and_removed(running_app, client):
    text = "has my parcel left the warehouse"
    assert "added 1 example(s)" in client.predict("track_order", text, api_name="/add_examples")
    assert text in running_app[0].service.classifier.examples("track_order")
    assert "deleted 1 example(s)" in client.predict(
        "track_order", text, api_name="/remove_examples"
    )
    assert text not in running_app[0].service.classifier.examples("track_order")


def test_a_removed_intent_comes_back_with_undo(running_app, client):
    service = running_app[0].service
    count = len(service.classifier.examples("goodbye"))
    assert "deleted intent 'goodbye'" in client.predict("goodbye", api_name="/remove_intent")
    assert "goodbye" not in service.classifier
    assert "undid: deleted intent 'goodbye'" in client.predict(api_name="/undo")
    assert len(service.classifier.examples("goodbye")) == count


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_gives_every_example_as_csv_or_json(running_app, client, fmt):
    text = client.predict(fmt, api_name="/export")
    clf = running_app[0].service.classifier
    if fmt == "csv":
        pairs = [(row["intent"], row["example"]) for row in csv.DictReader(io.StringIO(text))]
    else:
        items = json.loads(text)["intents"]
        pairs = [(item["name"], example) for item in items for example in item["examples"]]
    assert pairs == [(name, example) for name in clf.intents for example in clf.examples(name)]


@pytest.mark.parametrize(
    ("endpoint", "arguments", "message"),
    [
        ("/classify", ("   ",), "the message is empty"),
        ("/classify", (None,), "must be text"),
        ("/classify", ("a" * 300_000,), "300,000 characters long"),
        ("/classify", ("x" * 2_001,), "2,001 characters long; the demo accepts up to 2,000"),
        ("/add_intent", ("new_intent", ""), "give at least one example"),
        ("/add_intent", ("", "an example"), "empty"),
        ("/add_intent", ("OOS", "a\nb"), "reserved for out-of-scope"),
        ("/add_intent", ("bulk", "\n".join(f"e {i}" for i in range(51))), "up to 50 at a time"),
        ("/add_examples", ("no_such_intent", "an example"), "no intent named 'no_such_intent'"),
        ("/add_examples", ("track_order", " \n "), "give at least one example"),
        ("/remove_examples", ("track_order", "never added"), "has no example 'never added'"),
        ("/remove_examples", ("no_such_intent", "x"), "no intent named 'no_such_intent'"),
        ("/remove_intent", ("no_such_intent",), "no intent named 'no_such_intent'"),
        ("/export", ("xml",), "unknown format 'xml'"),
    ],
)
def test_bad_input_through_the_api_gets_a_clear_message_and_changes_nothing(
    running_app, client, endpoint, arguments, message
):
    from gradio_client.exceptions import AppError

    service = running_app[0].service
    before = {name: service.classifier.examples(name) for name in service.classifier.intents}
    with pytest.raises(AppError, match=message):
        client.predict(*arguments, api_name=endpoint)
    after = {name: service.classifier.examples(name) for name in service.classifier.intents}
    assert after == before


def test_undo_with_nothing_left_to_undo_says_so(tmp_path, real_encoder):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    from demo.app import build_app
    from demo.screenshot import free_port

    clf = IntentClassifier(encoder=real_encoder)
    clf.add_intent("greeting", ["hello there"])
    app = build_app(clf, tmp_path / "registry")
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        with pytest.raises(AppError, match="no earlier version"):
            Client(f"http://127.0.0.1:{port}/", verbose=False).predict(api_name="/undo")
    finally:
        app.close()


def test_launch_binds_loopback_and_saves_to_a_default_registry(real_encoder, tmp_path, monkeypatch):
    import gradio as gr

    from demo import app as demo_app

    calls = []
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kwargs: calls.append(kwargs))
    demo_app.launch()
    assert calls[0]["server_name"] == "127.0.0.1"
    registry = tmp_path / "intentmeta" / "demo-registry"
    assert IntentClassifier.load(registry, encoder=real_encoder).intents == (
        IntentClassifier.from_builtin("ecommerce", encoder=real_encoder).intents
    )


@pytest.mark.parametrize(
    "text",
    ["📦 where is my parcel? 🙏", "أين طلبي؟ where is my order", "where is\x00 my\tparcel\x07"],
)
def test_emoji_right_to_left_and_control_characters_still_get_a_prediction(client, text):
    answer = client.predict(text, api_name="/classify")
    assert answer["intent"] is None or answer["intent"] in answer["scores"]
    assert 0.0 <= answer["confidence"] <= 1.0
