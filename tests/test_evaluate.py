"""The on-disk embedding cache and the evaluation protocols, on fake encoders and toy embeddings."""

from __future__ import annotations

import torch

from intentmeta.embedding_cache import EmbeddingCache, cached_encode, default_cache_dir


def test_cached_encode_skips_encoding_on_the_second_run(fake_encoder, tmp_path):
    texts = ["where is my parcel", "refund my money", "where is my parcel"]
    first = cached_encode(fake_encoder, texts, tmp_path, progress=False)
    calls = fake_encoder.calls
    second = cached_encode(fake_encoder, texts, tmp_path, progress=False)
    assert fake_encoder.calls == calls
    assert torch.equal(first, second)
    assert torch.allclose(first, fake_encoder.encode(texts))


def test_cached_encode_encodes_only_the_new_texts(fake_encoder, tmp_path):
    cached_encode(fake_encoder, ["hello there"], tmp_path, progress=False)
    seen = []
    original = fake_encoder.encode

    def spy(texts, *, progress=False):
        seen.extend(texts)
        return original(texts, progress=progress)

    fake_encoder.encode = spy
    cached_encode(fake_encoder, ["hello there", "good morning"], tmp_path, progress=False)
    assert seen == ["good morning"]


def test_cache_keeps_encoders_apart(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.put("model-a", ["hi"], torch.ones(1, 2))
    assert cache.get("model-b", ["hi"]) == {}
    assert torch.equal(cache.get("model-a", ["hi"])["hi"], torch.ones(2))


def test_cache_directory_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("INTENTMETA_CACHE", str(tmp_path / "elsewhere"))
    assert default_cache_dir() == tmp_path / "elsewhere"
