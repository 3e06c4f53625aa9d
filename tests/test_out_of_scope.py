from __future__ import annotations

import json
import warnings

import pytest
import torch
import torch.nn.functional as F

from intentmeta import IntentClassifier, intent_statistics, rejection_rule
from intentmeta.heads import HeadConfig
from intentmeta.prediction import OUT_OF_SCOPE
from intentmeta.research.reliability import auroc, expected_calibration_error, reliability_bins
from intentmeta.rule_provenance import warn_once_per_run

UNRELATED = "quantum chromodynamics lecture notes"


def build(encoder, intents, **kwargs) -> IntentClassifier:
    clf = IntentClassifier(encoder=encoder, **kwargs)
    for name, examples in intents.items():
        clf.add_intent(name, examples)
    return clf


def test_automatic_threshold_rejects_unrelated_text_and_keeps_matching_text(
    fake_encoder, toy_intents
):
    clf = build(fake_encoder, toy_intents)
    unrelated = clf.classify(UNRELATED)
    assert unrelated.is_out_of_scope and unrelated.intent is None
    assert unrelated.best_intent in toy_intents  # the runner-up is still reported
    assert clf.predict([UNRELATED, "where is my parcel"]) == ["oos", "track_order"]


def test_probabilities_of_every_answer_sum_to_one_and_the_answer_is_the_top_entry(
    fake_encoder, toy_intents
):
    clf = build(fake_encoder, toy_intents, top_k=len(toy_intents))
    texts = [UNRELATED, "where is my parcel", "money parcel", "hello refund", "zebra"]
    for prediction in clf.classify_batch(texts):
        assert sum(prediction.scores.values()) == pytest.approx(1.0, abs=1e-5)
        assert OUT_OF_SCOPE in prediction.scores
        top, top_score = next(iter(prediction.scores.items()))
        assert prediction.confidence == pytest.approx(top_score)
        assert top == (OUT_OF_SCOPE if prediction.is_out_of_scope else prediction.intent)
    assert clf.classify(UNRELATED).is_out_of_scope


def test_with_fewer_listed_intents_the_entries_sum_to_at_most_one(fake_encoder, toy_intents):
    clf = build(fake_encoder, toy_intents, top_k=1)
    for prediction in clf.classify_batch([UNRELATED, "where is my parcel", "money parcel"]):
        assert sum(prediction.scores.values()) <= 1.0 + 1e-5
        assert prediction.confidence == pytest.approx(max(prediction.scores.values()))


def test_incremental_statistics_equal_those_of_the_whole_registry(fake_encoder, toy_intents):
    clf = build(fake_encoder, toy_intents)
    clf.add_intent("weather", ["is it raining", "weather forecast rain", "rain tomorrow"])
    clf.add_examples("refund", ["refund the parcel money"])
    clf.remove_intent("greeting")
    rebuilt = IntentClassifier(encoder=fake_encoder).fit(
        [t for n in clf.intents for t in clf.examples(n)],
        [n for n in clf.intents for _ in clf.examples(n)],
    )
    incremental, whole = clf.oos.scale(), rebuilt.oos.scale()
    assert (incremental.mean_expected, incremental.cross) == pytest.approx(
        (whole.mean_expected, whole.cross), abs=1e-6
    )
    assert clf.out_of_scope_thresholds() == pytest.approx(rebuilt.out_of_scope_thresholds())
    names = clf.intents
    embeddings = torch.cat([fake_encoder.encode(clf.examples(n)) for n in names])
    labels = torch.repeat_interleave(torch.arange(3), torch.tensor([3, 4, 3]))
    _, _, nearest = rejection_rule.registry_statistics(embeddings, labels, 3)
    kept = [clf.oos.statistics.nearest_of(label) for label in labels_of_names(clf, names)]
    assert kept == pytest.approx(nearest.tolist(), abs=1e-5)


def labels_of_names(clf: IntentClassifier, names: list[str]) -> list[int]:
    column = dict(zip(clf._registry.column_names, clf._registry.column_labels, strict=True))
    return [column[n] for n in names]


def test_effective_thresholds_are_where_the_decision_flips(fake_encoder, toy_intents):
    clf = build(fake_encoder, toy_intents)
    thresholds = clf.out_of_scope_thresholds()
    assert set(thresholds) == set(toy_intents)
    scale = clf.oos.scale()
    for name, label in zip(clf.intents, labels_of_names(clf, clf.intents), strict=True):
        at = torch.tensor([thresholds[name] - 1e-3, thresholds[name] + 1e-3])
        decided = clf.oos.decide(at, torch.full((2,), scale.cross), [label, label])
        assert decided.rejected.tolist() == [True, False]
    fixed = build(fake_encoder, toy_intents, oos_threshold=0.4).out_of_scope_thresholds()
    assert fixed == pytest.approx(dict.fromkeys(toy_intents, 0.4))


def test_adding_an_intent_computes_statistics_of_that_intent_only(
    fake_encoder, toy_intents, monkeypatch
):
    clf = build(fake_encoder, toy_intents)
    seen = []
    original = intent_statistics.intent_sum
    monkeypatch.setattr(
        intent_statistics, "intent_sum", lambda e: seen.append(e.shape[0]) or original(e)
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


def test_no_threshold_never_rejects_and_lists_intents_only(fake_encoder, toy_intents):
    clf = build(fake_encoder, toy_intents, oos_threshold=None, top_k=3)
    predictions = clf.classify_batch([UNRELATED, "zebra", "where is my parcel"])
    assert not any(p.is_out_of_scope for p in predictions)
    for p in predictions:
        assert OUT_OF_SCOPE not in p.scores
        assert sum(p.scores.values()) == pytest.approx(1.0, abs=1e-5)
        assert p.confidence == pytest.approx(max(p.scores.values()))


def test_rejection_ignores_the_heads_temperature(fake_encoder, toy_intents):
    texts = [UNRELATED, "where is my parcel", "money parcel", "hello refund"]
    sharp = build(fake_encoder, toy_intents, head_config=HeadConfig(temperature=0.01))
    soft = build(fake_encoder, toy_intents, head_config=HeadConfig(temperature=1.0))
    assert [p.is_out_of_scope for p in sharp.classify_batch(texts)] == [
        p.is_out_of_scope for p in soft.classify_batch(texts)
    ]


def test_the_out_of_scope_probability_falls_as_the_cosine_rises(fake_encoder, toy_intents):
    clf = build(fake_encoder, toy_intents)
    label = labels_of_names(clf, ["track_order"])[0]
    cosines = torch.linspace(-0.2, 1.0, 7)
    _, p_oos, _ = clf.oos.evidence(cosines, torch.full((7,), -0.1), [label] * 7)
    assert (p_oos.diff() < 0).all()


def test_a_lone_intent_with_a_single_example_warns_and_still_decides(fake_encoder):
    with pytest.warns(UserWarning, match="fallback"):
        clf = build(fake_encoder, {"greeting": ["hello there"]})
        assert clf.classify("hello there").intent == "greeting"
    assert clf.classify(UNRELATED).is_out_of_scope


def test_the_rule_and_its_provenance_are_saved_and_loaded(fake_encoder, toy_intents, tmp_path):
    clf = build(fake_encoder, toy_intents)
    clf.oos.rule = rejection_rule.RejectionRule(
        provenance={"encoder": "fake-bag-of-words", "data": ["toy"], "split": "val"}
    )
    clf.calibrate(in_scope=["where is my parcel"], out_of_scope=[UNRELATED, "zebra crossing"])
    texts = [UNRELATED, "parcel where", "money back", "hello parcel"]
    before = clf.classify_batch(texts)
    clf.save(tmp_path / "registry")
    saved = json.loads((tmp_path / "registry" / "intentmeta.json").read_text())
    assert saved["oos"]["rule"]["provenance"]["encoder"] == "fake-bag-of-words"
    loaded = IntentClassifier.load(tmp_path / "registry", encoder=fake_encoder)
    assert loaded.oos.rule == clf.oos.rule
    assert loaded.oos.adjustment == pytest.approx(clf.oos.adjustment)
    after = loaded.classify_batch(texts)
    assert [p.intent for p in after] == [p.intent for p in before]
    assert [p.confidence for p in after] == pytest.approx([p.confidence for p in before])


def test_a_registry_far_outside_the_rules_provenance_warns_once(fake_encoder, toy_intents):
    rule = rejection_rule.RejectionRule(
        provenance={"encoder": "other-encoder", "shots": [10, 20], "spread": [2.0, 3.0]}
    )
    clf = IntentClassifier(encoder=fake_encoder, top_k=3)
    clf.oos.rule = rule
    clf.fit(
        [t for examples in toy_intents.values() for t in examples],
        [n for n, examples in toy_intents.items() for _ in examples],
    )
    with pytest.warns(UserWarning) as caught:
        clf.classify("where is my parcel")
    messages = " ".join(str(w.message) for w in caught)
    assert "examples per intent" in messages and "cosine spread" in messages
    assert "other-encoder" in messages
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.classify("money back")  # warned once per reason


ONE_SHOT = {"track_order": ["where is my parcel"], "refund": ["I want my money back"]}


def provenance_warnings(caught, reason: str = "outside what it was fitted on") -> list[str]:
    return [str(w.message) for w in caught if reason in str(w.message)]


@pytest.mark.parametrize("threshold", [None, 0.5])
@pytest.mark.parametrize("head", ["prototypical", "matching"])
def test_no_provenance_warning_when_the_rule_does_not_decide(fake_encoder, threshold, head):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = build(fake_encoder, ONE_SHOT, oos_threshold=threshold, head=head)
        prediction = clf.classify("where is my parcel")
        clf.out_of_scope_thresholds()
    assert prediction.intent == "track_order"
    assert provenance_warnings(caught) == []


def test_a_one_shot_registry_under_auto_still_warns(fake_encoder):
    with pytest.warns(UserWarning, match=r"1\.0 examples per intent \(fitted on \[3, 20\]\)"):
        build(fake_encoder, ONE_SHOT, head="matching").classify("where is my parcel")


def test_edits_that_only_move_the_figures_do_not_warn_again(fake_encoder):
    clf = IntentClassifier(encoder=fake_encoder)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i, n in enumerate([1, 2, 1, 1, 2]):  # 1.0, 1.5, 1.3, 1.2, 1.4 examples per intent
            clf.add_intent(f"intent{i}", [f"word{i} thing{j}" for j in range(n)])
            clf.classify("word1 thing0")
    shots = provenance_warnings(caught, "examples per intent")
    assert len(shots) == 1 and "1.0 examples per intent" in shots[0]


def test_many_classifiers_in_one_run_warn_once_and_a_lone_one_still_warns(fake_encoder):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with warn_once_per_run():
            for _ in range(5):
                build(fake_encoder, ONE_SHOT).classify("where is my parcel")
        in_run = provenance_warnings(caught, "examples per intent")
        build(fake_encoder, ONE_SHOT).classify("where is my parcel")
    assert len(in_run) == 1  # not once per classifier
    assert provenance_warnings(caught, "examples per intent") == in_run * 2  # again after it


def test_calibrate_fits_the_traffic_and_reports_before_and_after(fake_encoder, toy_intents):
    clf = build(fake_encoder, toy_intents)
    in_scope = ["where is my parcel", "money back please", "hello hello"]
    out = [UNRELATED, "violin sonata", "zebra crossing", "parcel money hello weather"]
    report = clf.calibrate(
        in_scope=in_scope,
        out_of_scope=out,
        in_scope_intents=["track_order", "refund", "greeting"],
    )
    assert set(report) == {"scale", "offset", "before", "after"}
    assert set(report["after"]) >= {
        "in_scope_accepted",
        "in_scope_accuracy",
        "out_of_scope_recall",
        "out_of_scope_precision",
        "log_loss",
    }
    assert report["after"]["log_loss"] <= report["before"]["log_loss"] + 1e-6
    assert clf.oos.adjustment == (report["scale"], report["offset"])
    with pytest.raises(ValueError, match="auto"):
        build(fake_encoder, toy_intents, oos_threshold=0.5).calibrate(out_of_scope=[UNRELATED])
    with pytest.raises(ValueError, match="out-of-scope"):
        clf.calibrate(in_scope=in_scope, out_of_scope=[])


def test_calibrate_warns_on_few_labelled_messages_and_names_both_ways_to_call_it(
    fake_encoder, toy_intents
):
    clf = build(fake_encoder, toy_intents)
    in_scope = ["where is my parcel", "money back please", "hello hello"]
    with pytest.warns(UserWarning, match="3 in-scope and 2 out-of-scope"):
        clf.calibrate(in_scope=in_scope, out_of_scope=[UNRELATED, "zebra crossing"])
    many_in = [f"{text} {i}" for text in in_scope for i in range(7)]  # 21
    many_out = [f"{UNRELATED} {i}" for i in range(20)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        clf.calibrate(in_scope=many_in, out_of_scope=many_out)
    with pytest.raises(ValueError, match="out_of_scope_share"):
        clf.calibrate()


def test_calibrate_without_in_scope_messages_scores_the_examples_leave_one_out(
    fake_encoder, toy_intents
):
    clf = build(fake_encoder, toy_intents)
    report = clf.calibrate(out_of_scope=[UNRELATED, "zebra crossing"])
    assert 0.0 <= report["after"]["in_scope_accepted"] <= 1.0
    units = F.normalize(fake_encoder.encode(toy_intents["refund"]), dim=1)
    others = F.normalize(units[1:].sum(dim=0), dim=0)
    label = labels_of_names(clf, ["refund"])[0]
    loo = clf.oos.leave_one_out(label, fake_encoder.encode(toy_intents["refund"]))
    assert float(loo[0]) == pytest.approx(float(units[0] @ others), abs=1e-6)


def test_the_old_calibrate_signature_still_works_with_a_deprecation_warning(
    fake_encoder, toy_intents
):
    clf = build(fake_encoder, toy_intents)
    with pytest.warns(DeprecationWarning, match="in_scope="):
        report = clf.calibrate([UNRELATED], in_scope_texts=["where is my parcel", "money back"])
    assert report["after"]["out_of_scope_recall"] == 1.0


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
        "in_scope_at_bar",
    }


def test_in_scope_accuracy_at_a_recall_reads_the_threshold_off_the_out_of_scope_messages():
    from intentmeta.research.evaluate_oos import in_scope_at_recall

    p_oos = torch.tensor([0.1, 0.3, 0.6, 0.2, 0.5, 0.9, 0.7, 0.4])
    is_oos = torch.tensor([False, False, False, False, True, True, True, True])
    best_right = torch.tensor([True, True, True, False, False, False, False, False])
    # Catching 3 of 4 out-of-scope messages takes p >= 0.5: the in-scope 0.6 goes too.
    assert in_scope_at_recall(p_oos, is_oos, best_right, 0.75) == pytest.approx(2 / 4)
    # All 4 take p >= 0.4: the in-scope 0.6 is still the only right answer lost.
    assert in_scope_at_recall(p_oos, is_oos, best_right, 1.0) == pytest.approx(2 / 4)
    # 2 of 4 take p >= 0.7 and 1 of 4 (0.2 rounds up to 1) p >= 0.9: no in-scope one goes.
    assert in_scope_at_recall(p_oos, is_oos, best_right, 0.5) == pytest.approx(3 / 4)
    assert in_scope_at_recall(p_oos, is_oos, best_right, 0.2) == pytest.approx(3 / 4)


def test_a_rule_set_after_fitting_takes_effect_on_the_next_message(fake_encoder, toy_intents):
    clf = build(fake_encoder, toy_intents)
    before = clf.out_of_scope_thresholds()
    stricter = rejection_rule.RejectionRule(
        oos_weights=(*clf.oos.rule.oos_weights[:5], clf.oos.rule.oos_weights[5] + 2.0)
    )
    clf.oos.rule = stricter
    after = clf.out_of_scope_thresholds()
    assert all(after[name] > before[name] for name in before)


def test_a_stated_out_of_scope_share_moves_the_log_odds_by_bayes_rule(
    fake_encoder, toy_intents, tmp_path
):
    clf = build(fake_encoder, toy_intents)
    queries = fake_encoder.encode(["where is my parcel", "money back", UNRELATED, "violin"])
    before = clf.out_of_scope_evidence(queries)[1].double()
    prior = clf.oos.rule.provenance["out_of_scope_prior"]
    assert clf.calibrate(out_of_scope_share=prior)["offset"] == 0.0  # the rule's own share
    report = clf.calibrate(out_of_scope_share=0.8)
    after = clf.out_of_scope_evidence(queries)[1].double()
    shift = torch.logit(torch.tensor(0.8)) - torch.logit(torch.tensor(prior))
    torch.testing.assert_close(
        after.logit() - before.logit(), shift.double().expand(4), atol=1e-4, rtol=0
    )
    assert report == {"scale": 1.0, "offset": pytest.approx(float(shift))}
    assert (after > before).all()
    clf.save(tmp_path / "registry")
    loaded = IntentClassifier.load(tmp_path / "registry", encoder=fake_encoder)
    assert loaded.oos.adjustment == clf.oos.adjustment
    assert loaded.oos.expected_share == pytest.approx(0.8)
    loaded.calibrate(out_of_scope=[UNRELATED, "violin sonata"])  # labels change more than it
    assert loaded.oos.expected_share is None


@pytest.mark.parametrize("share", [0, 1, 1.5, -0.1, True])
def test_an_out_of_scope_share_outside_zero_one_is_refused_and_changes_nothing(
    fake_encoder, toy_intents, share
):
    clf = build(fake_encoder, toy_intents)
    with pytest.raises(ValueError, match="share"):
        clf.calibrate(out_of_scope_share=share)
    assert clf.oos.adjustment == (1.0, 0.0)


def test_a_share_and_labelled_messages_together_are_refused(fake_encoder, toy_intents):
    clf = build(fake_encoder, toy_intents)
    with pytest.raises(ValueError, match="not both"):
        clf.calibrate(out_of_scope=[UNRELATED], out_of_scope_share=0.5)
    clf.oos.rule = rejection_rule.RejectionRule(provenance={})  # a rule fitted elsewhere
    with pytest.raises(ValueError, match="does not record"):
        clf.calibrate(out_of_scope_share=0.5)
    assert clf.oos.adjustment == (1.0, 0.0)


def test_the_registry_finds_each_messages_nearest_example_of_its_chosen_intent(
    fake_encoder, toy_intents
):
    clf = build(fake_encoder, toy_intents)
    texts = ["where is my parcel", "money back please", "hello there", UNRELATED]
    queries = fake_encoder.encode(texts)
    best = torch.tensor([0, 1, 1, 2])
    found = clf._registry.prototype_evidence(queries, best, nearest=True)[3]
    for row, column in enumerate(best.tolist()):
        examples = toy_intents[clf._registry.column_names[column]]
        by_hand = (fake_encoder.encode(examples) @ F.normalize(queries[row], dim=0)).max()
        assert found[row].item() == pytest.approx(by_hand.item(), abs=1e-6)
    one = clf._registry.prototype_evidence(queries[:1], best[:1], nearest=True)[3]  # 1 message
    assert one.tolist() == pytest.approx(found[:1].tolist(), abs=1e-6)


def test_a_message_close_to_one_example_is_less_likely_out_of_scope_than_a_typical_one(
    fake_encoder, toy_intents
):
    clf = build(fake_encoder, toy_intents)
    clf.oos.rule = rejection_rule.RejectionRule(nearest_weights=(-0.5, -0.5), nearest_offset=-0.5)
    label = labels_of_names(clf, ["track_order"])[0]
    chosen, runner_up = torch.full((3,), 0.5), torch.full((3,), 0.2)
    nearest = torch.tensor([0.4, 0.7, 0.95])  # farther than a typical example, then closer
    p_oos = clf.oos.evidence(chosen, runner_up, [label] * 3, nearest=nearest)[1]
    assert (p_oos.diff() < 0).all()
    typical = clf.oos.evidence(chosen[:1], runner_up[:1], [label])[1]  # nearness at its mean
    spread = clf.oos.scale().spread
    at_mean = clf.oos.rule.typical_nearest(chosen[:1], spread)
    assert typical.item() == pytest.approx(
        clf.oos.evidence(chosen[:1], runner_up[:1], [label], nearest=at_mean)[1].item()
    )


def test_a_rule_saved_before_the_nearest_example_was_read_decides_as_it_did(
    fake_encoder, toy_intents, tmp_path
):
    clf = build(fake_encoder, toy_intents)
    clf.save(tmp_path / "registry")
    manifest = tmp_path / "registry" / "intentmeta.json"
    saved = json.loads(manifest.read_text())
    rule = saved["oos"]["rule"]
    rule.pop("nearest_weights"), rule.pop("nearest_offset")
    assert rejection_rule.RejectionRule.from_state(rule).nearest_weights == (0.0, 0.0)
    older = rejection_rule.RejectionRule.from_state(rule)
    clf.oos.rule = older  # what the registry meant before
    texts = [UNRELATED, "where is my parcel", "money parcel", "hello refund"]
    before = [(p.intent, p.confidence) for p in clf.classify_batch(texts)]
    saved.pop("checksum", None)
    manifest.write_text(json.dumps(saved))
    loaded = IntentClassifier.load(tmp_path / "registry", encoder=fake_encoder)
    assert loaded.oos.rule == older
    after = [(p.intent, p.confidence) for p in loaded.classify_batch(texts)]
    assert [a[0] for a in after] == [b[0] for b in before]
    assert [a[1] for a in after] == pytest.approx([b[1] for b in before])
