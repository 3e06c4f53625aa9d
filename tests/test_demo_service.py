"""The demo's logic without a browser: previews, undo, saving, examples, files, review, tests."""

from __future__ import annotations

import csv
import json
import shutil
import threading

import pytest
from faults import FAULTS, fault, world_readable_temporary_directory
from safetensors import SafetensorError

from demo import example_edits, tab_settings
from demo.review import MessageLog, ReviewSettings, review_groups
from demo.safe_text import as_text
from demo.service import DemoLimits, DemoService, SaveFailed, split_examples
from demo.test_run import read_labelled, run_test
from intentmeta import IntentClassifier, history


@pytest.fixture
def service(toy_classifier, tmp_path) -> DemoService:
    return DemoService(toy_classifier, tmp_path / "registry")


def snapshot(clf: IntentClassifier) -> dict[str, list[str]]:
    return {name: clf.examples(name) for name in clf.intents}


def on_disk(service: DemoService, encoder) -> dict[str, list[str]]:
    return snapshot(IntentClassifier.load(service.registry_dir, encoder=encoder))


# --------------------------------------------------------------------------- reading and adding
def test_split_examples_reads_one_example_per_line_and_drops_blank_lines():
    assert split_examples(" a \n\n b\r\n  \n") == ["a", "b"]
    assert split_examples(["a", "  ", " c"]) == ["a", "c"]


def test_added_intent_is_used_by_the_next_classification_and_saved(service, fake_encoder):
    texts = "gift card balance\ngift card value\ngift card sum"
    result = service.add_intent("gift_card", texts, confirm=True)
    assert "added intent 'gift_card' with 3 example(s)" in result.message
    assert service.classify("how much is on my gift card").intent == "gift_card"
    assert on_disk(service, fake_encoder) == snapshot(service.classifier)


def test_warnings_come_before_saving_and_save_anyway_saves(service):
    before = snapshot(service.classifier)
    preview = service.add_intent("money", ["refund my money now", "cash please", "pay me"])
    assert preview.needs_confirmation
    assert any("'refund'" in warning for warning in preview.warnings)
    assert snapshot(service.classifier) == before  # a preview changes nothing
    saved = service.add_intent("money", ["refund my money now", "cash please"], confirm=True)
    assert not saved.needs_confirmation and "money" in service.classifier


def test_near_duplicate_intents_need_confirming(service):
    by_name = service.add_intent("track order", ["where is my parcel now"])
    assert by_name.needs_confirmation
    assert any("very close to the existing intent 'track_order'" in w for w in by_name.warnings)
    by_meaning = service.add_intent("parcels", service.classifier.examples("track_order"))
    assert any("mean nearly the same as 'track_order'" in w for w in by_meaning.warnings)
    assert "track order" not in service.classifier and "parcels" not in service.classifier


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
def test_bad_intent_names_are_refused_and_nothing_changes(service, name, problem):
    before = snapshot(service.classifier)
    with pytest.raises(ValueError, match=problem):
        service.add_intent(name, ["gift card balance", "gift card value"])
    assert snapshot(service.classifier) == before


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


def test_evidence_is_the_answers_own_examples_then_the_closest_other(service):
    prediction = service.classify("where is my parcel")
    rows = service.evidence("where is my parcel", prediction.intent)
    assert [row[0] for row in rows] == ["track_order"] * 3 + [rows[-1][0]]
    assert rows[-1][0] != "track_order"


# --------------------------------------------------------------------------- corrections
def test_correction_adds_the_message_without_warning_about_the_mistake_it_fixes(service):
    result = service.correct("hello my parcel is lost", "track_order")
    assert "hello my parcel is lost" in service.classifier.examples("track_order")
    assert "now classified as" in result.message and not result.warnings
    service.correct("gift card balance", "gift_card")
    assert service.classifier.examples("gift_card") == ["gift card balance"]


def test_correction_with_no_intent_or_a_near_duplicate_name_is_refused(service):
    before = snapshot(service.classifier)
    for intent in (None, "", "  "):
        with pytest.raises(ValueError, match="pick the right intent first"):
            service.correct("where is my parcel", intent)
    with pytest.raises(ValueError, match="very close to the existing intent 'track_order'"):
        service.correct("where is my parcel", "Track-Order")
    assert snapshot(service.classifier) == before


# --------------------------------------------------------------------------- undo and saving
def test_delete_names_what_is_lost_and_undo_brings_it_back(service, fake_encoder):
    before = snapshot(service.classifier)
    assert "Delete intent 'refund' and its 3 examples?" in service.removal_question("refund")
    service.remove_intent("refund")
    assert "refund" not in on_disk(service, fake_encoder)
    assert service.last_change() == "deleted intent 'refund'"
    result = service.undo()
    assert "undid: deleted intent 'refund'" in result.message
    assert snapshot(service.classifier) == before == on_disk(service, fake_encoder)
    with pytest.raises(history.HistoryError):
        service.undo()


def test_settings_are_saved_and_undone_like_any_edit(service, fake_encoder):
    before = snapshot(service.classifier)
    tab_settings.apply_settings(service, "matching", 0.99)
    assert service.classifier.config.head == "matching"
    assert snapshot(service.classifier) == before
    assert service.classify("where is my parcel").is_out_of_scope
    reloaded = IntentClassifier.load(service.registry_dir, encoder=fake_encoder)
    assert (reloaded.config.head, reloaded.config.oos_threshold) == ("matching", 0.99)
    assert tab_settings.settings_view(service)[:3] == ("matching", "fixed", 0.99)
    service.undo()
    assert tab_settings.settings_view(service)[:2] == ("prototypical", "off")
    with pytest.raises(ValueError, match="between -1 and 1"):
        tab_settings.apply_settings(service, "prototypical", 5.0)


def test_auto_threshold_is_explained_with_what_it_works_out_to(service):
    tab_settings.apply_settings(service, "prototypical", "auto")
    assert "works out to a cosine threshold of" in tab_settings.explain(service)
    assert "about 40% out of scope" in tab_settings.explain(service)  # the rule's own share


def test_the_expected_out_of_scope_share_is_set_kept_and_undone(service, fake_encoder):
    tab_settings.apply_settings(service, "prototypical", "auto")
    before = tab_settings.effective_thresholds(service.classifier)
    result = tab_settings.apply_settings(service, "prototypical", "auto", share=0.7)
    assert "about 70% out of scope" in result.message
    assert tab_settings.settings_view(service)[4] == 0.7
    after = tab_settings.effective_thresholds(service.classifier)
    assert all(after[name] > before[name] for name in before)  # more traffic rejected
    reloaded = IntentClassifier.load(service.registry_dir, encoder=fake_encoder)
    assert reloaded.oos.expected_share == pytest.approx(0.7)
    tab_settings.apply_settings(service, "matching", "auto")  # a head change keeps the share
    assert service.classifier.oos.expected_share == pytest.approx(0.7)
    service.undo()
    service.undo()
    assert tab_settings.settings_view(service)[4] == 0.4
    with pytest.raises(ValueError, match="share"):
        tab_settings.apply_settings(service, "prototypical", "auto", share=1.0)
    assert service.classifier.oos.expected_share == pytest.approx(0.4)


def test_a_calibration_on_labelled_traffic_is_named_as_such_and_kept_by_a_head_change(service):
    tab_settings.apply_settings(service, "prototypical", "auto")
    service.classifier.calibrate(out_of_scope=["violin sonata", "zebra crossing"])
    adjustment = service.classifier.oos.adjustment
    assert "Tuned on labelled traffic" in tab_settings.share_sentence(service.classifier)
    assert tab_settings.settings_view(service)[4] == tab_settings.DEFAULT_SHARE
    tab_settings.apply_settings(service, "matching", "auto")
    assert service.classifier.oos.adjustment == adjustment


@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_a_save_that_fails_for_real_leaves_memory_and_disk_agreeing(toy_classifier, kind):
    directory = world_readable_temporary_directory() / "registry"
    try:
        service = DemoService(toy_classifier, directory)
        before = snapshot(service.classifier)
        with fault(kind, directory), pytest.raises(SaveFailed, match="NOT saved") as failure:
            service.add_intent("gift_card", ["gift card balance"], confirm=True)
        assert str(directory) not in str(failure.value)
        assert snapshot(service.classifier) == before == on_disk(service, toy_classifier.encoder)
        assert service.add_intent("gift_card", ["gift card balance"], confirm=True).message
    finally:
        shutil.rmtree(directory.parent, ignore_errors=True)


def test_a_failed_save_undoes_the_change_and_names_no_path(service, fake_encoder, monkeypatch):
    before = snapshot(service.classifier)

    def refuse(self, path):
        raise SafetensorError("Error while serializing: IoError(Os { code: 13 })")

    monkeypatch.setattr(IntentClassifier, "save", refuse)
    with pytest.raises(SaveFailed, match=r"NOT saved.*nothing changed") as failure:
        service.add_intent("gift_card", ["gift card balance"], confirm=True)
    assert str(service.registry_dir) not in str(failure.value)
    assert snapshot(service.classifier) == before == on_disk(service, fake_encoder)
    with pytest.raises(SaveFailed):
        tab_settings.apply_settings(service, "matching", 0.5)
    assert service.classifier.config.head == "prototypical"


def test_editing_a_deleted_intent_explains_another_tab_may_have_deleted_it(service):
    service.remove_intent("greeting")
    with pytest.raises(KeyError, match="another tab"):
        service.add_examples("greeting", ["hello again"])


def test_several_tabs_editing_at_once_lose_nothing(service):
    errors: list[BaseException] = []

    def tab(index: int) -> None:
        try:
            for step in range(6):
                service.add_intent(f"intent_{index}_{step}", [f"w{index}x{step}"], confirm=True)
                service.classify(f"w{index}x{step}")
                if step % 2:
                    service.remove_intent(f"intent_{index}_{step}")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=tab, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    expected = {f"intent_{i}_{s}" for i in range(3) for s in range(0, 6, 2)}
    assert set(service.classifier.intents) == expected | {"track_order", "refund", "greeting"}


# --------------------------------------------------------------------------- example-level control
def test_one_example_is_edited_moved_and_deleted(service, fake_encoder):
    example_edits.edit_example(service, "refund", "money back refund", "hello money")
    assert "hello money" in service.classifier.examples("refund")
    assert "money back refund" not in service.classifier.examples("refund")
    example_edits.edit_example(service, "refund", "hello money", "hello money", "greeting")
    assert "hello money" in service.classifier.examples("greeting")
    example_edits.delete_example(service, "greeting", "hello money")
    assert "hello money" not in on_disk(service, fake_encoder)["greeting"]
    rows = example_edits.example_rows(service, "PARCEL")
    assert rows and all("parcel" in text for _, text in rows)


def test_an_intent_keeps_its_last_example_and_can_be_renamed(service):
    service.add_intent("solo", ["only one"], confirm=True)
    with pytest.raises(ValueError, match="only example of 'solo'"):
        example_edits.delete_example(service, "solo", "only one")
    with pytest.raises(ValueError, match="only example of 'solo'"):
        example_edits.edit_example(service, "solo", "only one", "only one", "refund")
    example_edits.edit_example(service, "solo", "only one", "just one")
    assert service.classifier.examples("solo") == ["just one"]
    example_edits.rename_intent(service, "solo", "single")
    assert service.classifier.examples("single") == ["just one"]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_then_import_elsewhere_gives_the_same_intents(service, toy_classifier, fmt):
    path = example_edits.export_file(service, fmt)
    other = DemoService(IntentClassifier(encoder=toy_classifier.encoder, oos_threshold=None))
    result = example_edits.import_file(other, path)
    assert "imported 9 example(s), 3 new intent(s)" in result.message
    assert snapshot(other.classifier) == snapshot(service.classifier)


def test_a_bad_import_file_changes_nothing(service, tmp_path):
    before = snapshot(service.classifier)
    bad = tmp_path / "bad.csv"
    bad.write_text("intent,example\nrefund,more money back\nnew_one,\n", encoding="utf-8")
    with pytest.raises(ValueError, match="blank"):
        example_edits.import_file(service, bad)
    (tmp_path / "bad.json").write_text('{"intents": [{"name": "x"}]}', encoding="utf-8")
    with pytest.raises(ValueError, match="'name' and 'examples'"):
        example_edits.import_file(service, tmp_path / "bad.json")
    assert snapshot(service.classifier) == before


# --------------------------------------------------------------------------- review queue
def test_messages_are_logged_capped_and_not_at_all_when_switched_off(service, tmp_path):
    log = MessageLog(tmp_path / "messages.jsonl", settings=ReviewSettings(cap=3))
    for index in range(5):
        log.append(f"message {index}", service.classify(f"hello {index}"))
    assert [entry["text"] for entry in log.entries()] == ["message 2", "message 3", "message 4"]
    log.enabled = False
    log.append("secret", service.classify("hello"))
    assert "secret" not in (tmp_path / "messages.jsonl").read_text(encoding="utf-8")
    assert log.clear() == 3 and log.entries() == []


def test_review_groups_out_of_scope_messages_by_meaning(fake_encoder, toy_intents, tmp_path):
    clf = IntentClassifier(encoder=fake_encoder, oos_threshold=0.6)
    for name, examples in toy_intents.items():
        clf.add_intent(name, examples)
    service = DemoService(clf, tmp_path / "registry")
    wrap = ["gift wrap it please", "gift wrap please", "please gift wrap it"]
    for text in [*wrap, "where is my parcel", "cheese"]:
        service.log.append(text, service.classify(text))
    groups = review_groups(service.classifier, service.log)
    assert sorted(groups[0].texts) == wrap  # the parcel message is answered: not for review
    assert "gift" in groups[0].name and "wrap" in groups[0].name
    service.add_intent(groups[0].name, list(groups[0].texts), confirm=True)
    left = review_groups(service.classifier, service.log)
    assert [group.texts for group in left] == [("cheese",)]


# --------------------------------------------------------------------------- test run
def test_a_labelled_csv_gives_accuracy_per_intent_figures_and_a_matrix(service, tmp_path):
    labelled = tmp_path / "labelled.csv"
    rows = [
        ("text", "intent"),
        ("my parcel tracking", "track_order"),
        ("hello hi", "greeting"),
        ("money refund", "refund"),
        ("parcel money", "refund"),
    ]
    with labelled.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows(rows)
    texts, expected = read_labelled(labelled)
    report = run_test(service.classifier, texts, expected, tmp_path / "out")
    assert 0.0 <= report.accuracy <= 1.0 and report.n_messages == 4
    assert {row[0] for row in report.per_intent} >= {"track_order", "greeting", "refund"}
    assert report.matrix_png.stat().st_size > 1_000
    assert "accuracy" in report.summary()


# --------------------------------------------------------------------------- user text as text
def test_user_text_is_escaped_for_markdown_and_html():
    planted = '<a href="http://evil/" style="position:fixed">x</a> ![b](http://h/t.png) **b**'
    escaped = as_text(planted)
    assert "<" not in escaped and "](" not in escaped and "**" not in escaped
    assert json.dumps(escaped)  # still plain text


# --------------------------------------------------------------------------- opening a registry
def test_a_registry_made_with_another_encoder_opens_only_with_that_encoder(
    toy_classifier, fake_encoder, tmp_path
):
    from demo.app import open_registry
    from intentmeta import RegistryError

    toy_classifier.save(tmp_path / "registry")
    with pytest.raises(RegistryError, match="encoder"):
        open_registry(tmp_path / "registry")  # what `intentmeta demo` without --encoder does
    opened = open_registry(tmp_path / "registry", encoder=fake_encoder)
    assert opened.encoder is fake_encoder and snapshot(opened) == snapshot(toy_classifier)
