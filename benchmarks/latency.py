"""Per-message latency: classify versus the bare encoder, add_intent, batches."""

from __future__ import annotations

import time

from bench_common import interleaved, same_length_texts, summary
from scale import default_classifier

from intentmeta.encoder import SentenceEncoder


def registry(encoder: SentenceEncoder, n_intents: int) -> tuple:
    """The default classifier fitted on ``n_intents`` synthetic intents of 10 examples each.

    Returns:
        The classifier and the seconds ``fit`` took.
    """
    return default_classifier(encoder, n_intents)


def forward_vs_classify(encoder: SentenceEncoder, repeats: int) -> dict:
    """One short message: bare forward, uncached classify of the same text, cached classify."""
    clf, _ = registry(encoder, 10)
    texts = same_length_texts(encoder.tokenizer, repeats + 5, seed=1)
    for text in texts[:5]:  # warm-up: first calls allocate
        encoder.forward([text])
        clf.classify(text)
    texts = texts[5:]
    # forward() never touches the cache, so classify(text) after it still encodes from scratch.
    times = interleaved(
        {
            "forward": lambda i: encoder.forward([texts[i]]),
            "classify": lambda i: clf.classify(texts[i]),
        },
        repeats,
    )
    cached = interleaved({"classify_cached": lambda i: clf.classify(texts[i])}, repeats)
    result = {name: summary(values) for name, values in {**times, **cached}.items()}
    result["ratio_classify_over_forward"] = (
        result["classify"]["median"] / result["forward"]["median"]
    )
    per_call = [c / f for c, f in zip(times["classify"], times["forward"], strict=True)]
    result["ratio_per_call"] = summary(per_call, scale=1.0)
    return result


def add_intent(encoder: SentenceEncoder, repeats: int, n_intents: int = 1000) -> dict:
    """``add_intent(name, 10 new examples)`` into a classifier holding ``n_intents`` intents.

    Each example is new (uncached), so the time includes encoding them; the intent is removed
    again, untimed, so every repetition starts from ``n_intents``.
    """
    clf, _ = registry(encoder, n_intents)
    texts = same_length_texts(encoder.tokenizer, 10 * (repeats + 2), n_tokens=10, seed=3)
    groups = [texts[10 * k : 10 * (k + 1)] for k in range(repeats + 2)]
    times = []
    for k, group in enumerate(groups):
        start = time.perf_counter()
        clf.add_intent(f"fresh_{k}", group)
        elapsed = time.perf_counter() - start
        clf.remove_intent(f"fresh_{k}")
        if k >= 2:  # the first two warm up
            times.append(elapsed)
    return {"add_intent": summary(times), "intents": n_intents, "examples": 10}


def throughput(
    encoder: SentenceEncoder, pool: list[str], sizes: tuple[int, ...], repeats: int
) -> dict:
    """``classify_batch`` versus the bare encoder (``encode`` without cache), utterances/s.

    Both sort by length and run batches of ``EncoderConfig.batch_size``. Each repetition uses
    fresh real messages, the same ones for both, so neither is answered from the cache.
    """
    clf, _ = registry(encoder, 77)
    result = {}
    offset = 0
    for size in sizes:
        bare, classify = [], []
        # Fewer rounds of big batches: each already averages over many messages.
        for _ in range(max(2, min(repeats, 256 // size))):
            batch = pool[offset : offset + size]
            offset += size
            start = time.perf_counter()
            encoder.encode(batch, use_cache=False)
            bare.append(time.perf_counter() - start)
            start = time.perf_counter()
            clf.classify_batch(batch)
            classify.append(time.perf_counter() - start)
        bare_rate = [size / t for t in bare]
        classify_rate = [size / t for t in classify]
        result[str(size)] = {
            "encoder_per_s": summary(bare_rate, scale=1.0),
            "classify_batch_per_s": summary(classify_rate, scale=1.0),
            "ratio": summary(
                [c / b for c, b in zip(classify_rate, bare_rate, strict=True)], scale=1.0
            ),
        }
    return result
