from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from intentmeta import IntentClassifier, out_of_scope
from intentmeta.heads import HeadConfig
from intentmeta.research.reliability import auroc, expected_calibration_error, reliability_bins

UNRELATED = "quantum chromodynamics lecture notes"


def build(encoder, intents, **kwargs) -> IntentClassifier:
    clf = IntentClassifier(encoder=encoder, **kwargs)
    for name, examples in intents.items():
        clf.add_intent(name, examples)
    return clf


def labels_of(clf: IntentClassifier) -> list[int]:
    return clf.head.classes.tolist()


def test_automatic_threshold_rejects_unrelated_text_and_keeps_matching_text(
    fake_encoder, toy_intents
):
    clf = build(fake_encoder, toy_intents)
    unrelated = clf.classify(UNRELATED)
    assert unrelated.is_out_of_scope and unrelated.intent is None
    assert unrelated.best_intent in toy_intents  # the runner-up is still reported
    assert clf.predict([UNRELATED, "where is my parcel"]) == ["oos", "track_order"]


def test_automatic_thresholds_follow_the_leave_one_out_rule(fake_encoder, toy_intents):
    clf = build(fake_encoder, toy_intents)
    config = clf.oos.config
    loo = {
        name: out_of_scope.intent_stats(fake_encoder.encode(examples)).loo
        for name, examples in toy_intents.items()
    }
    quantile = torch.quantile(torch.cat(list(loo.values())), config.quantile)
    mean_of_means = torch.stack([v.mean() for v in loo.values()]).mean()
    expected = torch.stack(
        [quantile + config.shift * (loo[name].mean() - mean_of_means) for name in clf.intents]
    )
    assert clf.oos.thresholds(labels_of(clf)) == pytest.approx(expected, abs=1e-5)


def test_leave_one_out_similarity_excludes_the_example_itself():
    embeddings = F.normalize(torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]), dim=1)
    stats = out_of_scope.intent_stats(embeddings)
    others = F.normalize(embeddings[1:].sum(dim=0), dim=0)
    assert float(stats.loo[0]) == pytest.approx(float(embeddings[0] @ others))
    assert out_of_scope.intent_stats(embeddings[:1]).loo.numel() == 0


def test_thresholds_change_when_an_intent_is_added_and_return_when_it_is_removed(
    fake_encoder, toy_intents
):
    clf = build(fake_encoder, toy_intents)
    labels = labels_of(clf)
    before = clf.oos.thresholds(labels)
    clf.add_intent("misc", ["apple", "violin concert", "tax return deadline", "green sofa"])
    during = clf.oos.thresholds(labels)
    assert not torch.allclose(before, during)  # a loose intent lowers the global quantile
    clf.remove_intent("misc")
    assert clf.oos.thresholds(labels) == pytest.approx(before)


def test_adding_an_intent_computes_statistics_of_that_intent_only(
    fake_encoder, toy_intents, monkeypatch
):
    clf = build(fake_encoder, toy_intents)
    seen = []
    original = out_of_scope.intent_stats
    monkeypatch.setattr(
        out_of_scope, "intent_stats", lambda e: seen.append(e.shape[0]) or original(e)
    )
    clf.add_intent("weather", ["is it raining", "weather forecast rain", "rain tomorrow"])
    assert seen == [3]
    clf.add_examples("weather", ["sunny weather today"])
    assert seen == [3, 4]


def test_float_threshold_is_a_cosine_to_the_best_intents_prototype(fake_encoder, toy_intents):
    query = "track parcel status today"
    prototype = F.normalize(fake_encoder.encode(toy_intents["track_order"]).sum(dim=0), dim=0)
    cosine = float(fake_encoder.encode([query])[0] @ prototype)
    below = build(fake_encoder, toy_intents, oos_threshold=cosine - 0.01).classify(query)
    above = build(fake_encoder, toy_intents, oos_threshold=cosine + 0.01).classify(query)
    assert below.similarity == pytest.approx(cosine, abs=1e-5)
    assert below.intent == "track_order" and not below.is_out_of_scope
    assert above.is_out_of_scope and above.best_intent == "track_order"


def test_no_threshold_never_rejects_and_still_gives_probabilities(fake_encoder, toy_intents):
    clf = build(fake_encoder, toy_intents, oos_threshold=None)
    predictions = clf.classify_batch([UNRELATED, "zebra", "where is my parcel"])
    assert not any(p.is_out_of_scope for p in predictions)
    assert all(0.0 <= p.confidence <= 1.0 for p in predictions)
    assert predictions[0].confidence < predictions[2].confidence


def test_rejection_ignores_the_heads_temperature(fake_encoder, toy_intents):
    texts = [UNRELATED, "where is my parcel", "money parcel", "hello refund"]
    sharp = build(fake_encoder, toy_intents, head_config=HeadConfig(temperature=0.01))
    soft = build(fake_encoder, toy_intents, head_config=HeadConfig(temperature=1.0))
    assert sharp.predict(texts) == soft.predict(texts)
    assert [p.confidence for p in sharp.classify_batch(texts)] == pytest.approx(
        [p.confidence for p in soft.classify_batch(texts)]
    )


def test_confidence_is_higher_the_further_a_message_is_from_the_threshold(fake_encoder):
    detector = out_of_scope.OutOfScopeDetector()
    margins = torch.tensor([-0.3, -0.1, 0.05, 0.3])
    rejected = margins < 0
    confidence = detector.confidence(margins, torch.full((4,), 0.1), rejected)
    assert confidence[0] > confidence[1]  # surer it is out of scope
    assert confidence[3] > confidence[2]  # surer of the intent


def test_a_lone_intent_with_a_single_example_uses_the_fallback_threshold(fake_encoder):
    clf = build(fake_encoder, {"greeting": ["hello there"]})
    assert clf.oos.thresholds(labels_of(clf)).tolist() == [clf.oos.config.fallback]
    assert clf.classify("hello there").intent == "greeting"
    assert clf.classify(UNRELATED).is_out_of_scope


def test_calibrate_shifts_every_threshold_by_the_offset_it_reports(fake_encoder, toy_intents):
    clf = build(fake_encoder, toy_intents)
    labels = labels_of(clf)
    before = clf.oos.thresholds(labels)
    report = clf.calibrate(["parcel money hello weather", UNRELATED, "zebra crossing"])
    assert set(report) == {"offset", "in_scope_accepted", "out_of_scope_rejected"}
    assert 0.0 <= report["in_scope_accepted"] <= 1.0
    assert clf.oos.thresholds(labels) == pytest.approx(before + report["offset"])
    with pytest.raises(ValueError, match="auto"):
        build(fake_encoder, toy_intents, oos_threshold=0.5).calibrate([UNRELATED])


def test_calibrate_rejects_given_out_of_scope_texts_that_are_separable(fake_encoder, toy_intents):
    clf = build(fake_encoder, toy_intents)
    report = clf.calibrate([UNRELATED], in_scope_texts=["where is my parcel", "money back"])
    assert report["in_scope_accepted"] == 1.0 and report["out_of_scope_rejected"] == 1.0
    assert clf.classify(UNRELATED).is_out_of_scope


def test_save_and_load_keep_thresholds_offset_and_confidences(fake_encoder, toy_intents, tmp_path):
    clf = build(fake_encoder, toy_intents)
    clf.calibrate(["parcel money hello weather", UNRELATED])
    texts = [UNRELATED, "parcel where", "money back", "hello parcel"]
    before = clf.classify_batch(texts)
    clf.save(tmp_path / "registry")
    loaded = IntentClassifier.load(tmp_path / "registry", encoder=fake_encoder)
    assert loaded.oos.offset == clf.oos.offset
    assert loaded.oos.thresholds(labels_of(loaded)) == pytest.approx(
        clf.oos.thresholds(labels_of(clf))
    )
    after = loaded.classify_batch(texts)
    assert [p.intent for p in after] == [p.intent for p in before]
    assert [p.confidence for p in after] == pytest.approx([p.confidence for p in before])


def test_ece_of_a_constructed_example():
    confidence = torch.tensor([0.25, 0.25, 0.65, 0.65, 0.95])
    correct = torch.tensor([True, False, True, True, True])
    # Bins: 0.25 right 1/2 (gap 0.25, 2 of 5), 0.65 right 2/2 (gap 0.35), 0.95 right (gap 0.05).
    expected = 2 / 5 * 0.25 + 2 / 5 * 0.35 + 1 / 5 * 0.05
    assert expected_calibration_error(confidence, correct, n_bins=10) == pytest.approx(expected)
    bins = reliability_bins(confidence, correct, n_bins=10)
    assert bins.counts.tolist() == [0, 0, 2, 0, 0, 0, 2, 0, 0, 1]


def test_ece_is_zero_when_confidence_matches_accuracy_in_every_bin():
    confidence = torch.tensor([0.75] * 4 + [0.5] * 2)
    correct = torch.tensor([True, True, True, False, True, False])
    assert expected_calibration_error(confidence, correct) == pytest.approx(0.0, abs=1e-9)


def test_auroc_counts_ordered_pairs_and_halves_ties():
    scores = torch.tensor([0.9, 0.4, 0.4, 0.1])
    positive = torch.tensor([True, True, False, False])
    # Pairs (pos, neg): (0.9,0.4) 1, (0.9,0.1) 1, (0.4,0.4) 0.5, (0.4,0.1) 1 -> 3.5 / 4.
    assert auroc(scores, positive) == pytest.approx(3.5 / 4)


@pytest.mark.integration
def test_real_encoder_rejects_an_unrelated_question_for_the_builtin_intents(real_encoder):
    clf = IntentClassifier.from_builtin("ecommerce", encoder=real_encoder)
    assert clf.classify("what is the boiling point of nitrogen").is_out_of_scope
    first = clf.examples(clf.intents[0])[0]
    assert clf.classify(first).intent == clf.intents[0]


def test_out_of_scope_benchmark_counts_rejections_as_recall_and_right_intents_as_accuracy(
    fake_encoder, toy_intents
):
    from intentmeta.research.evaluate_oos import OosSplit, run_seed, summarise

    split = OosSplit(
        texts=["where is my parcel now", "refund my money", "hello hello"],
        labels=["track_order", "refund", "greeting"],
        oos_texts=[UNRELATED, "violin sonata in g minor"],
    )
    run = run_seed(fake_encoder, split, toy_intents, shots=3, seed=0)
    predictions = build(fake_encoder, toy_intents).predict(split.texts + split.oos_texts)
    truth = [*split.labels, "oos", "oos"]
    right = [p == t for p, t in zip(predictions, truth, strict=True)]
    assert run.in_scope_accuracy == pytest.approx(sum(right[:3]) / 3)
    assert run.oos_recall == pytest.approx(sum(right[3:]) / 2)
    assert run.correct.tolist() == right
    assert set(summarise([run, run])) == {
        "in_scope_accuracy",
        "oos_recall",
        "oos_precision",
        "auroc",
        "ece",
    }
