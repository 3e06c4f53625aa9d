from __future__ import annotations

import dataclasses

import pytest

from intentmeta import Adaptation, IntentClassifier, Prediction
from intentmeta.config import default_head_config


def test_classify_returns_the_intent_whose_examples_match(toy_classifier):
    prediction = toy_classifier.classify("where is my parcel today")
    assert isinstance(prediction, Prediction)
    assert prediction.intent == "track_order"
    assert 0.0 <= prediction.confidence <= 1.0
    assert next(iter(prediction.scores)) == "track_order"
    assert list(prediction.scores.values()) == sorted(prediction.scores.values(), reverse=True)


def test_intents_and_examples_are_listed_in_insertion_order(toy_classifier, toy_intents):
    assert toy_classifier.intents == list(toy_intents)
    assert toy_classifier.examples("refund") == toy_intents["refund"]


def test_a_new_intent_is_used_by_the_very_next_message(toy_classifier):
    assert toy_classifier.classify("gift card balance left").intent != "gift_card"
    toy_classifier.add_intent("gift_card", ["gift card balance", "how much is on my gift card"])
    assert toy_classifier.classify("gift card balance left").intent == "gift_card"


def test_add_examples_extends_an_intent_and_skips_repeats(toy_classifier):
    toy_classifier.add_examples("refund", ["refund my money now", "reimburse the charge"])
    assert toy_classifier.examples("refund")[-1] == "reimburse the charge"
    assert toy_classifier.examples("refund").count("refund my money now") == 1
    assert toy_classifier.classify("reimburse the charge").intent == "refund"


def test_remove_intent_takes_it_out_of_every_prediction(toy_classifier):
    toy_classifier.remove_intent("greeting")
    assert "greeting" not in toy_classifier.intents
    prediction = toy_classifier.classify("hello there")
    assert prediction.intent != "greeting" and "greeting" not in prediction.scores


def test_rename_keeps_examples_and_position(toy_classifier):
    toy_classifier.rename_intent("refund", "refund_request")
    assert toy_classifier.intents == ["track_order", "refund_request", "greeting"]
    assert toy_classifier.classify("money back please").intent == "refund_request"


def test_remove_examples_keeps_the_rest(toy_classifier):
    toy_classifier.remove_examples("greeting", ["hi hello"])
    assert toy_classifier.examples("greeting") == ["hello there", "hello good morning"]
    with pytest.raises(ValueError, match="at least one"):
        toy_classifier.remove_examples("greeting", ["hello there", "hello good morning"])


def test_fit_replaces_all_intents_and_returns_self(toy_classifier):
    result = toy_classifier.fit(["cancel it", "cancel my order", "hi"], ["cancel", "cancel", "hey"])
    assert result is toy_classifier
    assert toy_classifier.intents == ["cancel", "hey"]
    assert toy_classifier.predict(["cancel please", "hi"]) == ["cancel", "hey"]


def test_predict_makes_the_same_decisions_as_classify_batch(toy_classifier):
    texts = ["where is my parcel", "money back", "hello"]
    assert toy_classifier.predict(texts) == [p.intent for p in toy_classifier.classify_batch(texts)]


def test_matching_head_classifier_answers_like_the_prototypical_one(fake_encoder, toy_intents):
    clf = IntentClassifier(encoder=fake_encoder, head="matching", oos_threshold=None)
    for name, examples in toy_intents.items():
        clf.add_intent(name, examples)
    assert clf.predict(["track parcel", "refund money", "hello hi"]) == [
        "track_order",
        "refund",
        "greeting",
    ]


def test_float_threshold_rejects_unrelated_text_and_none_never_rejects(fake_encoder, toy_intents):
    strict = IntentClassifier(encoder=fake_encoder, oos_threshold=0.5)
    for name, examples in toy_intents.items():
        strict.add_intent(name, examples)
    unrelated = strict.classify("quantum chromodynamics lecture notes")
    assert unrelated.is_out_of_scope and unrelated.intent is None
    assert strict.predict(["quantum chromodynamics lecture notes"]) == ["oos"]
    assert strict.classify("where is my parcel").intent == "track_order"


def test_save_and_load_round_trip_gives_the_same_predictions(
    toy_classifier, fake_encoder, tmp_path
):
    texts = ["parcel where", "money back", "hello", "refund parcel"]
    before = toy_classifier.classify_batch(texts)
    toy_classifier.save(tmp_path / "registry")
    calls = fake_encoder.calls
    loaded = IntentClassifier.load(tmp_path / "registry", encoder=fake_encoder)
    assert fake_encoder.calls == calls  # stored embeddings were reused, nothing re-encoded
    assert loaded.intents == toy_classifier.intents
    assert [loaded.examples(n) for n in loaded.intents] == [
        toy_classifier.examples(n) for n in toy_classifier.intents
    ]
    after = loaded.classify_batch(texts)
    assert [p.intent for p in after] == [p.intent for p in before]
    assert [p.confidence for p in after] == pytest.approx([p.confidence for p in before])


def test_saved_registry_is_json_and_safetensors_only(toy_classifier, tmp_path):
    toy_classifier.save(tmp_path / "registry")
    toy_classifier.save(tmp_path / "registry")  # a second save replaces, leaving no stray file
    names = sorted(p.name for p in (tmp_path / "registry").iterdir())
    assert names[0] == "intentmeta.json" and len(names) == 2
    assert names[1].startswith("tensors-") and names[1].endswith(".safetensors")


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda c: c.classify(""), ValueError, "^text is empty or blank"),
        (lambda c: c.classify("   "), ValueError, "empty or blank"),
        (lambda c: c.classify(None), TypeError, "must be a string"),
        (lambda c: c.classify(42), TypeError, "must be a string"),
        (lambda c: c.classify_batch("one string"), TypeError, "list of strings"),
        (lambda c: c.add_intent("new", []), ValueError, "at least one example"),
        (lambda c: c.add_intent("new", ["ok", "  "]), ValueError, "^example 2 of 'new' is empty"),
        (lambda c: c.add_intent("new", ["ok", 3]), TypeError, "must be a string"),
        (lambda c: c.add_intent("refund", ["again"]), ValueError, "already exists"),
        (lambda c: c.add_intent("", ["x"]), ValueError, "empty or blank"),
        (lambda c: c.add_intent("a\x00b", ["x"]), ValueError, "control or format"),
        (lambda c: c.add_intent("oos", ["x"]), ValueError, "reserved"),
        (lambda c: c.add_examples("nope", ["x"]), KeyError, "no intent named"),
        (lambda c: c.remove_intent("nope"), KeyError, "no intent named"),
        (lambda c: c.rename_intent("nope", "other"), KeyError, "no intent named"),
        (
            lambda c: c.rename_intent("refund", "greeting"),
            ValueError,
            "'greeting' already exists; choose another name, or remove that intent first",
        ),
        (lambda c: c.examples("nope"), KeyError, "no intent named"),
        (lambda c: c.remove_intent("refnd"), KeyError, "'refnd'; did you mean 'refund'"),
        (lambda c: c.fit(["a", "b"], ["x"]), ValueError, "same length"),
    ],
)
def test_bad_input_is_a_clear_error_and_changes_nothing(toy_classifier, call, error, message):
    state = {name: toy_classifier.examples(name) for name in toy_classifier.intents}
    with pytest.raises(error, match=message):
        call(toy_classifier)
    assert {name: toy_classifier.examples(name) for name in toy_classifier.intents} == state
    assert toy_classifier.predict(["where is my parcel"]) == ["track_order"]


def test_classifying_with_no_intents_says_what_to_do(fake_encoder):
    with pytest.raises(RuntimeError, match="add_intent"):
        IntentClassifier(encoder=fake_encoder).classify("hello")


def test_invalid_settings_are_rejected(fake_encoder):
    with pytest.raises(ValueError, match="head must be one of"):
        IntentClassifier(encoder=fake_encoder, head="svm")
    with pytest.raises(ValueError, match="oos_threshold"):
        IntentClassifier(encoder=fake_encoder, oos_threshold="sometimes")


def test_adapt_refits_intents_added_one_at_a_time_like_fit(fake_encoder, toy_intents):
    one_by_one = IntentClassifier(encoder=fake_encoder, oos_threshold=None)
    for name, examples in toy_intents.items():
        one_by_one.add_intent(name, examples)
    texts = [t for examples in toy_intents.values() for t in examples]
    labels = [name for name, examples in toy_intents.items() for _ in examples]
    fitted = IntentClassifier(encoder=fake_encoder, oos_threshold=None).fit(texts, labels)
    queries = ["parcel money", "hello refund", "track hello", "money morning"]
    one_by_one.adapt()
    assert one_by_one.intents == fitted.intents
    for adapted, reference in zip(
        one_by_one.classify_batch(queries), fitted.classify_batch(queries), strict=True
    ):
        assert adapted.intent == reference.intent
        assert adapted.confidence == pytest.approx(reference.confidence, abs=1e-5)


def test_load_builds_one_head(toy_classifier, tmp_path, monkeypatch):
    import intentmeta.classifier
    import intentmeta.editing

    toy_classifier.save(tmp_path / "registry")
    built = []
    real = intentmeta.classifier.build_head
    for module in (intentmeta.classifier, intentmeta.editing):
        monkeypatch.setattr(module, "build_head", lambda *args: built.append(args) or real(*args))
    loaded = IntentClassifier.load(tmp_path / "registry", encoder=toy_classifier.encoder)
    assert len(built) == 1
    assert loaded.predict(["where is my parcel"]) == ["track_order"]


def test_adaptation_reports_every_step_run_on_a_small_registry(fake_encoder, toy_intents):
    texts = [text for examples in toy_intents.values() for text in examples]
    labels = [name for name, examples in toy_intents.items() for _ in examples]
    clf = IntentClassifier(encoder=fake_encoder).fit(texts, labels)
    assert clf.adaptation == Adaptation(steps=100, blocks=1, intents=3, examples=12)  # 9 + 3 names
    assert clf.adapt() == clf.adaptation


def test_a_registry_past_the_work_budget_is_adapted_in_blocks_with_every_step(
    fake_encoder, toy_intents
):
    texts = [text for examples in toy_intents.values() for text in examples]
    labels = [name for name, examples in toy_intents.items() for _ in examples]
    # 3 examples x 32 dims x 100 steps x 3 = 28,800 multiply-adds per intent squared: a budget
    # of 65,000 holds blocks of 2 intents, so the 3 intents are adapted as 2 blocks.
    small = dataclasses.replace(default_head_config("prototypical"), adapt_max_work=65_000)
    clf = IntentClassifier(encoder=fake_encoder, head_config=small).fit(texts, labels)
    assert (clf.adaptation.steps, clf.adaptation.blocks) == (100, 2)
    unlimited = dataclasses.replace(small, adapt_max_work=None)
    clf = IntentClassifier(encoder=fake_encoder, head_config=unlimited).fit(texts, labels)
    assert (clf.adaptation.steps, clf.adaptation.blocks) == (100, 1)


def test_the_matching_head_reports_no_adaptation(fake_encoder, toy_intents):
    texts = [text for examples in toy_intents.values() for text in examples]
    labels = [name for name, examples in toy_intents.items() for _ in examples]
    clf = IntentClassifier(encoder=fake_encoder, head="matching").fit(texts, labels)
    assert clf.adaptation.steps == 0
