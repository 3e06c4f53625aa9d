"""The quantized encoder backend: speed per message and BANKING77 10-shot accuracy."""

from __future__ import annotations

import random
import re
from pathlib import Path

from bench_common import interleaved, same_length_texts, summary

from intentmeta import IntentClassifier
from intentmeta.encoder import SentenceEncoder
from intentmeta.heads import HeadConfig
from intentmeta.research.data import load_dataset


def read_split(path: Path) -> tuple[list[str], list[str]]:
    """Texts and categories of one BANKING77 csv file, categories made valid intent names."""
    data = load_dataset(path, text_column="text", label_column="category")
    # One category ends in "?", which intent names may not contain.
    return data.texts, [re.sub(r"[^\w\-. ]", "", label) for label in data.labels]


def speed(
    fp32: SentenceEncoder,
    other: SentenceEncoder,
    repeats: int,
    name: str = "quantized",
    seed: int = 4,
) -> dict:
    """One short message through each backend's forward, interleaved, same text for both.

    Returns:
        Timings under ``"fp32"`` and ``name``, and ``speedup`` (fp32 median / other median).
    """
    texts = same_length_texts(fp32.tokenizer, repeats + 5, seed=seed)
    for text in texts[:5]:
        fp32.forward([text])
        other.forward([text])
    texts = texts[5:]
    times = interleaved(
        {"fp32": lambda i: fp32.forward([texts[i]]), name: lambda i: other.forward([texts[i]])},
        repeats,
    )
    result = {key: summary(values) for key, values in times.items()}
    result["speedup"] = result["fp32"]["median"] / result[name]["median"]
    return result


def ten_shot_accuracy(
    encoder: SentenceEncoder,
    train: tuple[list[str], list[str]],
    test: tuple[list[str], list[str]],
    seeds: tuple[int, ...],
    shots: int = 10,
) -> list[float]:
    """Full-class K-shot accuracy (%): ``shots`` examples per intent sampled per seed.

    The library's own path: the prototypical head, plain cosine prototypes, no out-of-scope
    rejection, ``fit`` then ``predict`` on the whole test split.
    """
    by_intent: dict[str, list[str]] = {}
    for text, intent in zip(*train, strict=True):
        by_intent.setdefault(intent, []).append(text)
    accuracies = []
    for seed in seeds:
        rng = random.Random(seed)
        texts, labels = [], []
        for intent in sorted(by_intent):
            for text in rng.sample(by_intent[intent], shots):
                texts.append(text)
                labels.append(intent)
        plain = HeadConfig(adapt_steps=0)  # the cosine prototypes the issue compares on
        clf = IntentClassifier(encoder=encoder, oos_threshold=None, head_config=plain)
        clf.fit(texts, labels)
        predicted = clf.predict(test[0])
        correct = sum(p == y for p, y in zip(predicted, test[1], strict=True))
        accuracies.append(100.0 * correct / len(test[1]))
    return accuracies
