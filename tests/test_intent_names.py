"""Intent names are what a person writes: any printable Unicode, NFC-normalised and trimmed, up to
100 characters; blank names, control characters and the reserved ``oos`` (in any case or width,
or spelt with look-alike letters of other scripts) are refused. Names are JSON values, never
paths, so ``/``, ``:`` or ``?`` need no refusing."""

from __future__ import annotations

import unicodedata

import pytest
from conftest import FakeEncoder

from intentmeta import IntentClassifier, RegistryError

ACCEPTED = [
    "reverted_card_payment?",  # a BANKING77 label
    "a:b",
    "a#b",
    "&",
    "+",
    "'",
    "a..b",
    "a/b",
    "what's up?",
    "खाता शेष",  # Hindi: combining vowel signs
    "கணக்கு இருப்பு",  # Tamil
    "ยอดคงเหลือ",  # Thai
    "café",
    "📦 parcel",
    "👨\u200d👩\u200d👧 family",  # emoji joined by zero-width joiners
    "می\u200cخواهم",  # Persian with a zero-width non-joiner
    "x" * 100,
    "счёт",  # Cyrillic
    "соус",  # Cyrillic with a look-alike о: only the reserved label itself is refused
    "оо",
    "oops",
    "ооs s",
]

REFUSED = [
    ("", "blank"),
    ("   ", "blank"),
    ("\u200b", "blank"),
    ("a\x00b", "control"),
    ("a\nb", "control"),
    ("a\tb", "control"),
    ("a\x7fb", "control"),
    ("a\u202eb", "control"),  # right-to-left override: makes a name read as another
    ("x" * 101, "100"),
    ("oos", "reserved"),
    ("OOS", "reserved"),
    ("Oos", "reserved"),
    (" oos ", "reserved"),
    ("ｏｏｓ", "reserved"),  # full-width
    ("ＯＯＳ", "reserved"),
    ("\u043e\u043e\u0455", "reserved"),  # Cyrillic о о ѕ
    ("o\u043es", "reserved"),  # one Cyrillic о among Latin letters
    ("\u03bf\u03bfs", "reserved"),  # Greek omicrons
    ("\u041e\u041e\u0405", "reserved"),  # Cyrillic capitals О О Ѕ
    ("00S", "reserved"),  # digit zeros look like O
    ("\U0001d428\U0001d428\U0001d42c", "reserved"),  # mathematical bold
]


@pytest.fixture
def clf():
    return IntentClassifier(encoder=FakeEncoder(), oos_threshold=None)


@pytest.mark.parametrize("name", ACCEPTED)
def test_what_a_person_writes_is_accepted_and_survives_save_and_load(clf, name, tmp_path):
    clf.add_intent(name, ["an example"])
    assert clf.intents == [name]
    clf.save(tmp_path / "registry")
    assert IntentClassifier.load(tmp_path / "registry", encoder=FakeEncoder()).intents == [name]


@pytest.mark.parametrize(("name", "message"), REFUSED)
def test_blank_control_overlong_and_reserved_names_are_refused(clf, name, message):
    with pytest.raises(ValueError, match=message):
        clf.add_intent(name, ["an example"])
    clf.add_intent("refund", ["money back"])
    with pytest.raises(ValueError, match=message):
        clf.rename_intent("refund", name)
    with pytest.raises(ValueError, match=message):
        clf.fit(["money back"], [name])
    assert clf.intents == ["refund"]


def test_names_are_nfc_normalised_and_trimmed(clf):
    decomposed = "cafe\u0301"
    clf.add_intent(decomposed, ["coffee please"])
    assert clf.intents == ["café"] and unicodedata.is_normalized("NFC", clf.intents[0])
    assert clf.examples(decomposed) == ["coffee please"]  # found by either spelling
    with pytest.raises(ValueError, match="already exists"):
        clf.add_intent("café", ["another"])
    clf.add_intent("  refund \u3000", ["money back"])
    assert clf.intents == ["café", "refund"]
    assert clf.predict(["coffee please"]) == ["café"]


def test_fit_on_banking77_style_labels_works(clf):
    texts = ["my card payment was reverted", "why was my payment reverted", "top up failed"]
    labels = ["reverted_card_payment?", "reverted_card_payment?", "top_up_failed"]
    clf.fit(texts, labels)
    assert clf.intents == ["reverted_card_payment?", "top_up_failed"]


def test_a_saved_registry_with_a_reserved_or_control_name_is_refused(clf, tmp_path):
    import json

    clf.add_intent("refund", ["money back"])
    clf.save(tmp_path / "registry")
    manifest_path = tmp_path / "registry" / "intentmeta.json"
    for bad in ("OOS", "a\x00b"):
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest["intents"][0]["name"] = bad
        manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
        with pytest.raises(RegistryError):
            IntentClassifier.load(tmp_path / "registry", encoder=FakeEncoder())


# ------------------------------------------------------------------------- item 8: the minors
@pytest.mark.parametrize("threshold", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_threshold_is_refused(threshold):
    with pytest.raises(ValueError, match="oos_threshold"):
        IntentClassifier(encoder=FakeEncoder(), oos_threshold=threshold)


@pytest.mark.parametrize("k", [0, -1, 1.5, True, "3"])
def test_nearest_examples_needs_a_positive_integer_k(clf, k):
    clf.add_intent("refund", ["money back", "refund please"])
    with pytest.raises((ValueError, TypeError), match="k"):
        clf.nearest_examples("money", k=k)


@pytest.mark.parametrize("labels", [{"a", "b"}, frozenset({"a", "b"}), {"a": 1, "b": 2}.keys()])
def test_fit_refuses_labels_without_an_order(clf, labels):
    with pytest.raises(TypeError, match="intents"):
        clf.fit(["one text", "another text"], labels)
    assert clf.intents == []
