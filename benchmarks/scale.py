"""The default classifier at 10, 1,000 and 10,000 intents: per message, per edit, in memory.

Every classifier here is the one users get: ``IntentClassifier(encoder=...).fit(texts, labels)``
with 10 examples per intent (the adaptation and nearest-example mix decided by ``fit`` itself).
Synthetic intents are clusters of unit vectors put in the encoder's cache, so ``fit`` runs its
real code path without encoding 100,000 texts; messages are real, new texts.
"""

from __future__ import annotations

import gc
import time

import torch
import torch.nn.functional as F
from bench_common import interleaved, rss_bytes, same_length_texts, summary

from intentmeta import IntentClassifier
from intentmeta.encoder import SentenceEncoder

#: Spread of an intent's examples around its centre: pairwise cosine about 0.6, as real
#: paraphrases under all-MiniLM-L6-v2.
SPREAD = 0.8


def synthetic_intents(
    n_intents: int, per_intent: int, dim: int, seed: int
) -> tuple[list[str], list[str], torch.Tensor]:
    """Texts, intent names and ``(n_intents * per_intent, dim)`` clustered unit vectors."""
    generator = torch.Generator().manual_seed(seed)
    centres = F.normalize(torch.randn(n_intents, dim, generator=generator), dim=-1)
    noise = torch.randn(n_intents * per_intent, dim, generator=generator) / dim**0.5
    vectors = F.normalize(centres.repeat_interleave(per_intent, 0) + SPREAD * noise, dim=-1)
    texts = [
        f"synthetic {seed} intent {k} example {j}"
        for k in range(n_intents)
        for j in range(per_intent)
    ]
    labels = [f"intent_{k}" for k in range(n_intents) for _ in range(per_intent)]
    return texts, labels, vectors


def prefill(encoder: SentenceEncoder, n_intents: int, per_intent: int, seed: int) -> tuple:
    """Put synthetic intents in the encoder's cache; returns ``(texts, labels)`` for ``fit``."""
    texts, labels, vectors = synthetic_intents(n_intents, per_intent, encoder.dim, seed)
    encoder._store(dict(zip(texts, vectors, strict=True)))  # benchmark-only shortcut
    return texts, labels


def default_classifier(
    encoder: SentenceEncoder, n_intents: int, per_intent: int = 10
) -> tuple[IntentClassifier, float]:
    """The default classifier fitted on ``n_intents`` synthetic intents; and ``fit``'s seconds."""
    texts, labels = prefill(encoder, n_intents, per_intent, seed=n_intents)
    clf = IntentClassifier(encoder=encoder)
    start = time.perf_counter()
    clf.fit(texts, labels)
    return clf, time.perf_counter() - start


def adapted(clf: IntentClassifier) -> int:
    """Adam steps ``fit`` ran to adapt the prototypes (0: skipped past its work budget)."""
    step = getattr(clf.head, "adaptation", None)
    return 0 if step is None else step.steps_run


def scaling(encoder: SentenceEncoder, repeats: int, sizes: tuple[int, ...]) -> dict:
    """Uncached classify (new texts) and own work (cached embedding) at each registry size."""
    classifiers, fitted = {}, {}
    for n in sizes:
        classifiers[n], seconds = default_classifier(encoder, n)
        fitted[n] = {"fit_seconds": seconds, "adapted": adapted(classifiers[n])}
    texts = same_length_texts(encoder.tokenizer, len(sizes) * (repeats + 3), seed=2)
    chunks = {n: texts[k * (repeats + 3) : (k + 1) * (repeats + 3)] for k, n in enumerate(sizes)}
    for n in sizes:
        for text in chunks[n][:3]:  # warm-up: first calls allocate
            classifiers[n].classify(text)
    calls = {n: (lambda i, n=n: classifiers[n].classify(chunks[n][3 + i])) for n in sizes}
    uncached = interleaved({f"classify_{n}": call for n, call in calls.items()}, repeats)
    # Same texts again: now in the encoder's cache, so only the classifier's own work is left.
    own = interleaved({f"own_{n}": call for n, call in calls.items()}, repeats)
    result: dict = {name: summary(values) for name, values in {**uncached, **own}.items()}
    base = sizes[0]
    for n in sizes[1:]:
        result[f"ratio_{n}_over_{base}"] = (
            result[f"classify_{n}"]["median"] / result[f"classify_{base}"]["median"]
        )
    result["fitted"] = fitted
    largest = sizes[-1]
    result["shortlist"] = shortlist_agreement(classifiers[largest], encoder.encode(texts))
    result["edits"] = edits(encoder, classifiers[largest], repeats)
    return result


def shortlist_agreement(clf: IntentClassifier, queries: torch.Tensor) -> dict:
    """How often the shortlist was exact, and agreed with scoring every class and example."""
    with torch.inference_mode():
        top = clf.head.top(queries, 1)
        full = clf.head(queries).argmax(dim=1)  # (n_query,), every example read
    same = top.columns[:, 0] == full
    return {
        "messages": len(queries),
        "exact": int(top.exact.sum()),
        "same_winner": int(same.sum()),
        "same_winner_when_not_exact": int(same[~top.exact].sum()),
    }


def edits(encoder: SentenceEncoder, clf: IntentClassifier, repeats: int) -> dict:
    """``add_intent`` / ``add_examples`` / ``remove_intent`` at this size, beyond encoding.

    The new examples are put in the encoder's cache first, so what is timed is the
    classifier's own work; each added intent is removed again (timed too).
    """
    texts, _ = prefill(encoder, repeats + 2, 12, seed=7)
    groups = [texts[12 * k : 12 * (k + 1)] for k in range(repeats + 2)]
    add, extend, remove = [], [], []
    for k, group in enumerate(groups):
        start = time.perf_counter()
        clf.add_intent(f"fresh_{k}", group[:10])
        added = time.perf_counter()
        clf.add_examples(f"fresh_{k}", group[10:])
        extended = time.perf_counter()
        clf.remove_intent(f"fresh_{k}")
        removed = time.perf_counter()
        if k >= 2:  # the first two warm up
            add.append(added - start)
            extend.append(extended - added)
            remove.append(removed - extended)
    return {
        "intents": len(clf),
        "add_intent": summary(add),
        "add_examples": summary(extend),
        "remove_intent": summary(remove),
    }


def memory(n_intents: int = 10_000, per_intent: int = 20) -> dict:
    """Process RSS growth of fitting the default classifier on ``n_intents`` x ``per_intent``.

    The encoder is a lookup table filled beforehand, so none of it is counted.
    """
    texts, labels, vectors = synthetic_intents(n_intents, per_intent, 384, seed=1)

    table = dict(zip(texts, vectors, strict=True))

    class TableEncoder:
        name, dim = "table", 384

        def encode(self, batch, *, progress: bool = False) -> torch.Tensor:
            return torch.stack([table[text] for text in batch])

    gc.collect()
    before = rss_bytes()
    clf = IntentClassifier(encoder=TableEncoder()).fit(texts, labels)
    gc.collect()
    grown = rss_bytes() - before
    head = sum(b.nbytes for b in clf.head.buffers())
    return {
        "intents": len(clf),
        "examples_per_intent": per_intent,
        "examples_mb": len(texts) * 384 * 4 / 2**20,
        "head_buffers_mb": head / 2**20,
        "rss_delta_mb": grown / 2**20,
    }
