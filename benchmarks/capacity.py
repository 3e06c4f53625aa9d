"""Fitting large registries: adaptation's cost, and 10,000 real examples with an empty cache."""

from __future__ import annotations

import dataclasses
import time

import torch
import torch.nn.functional as F

from intentmeta import IntentClassifier
from intentmeta.config import default_head_config
from intentmeta.encoder import SentenceEncoder


class TableEncoder:
    """Looks embeddings up in a table: the classifier's memory, without the model's."""

    name = "table"

    def __init__(self, texts: list[str], dim: int = 384) -> None:
        self.dim = dim
        vectors = F.normalize(torch.randn(len(texts), dim), dim=-1)
        self.table = dict(zip(texts, vectors, strict=True))

    def encode(self, texts, *, progress: bool = False) -> torch.Tensor:
        return torch.stack([self.table[text] for text in texts])


def adaptation_fit(n_intents: int = 1000, per_intent: int = 10) -> dict:
    """``fit`` of a large registry, embeddings precomputed: in blocks (default), then as one.

    With the default ``HeadConfig.adapt_max_work`` a registry this size is adapted in blocks of
    neighbouring intents, every step each; ``adapt_max_work=None`` adapts it as one block. Both
    are timed, with the steps and blocks each ran.
    """
    texts = [f"message {j} of intent {k}" for k in range(n_intents) for j in range(per_intent)]
    labels = [f"intent_{k}" for k in range(n_intents) for _ in range(per_intent)]
    encoder = TableEncoder(texts)
    capped = default_head_config("prototypical")
    result = {"intents": n_intents, "examples_per_intent": per_intent}
    for name, config in (
        ("capped", capped),
        ("uncapped", dataclasses.replace(capped, adapt_max_work=None)),
    ):
        clf = IntentClassifier(encoder=encoder, head_config=config)
        start = time.perf_counter()
        clf.fit(texts, labels)
        result[name] = {
            "seconds": time.perf_counter() - start,
            "steps": clf.adaptation.steps,
            "blocks": clf.adaptation.blocks,
            "max_work": config.adapt_max_work,
        }
    return result


def fit_time(encoder: SentenceEncoder, texts: list[str], labels: list[str]) -> dict:
    """``IntentClassifier.fit`` on real examples with an empty cache, progress bar on."""
    encoder.clear_cache()
    clf = IntentClassifier(encoder=encoder)
    start = time.perf_counter()
    clf.fit(texts, labels, progress=True)
    seconds = time.perf_counter() - start
    return {
        "examples": len(texts),
        "intents": len(clf),
        "seconds": seconds,
        "examples_per_s": len(texts) / seconds,
    }
