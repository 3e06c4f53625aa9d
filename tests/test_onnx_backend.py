"""The onnx-int8 encoder backend: close to torch float32, exported once per model, cached."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

pytest.importorskip("onnxruntime", reason="the onnx extra (onnxruntime) is not installed")

from intentmeta import onnx_backend
from intentmeta.encoder import EncoderConfig, SentenceEncoder
from intentmeta.onnx_backend import OnnxRecipe
from intentmeta.research.embedding_cache import encoder_key

SENTENCES = [
    "where is my parcel, it should have arrived on monday",
    "I would like to return the shoes I bought last week",
    "can I pay with a gift card at checkout?",
    "please cancel my order before it ships",
    "the item arrived broken and I want a refund",
]


@pytest.fixture
def onnx_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("INTENTMETA_ONNX_CACHE", str(tmp_path / "onnx"))
    return tmp_path / "onnx"


def tiny_encoder(directory, architecture: str = "Bert", padding_side: str = "right") -> str:
    """A small random encoder (``BertModel``, ``DebertaV2Model`` ...) with a BERT tokenizer,
    saved like any Hugging Face encoder."""
    import torch
    import transformers
    from transformers import BertTokenizerFast

    directory.mkdir()
    words = sorted({w.strip("?,.").lower() for s in SENTENCES for w in s.split()})
    vocab = directory / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab), padding_side=padding_side)
    tokenizer.save_pretrained(directory)
    torch.manual_seed(0)
    config = getattr(transformers, f"{architecture}Config")(
        vocab_size=len(words) + 5, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=128,
    )  # fmt: skip
    getattr(transformers, f"{architecture}Model")(config).eval().save_pretrained(directory)
    return str(directory)


def tiny_bert(directory) -> str:
    """A small random BERT and its tokenizer."""
    return tiny_encoder(directory, "Bert")


def export_record(onnx_cache) -> dict:
    """What the one export in the cache did (``export.json``) and its operators."""
    import onnx

    [record] = list(onnx_cache.glob("*/export.json"))
    done = json.loads(record.read_text())
    graph = onnx.load(str(record.with_name("model.onnx")), load_external_data=False).graph
    done["operators"] = {node.op_type for node in graph.node}
    return done


def cosines(model: str) -> list[float]:
    """Cosine of each sentence's int8 ONNX embedding to its torch float32 one, encoded together
    (so the shorter sentences are padded)."""
    fp32 = SentenceEncoder(EncoderConfig(model=model, cache_size=0))
    int8 = SentenceEncoder(EncoderConfig(model=model, cache_size=0, backend="onnx-int8"))
    return (fp32.forward(SENTENCES) * int8.forward(SENTENCES)).sum(dim=-1).tolist()


def test_any_hugging_face_encoder_is_exported_once_and_cached(tmp_path, onnx_cache, monkeypatch):
    model = tiny_bert(tmp_path / "tiny-bert")
    assert min(cosines(model)) > 0.99
    [exported] = list(onnx_cache.glob("*/model.onnx"))

    def no_second_export(*args):
        raise AssertionError("exported again instead of read from the cache")

    monkeypatch.setattr(onnx_backend, "export_int8", no_second_export)
    encoder = SentenceEncoder(EncoderConfig(model=model, backend="onnx-int8"))
    assert encoder.encode(["where is my parcel"]).shape == (1, 64)
    assert list(onnx_cache.glob("*/model.onnx")) == [exported]


@pytest.mark.integration
def test_default_encoder_on_onnx_int8_is_close_to_torch_fp32(onnx_cache):
    assert min(cosines("default")) > 0.99


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="onnx-int8"):
        SentenceEncoder(EncoderConfig(backend="onnx"))


def test_bert_family_encoder_is_fused_with_int8_attention(tmp_path, onnx_cache):
    model = tiny_bert(tmp_path / "tiny-bert")
    assert min(cosines(model)) > 0.99
    done = export_record(onnx_cache)
    assert done["fused"] and done["model_type"] == "bert"
    assert {"QAttention", "SkipLayerNormalization", "MatMulInteger"} <= done["operators"]


def test_other_architectures_are_quantised_unfused(tmp_path, onnx_cache):
    model = tiny_encoder(tmp_path / "tiny-deberta", "DebertaV2")
    assert min(cosines(model)) > 0.99
    done = export_record(onnx_cache)
    assert not done["fused"] and done["model_type"] == "deberta-v2"
    assert "MatMulInteger" in done["operators"]
    assert not {"Attention", "QAttention"} & done["operators"]


def test_a_fused_graph_that_changes_the_outputs_is_not_used(tmp_path, onnx_cache, monkeypatch):
    monkeypatch.setattr(onnx_backend, "_same_hidden_states", lambda *paths_and_sample: False)
    model = tiny_bert(tmp_path / "tiny-bert")
    assert min(cosines(model)) > 0.99
    assert not export_record(onnx_cache)["fused"]


def test_left_padded_batches_are_fused_with_the_full_mask(tmp_path, onnx_cache):
    # The fused attention's default mask format counts real tokens from the left edge: with
    # left padding it would attend to the padding and miss the sentence's end.
    model = tiny_encoder(tmp_path / "tiny-bert-left", "Bert", padding_side="left")
    assert min(cosines(model)) > 0.99
    assert export_record(onnx_cache)["fused"]


def test_recipe_and_export_are_part_of_the_cache_keys(tmp_path):
    from transformers import BertModel

    model = BertModel.from_pretrained(tiny_bert(tmp_path / "tiny-bert"))
    recipes = [OnnxRecipe(), OnnxRecipe(quantize_attention=False), OnnxRecipe(per_channel=False)]
    keys = {onnx_backend.model_key(model, recipe) for recipe in recipes}
    assert len(keys) == 3

    def encoder(export_key: str) -> SimpleNamespace:
        model = SimpleNamespace(export_key=export_key)
        config = SimpleNamespace(backend="onnx-int8")
        return SimpleNamespace(name="m", dim=8, max_length=16, config=config, model=model)

    assert encoder_key(encoder("a")) != encoder_key(encoder("b"))
    assert encoder_key(encoder("a")).endswith("|backend=onnx-int8|export=a")
