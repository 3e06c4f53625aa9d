"""A log's batches with their embeddings, the encoder working one batch ahead in a thread.

While :func:`~intentmeta.log_classification.classify_file` classifies and writes batch ``i``,
a worker thread encodes batch ``i + 1``: the encoder (ONNX Runtime, torch, the tokenizer) runs
outside Python's GIL, so reading, the head, out-of-scope rejection and writing overlap with it
instead of adding to it. The embeddings are those ``classify_batch`` would compute: the same
texts, in the same batches, through the same encoder.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import NamedTuple

import torch

from intentmeta import log_files
from intentmeta.encoder import Encoder
from intentmeta.validation import check_text


class EncodedBatch(NamedTuple):
    """One batch of a log, ready to classify.

    Attributes:
        batch: The rows as read (a table or a list of JSON records).
        texts: The text column's value of every row.
        valid: Indices of the rows holding text (the others stay unclassified).
        embeddings: ``(len(valid), dim)`` their embeddings.
    """

    batch: log_files.Batch
    texts: list[object]
    valid: list[int]
    embeddings: torch.Tensor


def rows_with_text(texts: list[object]) -> list[int]:
    """Indices of the values that are non-blank strings (what ``classify_batch`` accepts)."""
    valid = []
    for i, text in enumerate(texts):
        try:
            check_text(text)
        except (TypeError, ValueError):
            continue
        valid.append(i)
    return valid


def encoded_batches(
    batches: Iterable[log_files.Batch], encoder: Encoder, text_column: str, ahead: int = 1
) -> Iterator[EncodedBatch]:
    """Each batch with its embeddings, the next ``ahead`` batches encoding meanwhile.

    Args:
        batches: The log's batches, read lazily (reading happens in the caller's thread).
        encoder: Encodes each batch's texts in a worker thread.
        text_column: The column holding the messages.
        ahead: Batches encoded ahead of the one handed out (memory: ``ahead + 1`` batches).

    Raises:
        Whatever reading or encoding raised, when the batch it concerns is reached.
    """
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="intentmeta-encode")
    pending: deque[tuple[log_files.Batch, list[object], list[int], Future]] = deque()
    try:
        for batch in batches:
            texts = log_files.batch_texts(batch, text_column)
            valid = rows_with_text(texts)
            if valid:
                future = pool.submit(encoder.encode, [texts[i] for i in valid])
            else:  # nothing to encode: no call, no empty batch for the encoder
                future = Future()
                future.set_result(torch.empty(0, encoder.dim))
            pending.append((batch, texts, valid, future))
            if len(pending) > ahead:
                batch, texts, valid, future = pending.popleft()
                yield EncodedBatch(batch, texts, valid, future.result())
        while pending:
            batch, texts, valid, future = pending.popleft()
            yield EncodedBatch(batch, texts, valid, future.result())
    finally:
        # Stopped early (an error, an interrupt): drop the batches not started, wait for the one
        # running, so no thread outlives the run.
        pool.shutdown(wait=True, cancel_futures=True)
