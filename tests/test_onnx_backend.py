"""The onnx-int8 encoder backend: close to torch float32, exported once per model, cached."""

from __future__ import annotations

import pytest

pytest.importorskip("onnxruntime", reason="the onnx extra (onnxruntime) is not installed")

from intentmeta import onnx_backend
from intentmeta.encoder import EncoderConfig, SentenceEncoder

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


def tiny_bert(directory) -> str:
    """A small random BERT and its tokenizer, saved like any Hugging Face encoder."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    directory.mkdir()
    words = sorted({w.strip("?,.").lower() for s in SENTENCES for w in s.split()})
    vocab = directory / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    BertTokenizerFast(vocab_file=str(vocab)).save_pretrained(directory)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(words) + 5, hidden_size=64, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=128)  # fmt: skip
    BertModel(config).eval().save_pretrained(directory)
    return str(directory)


def cosines(model: str) -> list[float]:
    fp32 = SentenceEncoder(EncoderConfig(model=model, cache_size=0))
    int8 = SentenceEncoder(EncoderConfig(model=model, cache_size=0, backend="onnx-int8"))
    return (fp32.encode(SENTENCES) * int8.encode(SENTENCES)).sum(dim=-1).tolist()


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
