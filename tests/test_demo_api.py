"""The demo's behaviour: its service on the fake encoder, its API through ``gradio_client``."""

from __future__ import annotations

import threading

import pytest

from demo.screenshot import GIFT_CARD_EXAMPLES
from demo.service import DemoLimits, DemoService, split_examples
from intentmeta import IntentClassifier


@pytest.fixture
def service(toy_classifier, tmp_path) -> DemoService:
    return DemoService(toy_classifier, tmp_path / "registry")


def snapshot(clf: IntentClassifier) -> dict[str, list[str]]:
    return {name: clf.examples(name) for name in clf.intents}


# --------------------------------------------------------------------------- the service
def test_split_examples_reads_one_example_per_line_and_drops_blank_lines():
    assert split_examples(" a \n\n b\r\n  \n") == ["a", "b"]
    assert split_examples(["a", "  ", " c"]) == ["a", "c"]


def test_added_intent_is_used_by_the_next_classification(service):
    result = service.add_intent("gift_card", "gift card balance\ngift card value\nmy gift card")
    assert "added intent 'gift_card' with 3 example(s)" in result.message
    assert service.classify("how much is on my gift card").intent == "gift_card"


def test_each_change_is_saved_so_a_restart_keeps_it(service, fake_encoder):
    service.add_intent("gift_card", ["gift card balance", "gift card value"])
    service.add_examples("refund", ["refund to my card please"])
    service.remove_intent("greeting")
    reloaded = IntentClassifier.load(service.registry_dir, encoder=fake_encoder)
    assert snapshot(reloaded) == snapshot(service.classifier)
    assert "greeting" not in reloaded


def test_example_that_looks_like_another_intent_gets_a_warning(service):
    result = service.add_intent("money", ["refund my money now", "cash please", "pay me"])
    assert any("'refund'" in warning for warning in result.warnings)
    assert "money" in service.classifier


def test_too_few_examples_get_a_warning(service):
    result = service.add_intent("gift_card", ["gift card balance"])
    assert any("3 to 10" in warning for warning in result.warnings)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("line\nbreak", "control or format"),
        ("OOS", "reserved"),
        ("ｏｏｓ", "reserved"),
        ("", "empty"),
        ("x" * 101, "limit is 100"),
        ("refund", "already exists"),
    ],
)
def test_bad_intent_names_are_refused_and_nothing_changes(service, tmp_path, name, problem):
    before = snapshot(service.classifier)
    with pytest.raises(ValueError, match=problem):
        service.add_intent(name, ["gift card balance", "gift card value"])
    assert snapshot(service.classifier) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing saved, nothing escaped


def test_oversized_inputs_are_refused_with_a_message_naming_the_limit(toy_classifier):
    service = DemoService(toy_classifier, limits=DemoLimits(max_message_chars=20, max_examples=2))
    before = snapshot(toy_classifier)
    with pytest.raises(ValueError, match="21 characters long; the demo accepts up to 20"):
        service.classify("x" * 21)
    with pytest.raises(ValueError, match="3 examples given; the demo accepts up to 2"):
        service.add_intent("gift_card", ["a", "b", "c"])
    with pytest.raises(ValueError, match="example 2 is 21 characters long"):
        service.add_examples("refund", ["ok", "y" * 21])
    assert snapshot(toy_classifier) == before


@pytest.mark.parametrize("text", [None, 42, ["hello"]])
def test_non_text_messages_are_refused_with_a_type_error(service, text):
    with pytest.raises(TypeError, match="must be text"):
        service.classify(text)


def test_blank_messages_and_empty_example_lists_are_refused(service):
    with pytest.raises(ValueError, match="empty"):
        service.classify("   \n")
    with pytest.raises(ValueError, match="at least one example"):
        service.add_intent("gift_card", "\n \n")


def test_editing_a_deleted_intent_explains_another_tab_may_have_deleted_it(service):
    service.remove_intent("greeting")
    with pytest.raises(KeyError, match="another tab"):
        service.add_examples("greeting", ["hello again"])


def test_correcting_a_message_adds_it_to_an_existing_or_a_new_intent(service):
    result = service.correct("hello my parcel is lost", "track_order")
    assert "hello my parcel is lost" in service.classifier.examples("track_order")
    assert "now classified as" in result.message
    service.correct("gift card balance", "gift_card")
    assert service.classifier.examples("gift_card") == ["gift card balance"]


def test_settings_keep_the_intents_and_change_the_head_and_threshold(service):
    before = snapshot(service.classifier)
    service.apply_settings("matching", 0.99)
    assert service.classifier.config.head == "matching"
    assert snapshot(service.classifier) == before
    assert service.classify("where is my parcel").is_out_of_scope
    with pytest.raises(ValueError, match="between -1 and 1"):
        service.apply_settings("prototypical", 5.0)


def test_several_tabs_editing_at_once_lose_nothing(service):
    errors: list[BaseException] = []

    def tab(index: int) -> None:
        try:
            for step in range(10):
                service.add_intent(f"intent_{index}_{step}", [f"word{index} thing{step}"])
                service.classify(f"word{index} thing{step}")
                if step % 2:
                    service.remove_intent(f"intent_{index}_{step}")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=tab, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    expected = {f"intent_{i}_{s}" for i in range(4) for s in range(0, 10, 2)}
    assert set(service.classifier.intents) == expected | {"track_order", "refund", "greeting"}


# --------------------------------------------------------------------------- the running app
@pytest.fixture(scope="module")
def running_app(running_demo):
    return running_demo


@pytest.fixture(scope="module")
def client(running_app):
    from gradio_client import Client

    return Client(running_app[1], verbose=False)


@pytest.mark.integration
def test_classify_endpoint_returns_the_intent_its_scores_and_evidence(client):
    answer = client.predict("where is my parcel? it has not arrived", api_name="/classify")
    assert answer["intent"] == "track_order"
    assert 0.0 <= answer["confidence"] <= 1.0
    assert next(iter(answer["scores"])) == "track_order"
    assert answer["nearest_examples"][0]["intent"] == "track_order"


@pytest.mark.integration
def test_intent_added_through_the_api_is_used_by_the_next_classification(running_app, client):
    from gradio_client import Client

    status = client.predict("gift_card_balance", GIFT_CARD_EXAMPLES, api_name="/add_intent")
    assert "added intent 'gift_card_balance' with 3 example(s)" in status
    other_tab = Client(running_app[1], verbose=False)
    answer = other_tab.predict("how much is left on my gift card?", api_name="/classify")
    assert answer["intent"] == "gift_card_balance"


@pytest.mark.integration
@pytest.mark.parametrize(
    ("endpoint", "arguments", "message"),
    [
        ("/classify", ("   ",), "the message is empty"),
        ("/classify", (None,), "must be text"),
        ("/classify", ("a" * 300_000,), "300,000 characters long"),
        ("/classify", ("x" * 2_001,), "2,001 characters long; the demo accepts up to 2,000"),
        ("/add_intent", ("OOS", "a\nb"), "reserved for out-of-scope"),
        ("/add_intent", ("new_intent", ""), "give at least one example"),
        ("/add_intent", ("bulk", "\n".join(f"e {i}" for i in range(51))), "up to 50 at a time"),
    ],
)
def test_bad_input_through_the_api_gets_a_clear_message(
    running_app, client, endpoint, arguments, message
):
    from gradio_client.exceptions import AppError

    before = running_app[0].service.classifier.intents
    with pytest.raises(AppError, match=message):
        client.predict(*arguments, api_name=endpoint)
    assert running_app[0].service.classifier.intents == before


@pytest.mark.integration
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


@pytest.mark.integration
@pytest.mark.parametrize(
    "text",
    ["📦 where is my parcel? 🙏", "أين طلبي؟ where is my order", "where is\x00 my\tparcel\x07"],
)
def test_emoji_right_to_left_and_control_characters_still_get_a_prediction(client, text):
    answer = client.predict(text, api_name="/classify")
    assert answer["intent"] is None or answer["intent"] in answer["scores"]
    assert 0.0 <= answer["confidence"] <= 1.0
