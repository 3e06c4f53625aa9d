"""The encoder working one batch ahead: same embeddings, errors at the right batch, no lost rows."""

from __future__ import annotations

import threading

import pytest
import torch
from test_log_classification import read_output, rows, write_input

from intentmeta.log_classification import classify_file, state_path
from intentmeta.log_pipeline import encoded_batches, rows_with_text


def test_classify_embeddings_answers_as_classify_batch(toy_classifier, fake_encoder):
    texts = ["where is my parcel", "money back now", "hello good morning"]
    direct = toy_classifier.classify_batch(texts)
    embedded = toy_classifier.classify_embeddings(fake_encoder.encode(texts))
    assert embedded == direct


def test_rows_with_text_skips_blank_missing_and_non_text_values():
    assert rows_with_text(["a", "", "  ", None, 3, "b\u200b", "\u200b"]) == [0, 5]


def test_batches_come_in_order_with_the_embeddings_of_their_text_rows(fake_encoder):
    batches = [[{"text": "hello there"}, {"text": ""}], [{"text": "refund my money"}], []]
    out = list(encoded_batches(batches, fake_encoder, "text"))
    assert [item.batch for item in out] == batches
    assert [item.valid for item in out] == [[0], [0], []]
    assert torch.equal(out[0].embeddings, fake_encoder.encode(["hello there"]))
    assert out[2].embeddings.shape == (0, fake_encoder.dim)


class FailingEncoder:
    """Encodes ``good`` batches, then raises; records the threads it ran on."""

    def __init__(self, inner, good: int) -> None:
        self.inner, self.left = inner, good
        self.name, self.dim = inner.name, inner.dim
        self.threads: set[str] = set()

    def encode(self, texts, **kwargs):
        self.threads.add(threading.current_thread().name)
        if self.left == 0:
            raise OSError("encoder lost")
        self.left -= 1
        return self.inner.encode(texts, **kwargs)


def test_an_encoding_error_reaches_the_caller_at_its_batch_and_leaves_no_thread(fake_encoder):
    encoder = FailingEncoder(fake_encoder, good=2)
    batches = [[{"text": f"hello {i}"}] for i in range(5)]
    seen = []
    with pytest.raises(OSError, match="encoder lost"):
        for item in encoded_batches(batches, encoder, "text"):
            seen.append(item.batch)
    assert seen == batches[:2]
    assert threading.current_thread().name not in encoder.threads  # encoded off the caller
    assert not any(t.name.startswith("intentmeta-encode") for t in threading.enumerate())


def test_a_run_whose_encoder_fails_keeps_what_it_wrote_and_resumes(tmp_path, toy_classifier):
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    records = rows(40)
    write_input(source, records)
    working = toy_classifier.encoder
    toy_classifier.encoder = FailingEncoder(working, good=3)
    with pytest.raises(OSError):
        classify_file(source, toy_classifier, out, batch_size=6, progress=False)
    assert state_path(out).exists()
    toy_classifier.encoder = working
    summary = classify_file(source, toy_classifier, out, batch_size=6, progress=False)
    assert summary.resumed_from == 18 and summary.rows == 40
    assert [r["ticket"] for r in read_output(out)] == [r["ticket"] for r in records]
