"""Discovering new intents in unlabelled messages."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from intentmeta import IntentClassifier
from intentmeta.clustering import cluster, estimate_n_groups, group_names
from intentmeta.discovery import DiscoveryConfig, discover

CANCEL = [
    "cancel subscription",
    "cancel subscription today",
    "please cancel subscription",
    "subscription cancel",
    "cancel subscription asap",
    "cancel this subscription",
]
GIFT = [
    "gift card balance",
    "gift card balance check",
    "check gift card balance",
    "balance gift card",
    "gift card balance remaining",
]
KNOWN = ["where is my parcel", "track parcel please", "money back refund", "hi hello"]


@pytest.fixture
def registry(fake_encoder, toy_intents) -> IntentClassifier:
    """The toy intents with automatic out-of-scope thresholds."""
    clf = IntentClassifier(encoder=fake_encoder)
    for name, examples in toy_intents.items():
        clf.add_intent(name, examples)
    return clf


@pytest.fixture
def log() -> list[str]:
    messages = [*CANCEL, *GIFT, *KNOWN]
    return [messages[i] for i in np.random.default_rng(0).permutation(len(messages))]


def test_discover_assigns_known_messages_and_finds_the_planted_new_intents(registry, log):
    result = discover(registry, log)
    assert len(result.labels) == len(log)
    by_text = dict(zip(log, result.labels, strict=True))
    assert by_text["where is my parcel"] == "track_order"
    assert by_text["money back refund"] == "refund"
    assert by_text["hi hello"] == "greeting"
    assert len(result.groups) == 2
    cancel = result.group(by_text[CANCEL[0]])
    assert sorted(cancel.texts) == sorted(CANCEL)
    assert cancel.size == len(CANCEL)
    assert set(cancel.name.split("_")) == {"cancel", "subscription"}
    assert cancel.id == 0  # the largest group comes first
    gift = result.group(by_text[GIFT[0]])
    assert sorted(gift.texts) == sorted(GIFT)
    assert set(gift.name.split("_")) <= {"gift", "card", "balance"}
    assert [log[i] for i in gift.members] == gift.texts
    assert gift.representative == gift.texts[: DiscoveryConfig().n_representative]


def test_a_suggestion_becomes_an_intent_with_one_call(registry, log):
    result = discover(registry, log)
    name = result.add_to(registry, 0)
    assert name == result.groups[0].name and name in registry.intents
    assert registry.classify("cancel my subscription").intent == name
    registry.add_intent(*result.groups[1].as_intent())
    assert registry.classify("gift card balance please").intent == result.groups[1].name
    with pytest.raises(KeyError):
        result.group(99)


def test_discover_without_intents_groups_everything(fake_encoder, log):
    clf = IntentClassifier(encoder=fake_encoder, oos_threshold=None)
    result = discover(clf, log, n_groups=3)
    assert len(result.groups) == 3
    assert all(isinstance(label, int) for label in result.labels)
    assert sum(g.size for g in result.groups) == len(log)
    assert [g.size for g in result.groups] == sorted((g.size for g in result.groups), reverse=True)


def test_only_out_of_scope_keeps_every_accepted_message_on_its_intent(fake_encoder, log):
    clf = IntentClassifier(encoder=fake_encoder, oos_threshold=0.5)
    clf.add_intent("track_order", ["where is my parcel", "track parcel please"])
    clf.add_intent("refund", ["money back refund", "refund my money"])
    result = discover(clf, log, only_out_of_scope=True, n_groups=2)
    accepted = {t for t, p in zip(log, clf.classify_batch(log), strict=True) if p.intent}
    for text, label in zip(log, result.labels, strict=True):
        assert isinstance(label, str) == (text in accepted)


def test_discover_rejects_bad_input(toy_classifier):
    with pytest.raises(ValueError, match="n_groups"):
        discover(toy_classifier, ["a message"], n_groups=0)
    with pytest.raises(ValueError):
        discover(toy_classifier, ["fine", "   "])
    with pytest.raises(TypeError):
        discover(toy_classifier, ["fine", None])
    assert discover(toy_classifier, []).groups == []


def test_discovery_renders_text_json_and_escaped_html(fake_encoder):
    clf = IntentClassifier(encoder=fake_encoder, oos_threshold=None)
    texts = ["<script>x</script> cancel", "cancel <script>x</script>", "hello & bye", "bye hello"]
    result = discover(clf, texts, n_groups=2)
    html = result.to_html()
    assert "<script>x" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert "hello &amp; bye" in html
    data = json.loads(result.to_json())
    assert data["labels"] == result.labels
    assert [g["name"] for g in data["groups"]] == [g.name for g in result.groups]
    assert "suggested new intents" in str(result)


def test_estimators_find_well_separated_groups():
    torch.manual_seed(0)
    centres = torch.nn.functional.normalize(torch.randn(6, 32), dim=-1)
    points = centres.repeat_interleave(20, dim=0) + 0.05 * torch.randn(120, 32)
    points = torch.nn.functional.normalize(points, dim=-1)
    for estimator in ("silhouette", "average_linkage", "hdbscan"):
        assert estimate_n_groups(points, estimator) == 6, estimator
    groups = cluster(points, 6)
    assert len(set(groups.tolist())) == 6
    assert len(set(cluster(points, 6, max_ward=10).tolist())) == 6  # the k-means path
    with pytest.raises(ValueError, match="estimator"):
        estimate_n_groups(points, "guess")


def test_group_names_are_valid_distinct_and_avoid_taken_names():
    texts = ["refund please", "refund now", "123 !!", "the and of"]
    names, keywords = group_names(texts, np.array([0, 0, 1, 2]), 3, taken=["refund"])
    assert names[0] == "refund_2" or names[0].startswith("refund_")
    assert names[1] == "group_1" and names[2] == "group_2"
    assert keywords[0][0] == "refund"
    assert len(set(names)) == 3


def test_group_names_skip_words_that_name_no_topic():
    texts = ["when does the store open", "does the store open sunday", "I just want opening hours"]
    names, keywords = group_names(texts, np.zeros(3, dtype=int), 1)
    assert not {"does", "just", "want"} & set(keywords[0])
    assert names[0] == "_".join(keywords[0][:2])
