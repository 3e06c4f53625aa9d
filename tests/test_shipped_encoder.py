"""The meta-learned encoder that ships as the default, and the off-the-shelf one beside it."""

from __future__ import annotations

import hashlib
import re

import pytest
import torch

from intentmeta import IntentClassifier
from intentmeta.encoder import EncoderConfig, SentenceEncoder, shared_encoder
from intentmeta.persistence import saved_encoder
from intentmeta.shipped_encoders import (
    META_LEARNED,
    OFF_THE_SHELF,
    meta_learned_dir,
    shipped_encoder,
)


def test_the_weights_are_the_ones_the_model_card_names():
    card = (meta_learned_dir() / "README.md").read_text()
    recorded = re.search(r"sha256 `([0-9a-f]{64})`", card).group(1)
    actual = hashlib.sha256((meta_learned_dir() / "model.safetensors").read_bytes()).hexdigest()
    assert actual == recorded


def test_default_means_the_meta_learned_encoder_and_names_resolve_offline():
    assert shipped_encoder("default").name == META_LEARNED
    assert shipped_encoder("minilm-intents-v1").name == META_LEARNED
    for alias in ("all-MiniLM-L6-v2", OFF_THE_SHELF):
        assert shipped_encoder(alias).name == OFF_THE_SHELF
    assert shipped_encoder("some-org/some-model") is None


def test_registries_record_the_concrete_encoder_and_old_ones_meant_the_off_the_shelf():
    assert saved_encoder("default", "old") == OFF_THE_SHELF  # saved before the switch
    assert saved_encoder(META_LEARNED, "new") == META_LEARNED
    assert saved_encoder(OFF_THE_SHELF, "new") == OFF_THE_SHELF


@pytest.mark.integration
def test_both_shipped_encoders_load_offline_and_differ():
    texts = ["where is my parcel", "I want my money back"]
    meta = shared_encoder()
    plain = shared_encoder(EncoderConfig(model="all-MiniLM-L6-v2"))
    assert meta.name == META_LEARNED and plain.name == OFF_THE_SHELF
    a, b = meta.encode(texts), plain.encode(texts)
    assert a.shape == b.shape == (2, 384)
    cosine = (a * b).sum(dim=1)
    assert (cosine > 0.8).all() and (cosine < 0.99999).all()  # a fine-tune, not a new model


@pytest.mark.integration
def test_a_registry_made_with_the_meta_learned_encoder_round_trips(tmp_path):
    clf = IntentClassifier()
    clf.add_intent("track_order", ["where is my parcel", "has my order shipped"])
    clf.add_intent("refund", ["I want my money back", "when is my refund coming"])
    texts = ["my package has not arrived", "give me my money back", "hello there"]
    before = clf.classify_batch(texts)
    clf.save(tmp_path / "registry")
    loaded = IntentClassifier.load(tmp_path / "registry")  # no encoder= needed: it ships
    assert loaded.config.encoder == META_LEARNED
    after = loaded.classify_batch(texts)
    assert [p.intent for p in after] == [p.intent for p in before]
    assert [p.confidence for p in after] == pytest.approx([p.confidence for p in before])


@pytest.mark.integration
def test_the_int8_path_runs_the_meta_learned_encoder():
    texts = ["where is my parcel", "cancel my order"]
    fp32 = shared_encoder().encode(texts)
    int8 = SentenceEncoder(EncoderConfig(backend="quantized")).encode(texts)
    assert torch.nn.functional.cosine_similarity(fp32, int8).min() > 0.95


@pytest.mark.parametrize("source", ["./no_such_model", "runs/encoders/missing", "/no/such/dir"])
def test_a_missing_model_folder_is_named_as_such(source):
    with pytest.raises(ValueError, match="no model folder at"):
        SentenceEncoder(EncoderConfig(model=source))


def test_a_malformed_model_name_is_a_clear_error_not_the_hub_s():
    with pytest.raises(ValueError, match="Cannot load encoder 'not valid/name!'"):
        SentenceEncoder(EncoderConfig(model="not valid/name!"))


def test_loading_an_encoder_prints_no_progress_bar_and_leaves_the_setting_as_it_was(capfd):
    from transformers.utils import logging as transformers_logging

    was_enabled = transformers_logging.is_progress_bar_enabled()
    transformers_logging.enable_progress_bar()
    try:
        SentenceEncoder(EncoderConfig(model=OFF_THE_SHELF))
        assert "Loading weights" not in capfd.readouterr().err
        assert transformers_logging.is_progress_bar_enabled()
    finally:
        if not was_enabled:
            transformers_logging.disable_progress_bar()
