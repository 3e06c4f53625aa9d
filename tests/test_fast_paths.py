"""Fast paths give the same answers as the plain path: cache, batching, length sorting, int8."""

from __future__ import annotations

import pytest
import torch

from intentmeta import IntentClassifier
from intentmeta.encoder import (
    EncoderConfig,
    SentenceEncoder,
    bundled_model_dir,
    one_text_tokenizer,
    tokenize,
)
from intentmeta.encoder_backends import check_backend, prepare_model

MESSAGES = [
    "where is my parcel",
    "i want my money back please",
    "hello",
    "track my parcel please, it has been two weeks and nothing has arrived yet",
    "refund my money now",
    "hi hello good morning",
]


def test_batch_classification_matches_one_message_at_a_time(toy_classifier):
    batch = toy_classifier.classify_batch(MESSAGES)
    single = [toy_classifier.classify(text) for text in MESSAGES]
    assert [p.intent for p in batch] == [p.intent for p in single]
    for b, s in zip(batch, single, strict=True):
        assert b.scores.keys() == s.scores.keys()
        assert b.confidence == pytest.approx(s.confidence, abs=1e-6)


@pytest.fixture(scope="module")
def bundled_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(bundled_model_dir(), local_files_only=True)


@pytest.mark.parametrize("max_length", [8, 256])
def test_one_text_tokenizer_gives_the_tokenizers_tensors(bundled_tokenizer, max_length):
    one_text = one_text_tokenizer(bundled_tokenizer, max_length)
    assert one_text is not None
    for text in [*MESSAGES, "", "  Crème brûlée?? 🙂 ", "word " * 400, "ENDS WITH [SEP]"]:
        expected = tokenize(bundled_tokenizer, [text], max_length)
        found = one_text(text)
        assert found.keys() == expected.keys()
        for name, tensor in expected.items():
            assert found[name].dtype == tensor.dtype
            assert torch.equal(found[name], tensor), (text, name)


def test_one_text_tokenizer_is_not_used_where_it_would_differ(bundled_tokenizer):
    class ShiftedIds:
        """The bundled tokenizer with every id moved by one: its backend no longer agrees."""

        is_fast = True
        backend_tokenizer = bundled_tokenizer.backend_tokenizer
        model_input_names = bundled_tokenizer.model_input_names

        def __call__(self, *args, **kwargs):
            batch = bundled_tokenizer(*args, **kwargs)
            batch["input_ids"] = batch["input_ids"] + 1
            return batch

    assert one_text_tokenizer(ShiftedIds(), 32) is None


def test_unknown_backend_is_rejected_with_the_choices():
    with pytest.raises(ValueError, match="quantized"):
        check_backend("onnx-gpu")


def test_torch_backend_leaves_the_model_untouched():
    model = torch.nn.Linear(4, 4)
    assert prepare_model(model, "torch") is model


def test_quantized_backend_replaces_linear_layers_and_keeps_the_original():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    quantized = prepare_model(model, "quantized")
    assert type(quantized[0]) is not torch.nn.Linear
    assert type(model[0]) is torch.nn.Linear
    x = torch.randn(5, 8)
    assert torch.allclose(quantized(x), model(x), atol=0.1)


@pytest.mark.integration
def test_cached_encoding_equals_a_fresh_forward_pass(real_encoder):
    fresh = real_encoder.forward(MESSAGES)  # (n, dim), never cached
    real_encoder.encode(MESSAGES)  # fills the cache
    cached = real_encoder.encode(MESSAGES)
    assert torch.allclose(cached, fresh, atol=1e-5)


@pytest.mark.integration
def test_length_sorted_batches_come_back_in_the_callers_order(real_encoder):
    one_by_one = torch.cat([real_encoder.forward([text]) for text in MESSAGES])
    batched = real_encoder.encode(MESSAGES, use_cache=False)  # sorted by length inside
    assert torch.allclose(batched, one_by_one, atol=1e-5)


@pytest.mark.integration
def test_uncached_and_cached_classification_agree(real_encoder, toy_intents):
    clf = IntentClassifier(encoder=real_encoder)
    for name, examples in toy_intents.items():
        clf.add_intent(name, examples)
    real_encoder.clear_cache()
    uncached = clf.classify_batch(MESSAGES)
    cached = clf.classify_batch(MESSAGES)
    assert [p.intent for p in cached] == [p.intent for p in uncached]
    assert [p.similarity for p in cached] == pytest.approx([p.similarity for p in uncached])


@pytest.mark.integration
def test_quantized_encoder_agrees_with_float32_on_most_messages(real_encoder, toy_intents):
    quantized = SentenceEncoder(EncoderConfig(backend="quantized"))
    answers = []
    for encoder in (real_encoder, quantized):
        clf = IntentClassifier(encoder=encoder, oos_threshold=None)
        for name, examples in toy_intents.items():
            clf.add_intent(name, examples)
        answers.append(clf.predict(MESSAGES))
    agree = sum(a == b for a, b in zip(*answers, strict=True))
    assert agree >= len(MESSAGES) - 1
    similarity = (quantized.encode(MESSAGES) * real_encoder.forward(MESSAGES)).sum(dim=1)
    assert bool((similarity > 0.9).all())
