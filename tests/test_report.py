"""The data-quality report: suspects, confusable pairs, near duplicates, per-intent figures."""

from __future__ import annotations

import json
import sys

import pytest
import torch

from intentmeta import IntentClassifier
from intentmeta.report import ReportConfig, build_report


@pytest.fixture
def messy_classifier(fake_encoder):
    """Four intents: ``money_back`` duplicates ``refund``; one parcel question filed as refund."""
    clf = IntentClassifier(encoder=fake_encoder, oos_threshold=None)
    clf.add_intent(
        "track_order",
        ["where is my parcel", "track my parcel please", "parcel tracking status", "parcel where"],
    )
    clf.add_intent(
        "refund",
        ["money back refund", "refund my money", "refund money please", "where is my parcel"],
    )
    clf.add_intent("money_back", ["refund money back", "money refund please", "refund money"])
    clf.add_intent("greeting", ["hello there", "hi hello", "hello good morning"])
    return clf


def test_report_flags_the_planted_mislabel_first(messy_classifier):
    report = build_report(messy_classifier)
    first = report.suspects[0]
    assert (first.intent, first.example, first.better_intent) == (
        "refund",
        "where is my parcel",
        "track_order",
    )
    assert first.margin > 0.3
    assert "track_order" in first.action
    margins = [s.margin for s in report.suspects]
    assert margins == sorted(margins, reverse=True)


def test_report_ranks_the_planted_duplicate_intent_most_confusable(messy_classifier):
    report = build_report(messy_classifier)
    top = report.confusable[0]
    assert {top.intent, top.other} == {"refund", "money_back"}
    assert top.similarity > 0.7
    similarities = [p.similarity for p in report.confusable]
    assert similarities == sorted(similarities, reverse=True)
    assert len(report.confusable) == 6  # every pair of four intents


def test_report_lists_near_duplicate_examples_under_different_intents(fake_encoder):
    clf = IntentClassifier(encoder=fake_encoder, oos_threshold=None)
    clf.add_intent("refund", ["refund my money", "money back"])
    clf.add_intent("complaint", ["my money refund", "this is bad"])  # same words, other order
    report = build_report(clf)
    assert len(report.near_duplicates) == 1
    duplicate = report.near_duplicates[0]
    assert {duplicate.example, duplicate.other_example} == {"refund my money", "my money refund"}
    assert duplicate.similarity == pytest.approx(1.0, abs=1e-4)


def test_report_per_intent_figures(messy_classifier):
    figures = {f.intent: f for f in build_report(messy_classifier).intents}
    assert figures["greeting"].loo_accuracy == 1.0
    assert figures["greeting"].n_examples == 3
    assert figures["greeting"].too_few_examples  # fewer than 5
    assert figures["refund"].nearest_intent == "money_back"
    assert figures["refund"].loo_accuracy < 1.0
    report = build_report(messy_classifier, ReportConfig(min_examples=3))
    assert not any(f.too_few_examples for f in report.intents)


def test_leave_one_out_matches_a_direct_computation(messy_classifier):
    """The vectorised LOO margin equals prototypes recomputed example by example."""
    names, embeddings, labels = messy_classifier.support()
    report = build_report(messy_classifier, ReportConfig(suspect_margin=-10.0))
    by_example = {(s.intent, s.example): s.margin for s in report.suspects}
    examples = [t for n in names for t in messy_classifier.examples(n)]
    for i, text in enumerate(examples):
        keep = torch.ones(len(labels), dtype=torch.bool)
        keep[i] = False
        own_rows = keep & (labels == labels[i])
        own = torch.nn.functional.normalize(embeddings[own_rows].mean(0), dim=0) @ embeddings[i]
        others = [
            torch.nn.functional.normalize(embeddings[labels == c].mean(0), dim=0) @ embeddings[i]
            for c in range(len(names))
            if c != labels[i]
        ]
        expected = float(max(others) - own)
        assert by_example[(names[labels[i]], text)] == pytest.approx(expected, abs=1e-3)


def test_single_example_intents_and_empty_registries(fake_encoder):
    clf = IntentClassifier(encoder=fake_encoder, oos_threshold=None)
    assert build_report(clf).intents == []
    clf.add_intent("alone", ["just one"])
    report = build_report(clf)
    assert report.intents[0].loo_accuracy is None
    assert report.intents[0].nearest_intent is None
    assert report.suspects == [] and report.confusable == []
    assert "alone" in str(report)


def test_report_renders_text_json_and_escaped_html(fake_encoder):
    clf = IntentClassifier(encoder=fake_encoder, oos_threshold=None)
    clf.add_intent("xss", ["<script>alert(1)</script> parcel", "parcel & <b>bold</b>"])
    clf.add_intent("parcel", ["where is my parcel", "parcel parcel"])
    report = build_report(clf, ReportConfig(suspect_margin=-10.0))
    html = report.to_html()
    assert "<script>alert" not in html and "<b>bold" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "data:image/png;base64," in html  # the heatmap
    text = str(report)
    assert "Suspect examples" in text and "<script>alert(1)</script> parcel" in text
    data = json.loads(report.to_json())
    assert {"intents", "suspects", "confusable", "near_duplicates"} <= data.keys()


def test_report_without_matplotlib_still_renders(messy_classifier, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    report = build_report(messy_classifier)
    assert "Suspect examples" in str(report)
    html = report.to_html()
    assert "data:image/png" not in html and "intentmeta[eval]" in html
