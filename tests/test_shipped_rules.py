from __future__ import annotations

import dataclasses
import json

import pytest
import torch
import torch.nn.functional as F
from conftest import FakeEncoder

from intentmeta import IntentClassifier
from intentmeta.rejection_rule import RejectionRule
from intentmeta.shipped_encoders import META_LEARNED, OFF_THE_SHELF
from intentmeta.shipped_rules import SHIPPED_RULES, shipped_rule_state


class NamedEncoder(FakeEncoder):
    """The bag-of-words fake under another encoder's name."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


class NarrowEncoder(FakeEncoder):
    """An unknown encoder whose cosines all sit near 1: a spread far from MiniLM's."""

    name = "my-org/narrow-encoder"

    def encode(self, texts, *, progress: bool = False) -> torch.Tensor:
        common = torch.ones(self.dim)  # shared by every text
        return F.normalize(20 * common + super().encode(texts), dim=-1)  # (n, dim)


def fitted(encoder, intents) -> IntentClassifier:
    return IntentClassifier(encoder=encoder).fit(
        [t for examples in intents.values() for t in examples],
        [n for n, examples in intents.items() for _ in examples],
    )


def test_the_detector_takes_the_rule_shipped_for_its_encoders_name(toy_intents):
    clf = fitted(NamedEncoder(META_LEARNED), toy_intents)
    assert clf.oos.rule == RejectionRule.from_state(SHIPPED_RULES[META_LEARNED])
    assert clf.oos.rule.provenance["encoder"] == META_LEARNED
    assert clf.oos.rule != RejectionRule()


def test_the_off_the_shelf_encoder_keeps_the_default_rule(toy_intents):
    clf = fitted(NamedEncoder(OFF_THE_SHELF), toy_intents)
    assert clf.oos.rule == RejectionRule()


def test_an_unknown_encoder_gets_the_off_the_shelf_rule_and_its_warning(toy_intents):
    clf = fitted(NarrowEncoder(), toy_intents)
    assert clf.oos.rule == RejectionRule()
    with pytest.warns(UserWarning, match="cosine spread") as caught:
        clf.classify("where is my parcel")
    messages = " ".join(str(w.message) for w in caught)
    assert "my-org/narrow-encoder" in messages and OFF_THE_SHELF in messages


def test_aliases_find_the_shipped_rule_and_copies_are_independent():
    state = shipped_rule_state("minilm-intents-v1")
    assert state == SHIPPED_RULES[META_LEARNED]
    state["provenance"]["encoder"] = "changed"
    assert SHIPPED_RULES[META_LEARNED]["provenance"]["encoder"] == META_LEARNED
    assert shipped_rule_state("/some/model/dir") is None


def test_a_saved_registry_keeps_its_own_rule_whatever_its_encoder_now_ships(toy_intents, tmp_path):
    encoder = NamedEncoder(META_LEARNED)
    clf = fitted(encoder, toy_intents)
    clf.save(tmp_path / "shipped")
    saved = json.loads((tmp_path / "shipped" / "intentmeta.json").read_text())
    assert saved["oos"]["rule"]["provenance"]["embedded_by"]
    assert IntentClassifier.load(tmp_path / "shipped", encoder=encoder).oos.rule == clf.oos.rule
    # A registry that saved another rule (here the off-the-shelf one) keeps it on load.
    clf.oos.rule = RejectionRule()
    clf.save(tmp_path / "older")
    loaded = IntentClassifier.load(tmp_path / "older", encoder=encoder)
    assert loaded.oos.rule == RejectionRule()
    texts = ["money back", "quantum chromodynamics lecture notes"]
    assert [p.confidence for p in loaded.classify_batch(texts)] == pytest.approx(
        [p.confidence for p in clf.classify_batch(texts)]
    )


@pytest.mark.parametrize("adjustment", [(1.0, 0.0), (0.7, -0.4)])
def test_the_folded_rule_gives_the_probabilities_of_its_features(adjustment):
    """``linear_logits`` (what a message is scored with) is the rule written on its features."""
    from intentmeta.rejection_rule import RegistryScale

    rule = dataclasses.replace(
        RejectionRule.for_encoder(META_LEARNED), nearest_weights=(0.3, -0.7), nearest_offset=-0.7
    )
    generator = torch.Generator().manual_seed(0)
    chosen, runner_up, nearest = torch.rand(3, 50, generator=generator) * 1.4 - 0.4
    expected = torch.rand(50, generator=generator) * 0.3 + 0.5
    examples = torch.randint(1, 30, (50,), generator=generator)
    scale = RegistryScale(mean_expected=0.62, cross=0.41, n_intents=50)
    oos_x, intent_x = rule.features(
        chosen, runner_up, expected, examples, scale.cross, scale.mean_expected, scale.spread
    )
    weights, intent_weights = torch.tensor(rule.oos_weights), torch.tensor(rule.intent_weights)
    nearness = rule.nearness(chosen, nearest, scale.spread, rule.nearest_offset)
    w_near, w_near_log = rule.nearest_weights
    nearness_weight = w_near + w_near_log * examples.float().log()
    linear = oos_x @ weights[:-1] + nearness_weight * nearness + weights[-1]
    oos_logit = adjustment[0] * linear + adjustment[1]
    p_oos, q = rule.probabilities(
        chosen, runner_up, expected, examples, scale, adjustment, nearest=nearest
    )
    torch.testing.assert_close(p_oos, torch.sigmoid(oos_logit), atol=1e-6, rtol=0)
    intent_logit = intent_x @ intent_weights[:-1] + intent_weights[-1]
    torch.testing.assert_close(q, torch.sigmoid(intent_logit), atol=1e-6, rtol=0)
