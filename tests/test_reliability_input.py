"""Bad input through the API: a clear error naming the problem, and the registry as it was."""

from __future__ import annotations

import pytest
import torch

from intentmeta import IntentClassifier
from intentmeta.validation import MAX_INTENT_NAME_LENGTH

#: Texts a person may well type, and that must survive the encoder, JSON and safetensors intact.
AWKWARD_TEXTS = [
    "where is my parcel 📦🚚",  # emoji
    "أين طردي",  # Arabic, right to left
    "איפה החבילה שלי",  # Hebrew, right to left
    "mixed \u202eRTL override\u202c text",  # bidi control characters
    "nul\x00byte inside",  # NUL byte
    "tab\tnew\nline\rcarriage \x1b[31mescape",  # control characters and an ANSI escape
    "zero\u200bwidth joiner\u200d",  # invisible format characters between visible ones
    "straße café naïve 東京",  # accents and CJK
]


def registry_state(clf: IntentClassifier) -> dict[str, object]:
    """Everything a failed call must leave untouched: names, examples, head and embeddings."""
    _, embeddings, owners = clf.support()
    return {
        "examples": {name: clf.examples(name) for name in clf.intents},
        "head_classes": clf.head.classes.tolist(),
        "embeddings": embeddings.clone(),
        "owners": owners.tolist(),
        "next_label": clf._registry.next_label,
        "answer": clf.classify("where is my parcel").intent,
    }


def assert_unchanged(clf: IntentClassifier, before: dict[str, object]) -> None:
    after = registry_state(clf)
    assert torch.equal(after.pop("embeddings"), before["embeddings"])
    assert after == {k: v for k, v in before.items() if k != "embeddings"}


NOT_A_STRING = [None, 42, 3.5, b"bytes", ["nested"], {"a": 1}]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        # names: empty, blank, too long, path-like, non-string, duplicate, reserved
        (lambda c: c.add_intent("   ", ["x"]), ValueError, "empty or blank"),
        (lambda c: c.add_intent(None, ["x"]), TypeError, "intent name must be a string"),
        (lambda c: c.add_intent(b"refund2", ["x"]), TypeError, "intent name must be a string"),
        (lambda c: c.add_intent("x" * 10_000, ["x"]), ValueError, "characters long"),
        # names are JSON values, never paths: only control/format characters are refused
        (lambda c: c.add_intent("nul\x00name", ["x"]), ValueError, "control or format"),
        (lambda c: c.add_intent("line\nbreak", ["x"]), ValueError, "control or format"),
        (lambda c: c.add_intent("bidi\u202eflip", ["x"]), ValueError, "control or format"),
        (lambda c: c.add_intent(" refund ", ["x"]), ValueError, "already exists"),  # trimmed
        (lambda c: c.add_intent("ＯＯＳ", ["x"]), ValueError, "reserved"),
        (lambda c: c.add_intent("refund", ["new words"]), ValueError, "already exists"),
        (lambda c: c.add_intent("oos", ["x"]), ValueError, "reserved"),
        # examples: none, blank among good ones, invisible-only, non-string, wrong container
        (lambda c: c.add_intent("new", None), TypeError, "list of strings"),
        (lambda c: c.add_intent("new", "one string"), TypeError, "list of strings"),
        (lambda c: c.add_intent("new", {"a set"}), TypeError, "list of strings"),
        (lambda c: c.add_intent("new", ()), ValueError, "at least one example"),
        (
            lambda c: c.add_intent("new", ["good one", "", "another"]),
            ValueError,
            "example 2 of 'new'",
        ),
        (lambda c: c.add_intent("new{x}", ["ok", " "]), ValueError, r"example 2 of 'new\{x\}'"),
        (lambda c: c.add_intent("new", ["good one", "\t\n "]), ValueError, "empty or blank"),
        (lambda c: c.add_intent("new", ["good", "\u200b\u200d"]), ValueError, "empty or blank"),
        (lambda c: c.add_intent("new", ["good", "\x00\x01"]), ValueError, "empty or blank"),
        (lambda c: c.add_intent("new", ["good", None]), TypeError, "must be a string"),
        (lambda c: c.add_intent("new", ["ok", "bad \ud800 half"]), ValueError, "surrogate"),
        (lambda c: c.add_examples("refund", ["fine", None]), TypeError, "must be a string"),
        (lambda c: c.add_examples("refund", []), ValueError, "at least one example"),
        (lambda c: c.add_examples("refund", ["fine", " "]), ValueError, "empty or blank"),
        (lambda c: c.add_examples(None, ["fine"]), KeyError, "no intent named"),
        (lambda c: c.add_examples(["refund"], ["fine"]), KeyError, "no intent named"),
        (lambda c: c.remove_examples("refund", ["not there"]), KeyError, "has no example"),
        (lambda c: c.remove_examples("refund", c.examples("refund")), ValueError, "keep at least"),
        (lambda c: c.remove_examples("refund", None), TypeError, "list of strings"),
        (lambda c: c.remove_examples("nope", ["x"]), KeyError, "no intent named"),
        (lambda c: c.remove_intent(None), KeyError, "no intent named"),
        (lambda c: c.rename_intent("refund", "a\tb"), ValueError, "control or format"),
        (lambda c: c.rename_intent("refund", "oos"), ValueError, "reserved"),
        (lambda c: c.rename_intent("refund", None), TypeError, "must be a string"),
        # classification
        (lambda c: c.classify(""), ValueError, "empty or blank"),
        (lambda c: c.classify("\x00"), ValueError, "empty or blank"),
        (lambda c: c.classify_batch(["fine", None]), TypeError, r"texts\[1\]"),
        (lambda c: c.classify_batch(None), TypeError, "list of strings"),
        (lambda c: c.nearest_examples(None), TypeError, "must be a string"),
        # fit: a bad name or text anywhere means nothing is replaced
        (lambda c: c.fit(["a b", "c d"], ["ok", "OOS"]), ValueError, "reserved"),
        (lambda c: c.fit(["a b", "c d"], ["ok", ["x"]]), TypeError, "must be a string"),
        (lambda c: c.fit(["a b", None], ["ok", "ok"]), TypeError, "must be a string"),
        (lambda c: c.fit([], []), ValueError, "at least one example"),
    ],
)
def test_bad_input_raises_a_named_error_and_leaves_the_registry_as_it_was(
    toy_classifier, call, error, message
):
    before = registry_state(toy_classifier)
    with pytest.raises(error, match=message):
        call(toy_classifier)
    assert_unchanged(toy_classifier, before)


@pytest.mark.parametrize("value", NOT_A_STRING)
def test_a_non_string_example_is_a_type_error_naming_its_type(toy_classifier, value):
    before = registry_state(toy_classifier)
    with pytest.raises(TypeError, match=type(value).__name__):
        toy_classifier.add_intent("new", ["fine", value])
    assert_unchanged(toy_classifier, before)


def test_a_name_at_the_length_limit_is_accepted_and_one_more_is_not(toy_classifier):
    toy_classifier.add_intent("n" * MAX_INTENT_NAME_LENGTH, ["limit words"])
    with pytest.raises(ValueError, match=str(MAX_INTENT_NAME_LENGTH)):
        toy_classifier.add_intent("m" * (MAX_INTENT_NAME_LENGTH + 1), ["limit words"])
    assert "n" * MAX_INTENT_NAME_LENGTH in toy_classifier


def test_names_in_other_scripts_with_inner_dots_slashes_and_spaces_are_valid(toy_classifier):
    names = ["استرداد", "返品", "v1.2 refund", "a..b", "../etc", "a/b", "C:x", "."]
    for name in names:
        toy_classifier.add_intent(name, [f"{name} words"])
    assert toy_classifier.intents[-len(names) :] == names


def test_an_encoder_failure_leaves_no_partial_intent(toy_classifier, monkeypatch):
    before = registry_state(toy_classifier)

    def broken(texts, *, progress=False):
        raise RuntimeError("encoder went away")

    monkeypatch.setattr(toy_classifier.encoder, "encode", broken)
    with pytest.raises(RuntimeError, match="went away"):
        toy_classifier.add_intent("new", ["fine words"])
    with pytest.raises(RuntimeError, match="went away"):
        toy_classifier.add_examples("refund", ["fresh words"])
    monkeypatch.undo()
    assert_unchanged(toy_classifier, before)


def test_awkward_texts_are_stored_classified_and_saved_exactly(toy_classifier, tmp_path):
    toy_classifier.add_intent("awkward", AWKWARD_TEXTS)
    assert toy_classifier.examples("awkward") == AWKWARD_TEXTS
    assert all(p.intent for p in toy_classifier.classify_batch(AWKWARD_TEXTS))
    toy_classifier.save(tmp_path / "registry")
    loaded = IntentClassifier.load(tmp_path / "registry", encoder=toy_classifier.encoder)
    assert loaded.examples("awkward") == AWKWARD_TEXTS
    assert loaded.predict(AWKWARD_TEXTS) == toy_classifier.predict(AWKWARD_TEXTS)


def test_hundreds_of_kilobytes_of_text_are_accepted_and_saved(toy_classifier, tmp_path):
    huge = "parcel " * 60_000  # 420 kB
    assert toy_classifier.classify(huge).intent == "track_order"
    toy_classifier.add_examples("track_order", [huge])
    toy_classifier.save(tmp_path / "registry")
    loaded = IntentClassifier.load(tmp_path / "registry", encoder=toy_classifier.encoder)
    assert loaded.examples("track_order")[-1] == huge


@pytest.mark.integration
def test_real_encoder_takes_huge_rtl_emoji_and_control_texts(real_encoder, tmp_path):
    clf = IntentClassifier(encoder=real_encoder, oos_threshold=None)
    clf.add_intent("track_order", ["where is my parcel", "has my order shipped"])
    clf.add_intent("refund", ["I want my money back", "refund my payment"])
    huge = "where is my parcel? " * 20_000  # 400 kB, far past the 256-token limit
    clf.add_intent("awkward", AWKWARD_TEXTS)
    texts = [huge, *AWKWARD_TEXTS]
    predictions = clf.classify_batch(texts)
    assert predictions[0].intent == "track_order"
    assert all(p.intent in clf for p in predictions)
    embeddings = real_encoder.encode(texts)  # (n_texts, 384)
    assert torch.isfinite(embeddings).all()
    assert torch.allclose(embeddings.norm(dim=1), torch.ones(len(texts)), atol=1e-4)
    clf.save(tmp_path / "registry")
    assert IntentClassifier.load(tmp_path / "registry").examples("awkward") == AWKWARD_TEXTS
