"""How often the default head's shortlist is exact on CLINC150, and what it changes when capped.

CLINC150 has 150 intents and the shortlist scores at most ``HeadConfig.shortlist`` (128) of
them per message, so the cap can bind there; 10,000-intent figures are in ``scale.py``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch
from bench_common import intent_names

from intentmeta import IntentClassifier

try:
    from intentmeta.research.embedding_cache import cached_encode
except ImportError:  # before the research package existed
    from intentmeta.embedding_cache import cached_encode


class TableEncoder:
    """Embeddings looked up in a dict filled beforehand."""

    def __init__(self, name: str, table: dict[str, torch.Tensor]) -> None:
        self.name, self.dim, self.table = name, 384, table

    def encode(self, texts, *, progress: bool = False) -> torch.Tensor:
        return torch.stack([self.table[text] for text in texts])


def clinc150_rates(encoder, data: Path, seeds: int = 3, shots: int = 10) -> dict:
    """Fit the default classifier on ``shots`` examples per intent and compare, on every test
    message (in scope and out of scope), ``head.top`` with scoring every class and example."""
    raw = json.loads((data / "clinc150" / "data_full.json").read_text())
    train: dict[str, list[str]] = {}
    for text, intent in raw["train"]:
        train.setdefault(intent, []).append(text)
    queries = [text for text, _ in raw["test"] + raw["oos_test"]]
    everything = [*queries, *(t for group in train.values() for t in group), *intent_names(train)]
    everything = list(dict.fromkeys(everything))
    table = dict(zip(everything, cached_encode(encoder, everything, None, False), strict=True))
    lookup = TableEncoder(encoder.name, table)
    counts = {"messages": 0, "exact": 0, "same_winner": 0, "same_top5": 0}
    worst_probability_error = 0.0
    for seed in range(seeds):
        rng = random.Random(seed)
        texts, labels = [], []
        for intent in sorted(train):
            chosen = rng.sample(train[intent], shots)
            texts, labels = texts + chosen, labels + [intent] * shots
        clf = IntentClassifier(encoder=lookup).fit(texts, labels)
        embedded = lookup.encode(queries)  # (n, dim)
        with torch.inference_mode():
            logits = clf.head(embedded)  # (n, n_intents), every example read
            top = clf.head.top(embedded, 5)
        full = logits.topk(5, dim=1)
        probability = (top.logits[:, 0] - top.log_normaliser).exp()
        exact_probability = logits.softmax(dim=1).gather(1, full.indices[:, :1])[:, 0]
        counts["messages"] += len(queries)
        counts["exact"] += int(top.exact.sum())
        counts["same_winner"] += int((top.columns[:, 0] == full.indices[:, 0]).sum())
        counts["same_top5"] += int((top.columns == full.indices).all(dim=1).sum())
        error = float((probability - exact_probability).abs().max())
        worst_probability_error = max(worst_probability_error, error)
    return {**counts, "seeds": seeds, "worst_top1_probability_error": worst_probability_error}
