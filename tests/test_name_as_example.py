"""``IntentClassifier(name_as_example=True)``: each intent's humanised name is one more example."""

from __future__ import annotations

import pytest

from intentmeta import IntentClassifier
from intentmeta.validation import descriptive_intent_name, humanise_intent_name

INTENTS = {  # examples that never say the intent's own words
    "cancel_subscription": ["stop charging me every month", "end my plan"],
    "reset_password": ["i forgot how to log in", "locked out of my account"],
}


def fitted(fake_encoder, name_as_example: bool, one_by_one: bool) -> IntentClassifier:
    clf = IntentClassifier(
        encoder=fake_encoder, oos_threshold=None, name_as_example=name_as_example
    )
    if one_by_one:
        for name, examples in INTENTS.items():
            clf.add_intent(name, examples)
    else:
        texts = [t for examples in INTENTS.values() for t in examples]
        clf.fit(texts, [n for n, examples in INTENTS.items() for _ in examples])
    return clf


def test_humanised_names_read_like_messages():
    assert humanise_intent_name("track_order") == "track order"
    assert humanise_intent_name("Card-Payment.not__recognised") == "card payment not recognised"


@pytest.mark.parametrize("one_by_one", [True, False])
def test_the_name_counts_as_an_example_only_when_asked(fake_encoder, one_by_one):
    with_names = fitted(fake_encoder, True, one_by_one)
    assert with_names.classify("please cancel subscription").intent == "cancel_subscription"
    assert with_names.classify("reset password").intent == "reset_password"
    assert with_names.examples("reset_password") == INTENTS["reset_password"]  # not listed
    plain = fitted(fake_encoder, False, one_by_one)
    assert len(with_names._registry.name_vectors) == 2
    assert plain._registry.name_vectors == {}


def test_renaming_replaces_the_name_example_and_edits_keep_it(fake_encoder):
    clf = fitted(fake_encoder, True, one_by_one=True)
    clf.rename_intent("reset_password", "unlock_account")
    assert clf.classify("unlock account").intent == "unlock_account"
    clf.remove_examples("unlock_account", ["i forgot how to log in"])
    clf.add_examples("cancel_subscription", ["no more monthly fee"])
    assert clf.classify("unlock account").intent == "unlock_account"
    assert clf.intents == ["cancel_subscription", "unlock_account"]
    predictions = [clf.classify(t).intent for t in ("unlock account", "cancel subscription")]
    assert predictions == ["unlock_account", "cancel_subscription"]


def test_the_setting_is_saved_and_restored(fake_encoder, tmp_path):
    clf = fitted(fake_encoder, True, one_by_one=False)
    before = clf.classify("cancel subscription now")
    clf.save(tmp_path / "registry")
    loaded = IntentClassifier.load(tmp_path / "registry", encoder=fake_encoder)
    assert loaded.config.name_as_example is True
    after = loaded.classify("cancel subscription now")
    assert after.intent == before.intent == "cancel_subscription"
    assert after.confidence == pytest.approx(before.confidence, abs=1e-5)
    loaded.adapt()
    assert loaded.classify("cancel subscription now").confidence == pytest.approx(
        before.confidence, abs=1e-4
    )


def test_name_as_example_must_be_a_bool(fake_encoder):
    with pytest.raises(TypeError, match="name_as_example"):
        IntentClassifier(encoder=fake_encoder, name_as_example="yes")


def test_registries_saved_before_the_setting_existed_still_load(fake_encoder, tmp_path):
    import json

    clf = fitted(fake_encoder, False, one_by_one=False)
    clf.save(tmp_path / "registry")
    manifest_path = tmp_path / "registry" / "intentmeta.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["config"]["name_as_example"]
    manifest_path.write_text(json.dumps(manifest))
    loaded = IntentClassifier.load(tmp_path / "registry", encoder=fake_encoder)
    assert loaded.config.name_as_example is False
    assert loaded.intents == clf.intents


def test_names_count_by_default_but_opaque_names_never(fake_encoder):
    clf = IntentClassifier(encoder=fake_encoder, oos_threshold=None)
    assert clf.config.name_as_example is True
    clf.add_intent("reset_password", INTENTS["reset_password"])
    clf.add_intent("intent_17", INTENTS["cancel_subscription"])
    assert list(clf._registry.name_vectors) == [clf._registry.get("reset_password").label]
    texts = [t for examples in INTENTS.values() for t in examples]
    clf.fit(texts, ["intent_2"] * 2 + ["reset_password"] * 2)
    assert list(clf._registry.name_vectors) == [clf._registry.get("reset_password").label]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("track_order", "track order"),
        ("Billing-Q3", "billing q3"),
        ("intent_17", None),
        ("New class 2", None),
        ("A1", None),
        ("退款", "退款"),
    ],
)
def test_a_name_is_descriptive_when_it_has_a_word_beyond_placeholders(name, expected):
    assert descriptive_intent_name(name) == expected


def test_renaming_to_an_opaque_name_drops_the_name_example(fake_encoder):
    clf = fitted(fake_encoder, True, one_by_one=True)
    label = clf._registry.get("reset_password").label
    clf.rename_intent("reset_password", "intent_9")
    assert label not in clf._registry.name_vectors
    assert clf.classify("i forgot how to log in").intent == "intent_9"
    clf.rename_intent("intent_9", "unlock_account")
    assert label in clf._registry.name_vectors
