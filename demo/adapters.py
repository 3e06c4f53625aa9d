"""The few places where the demo reaches library features that other work is still changing.

Each function is the demo's whole contract with one feature; when the library's own API lands,
the body becomes one call to it and nothing else in the demo changes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from intentmeta import IntentClassifier

#: Words too common to name a group by.
_STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "could",
        "do",
        "does",
        "for",
        "from",
        "have",
        "how",
        "i",
        "if",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "please",
        "so",
        "that",
        "the",
        "there",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)


@dataclass(frozen=True)
class MessageGroup:
    """Messages that say the same thing: a candidate new intent.

    Attributes:
        name: A suggested intent name from the group's distinctive words.
        texts: The messages, most representative first.
    """

    name: str
    texts: tuple[str, ...]


def group_messages(clf: IntentClassifier, texts: list[str]) -> list[MessageGroup]:
    """Group similar messages, largest group first.

    Uses average-linkage clustering of the classifier's own embeddings (cosine distance below 0.5
    joins two groups) until ``clf.discover(texts)`` is available.
    """
    texts = list(dict.fromkeys(texts))
    if len(texts) < 2:
        return [MessageGroup(_suggest_name(texts), tuple(texts))] if texts else []
    from sklearn.cluster import AgglomerativeClustering

    embeddings = clf.encoder.encode(texts).float().numpy()  # (n_texts, dim), unit rows
    labels = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=0.5
    ).fit_predict(embeddings)
    groups = []
    for label in sorted(set(labels), key=lambda lab: -int((labels == lab).sum())):
        members = [i for i, lab in enumerate(labels) if lab == label]
        centre = embeddings[members].mean(axis=0)  # (dim,)
        ranked = sorted(members, key=lambda i: -float(embeddings[i] @ centre))
        group = [texts[i] for i in ranked]
        groups.append(MessageGroup(_suggest_name(group), tuple(group)))
    return groups


def _suggest_name(texts: list[str]) -> str:
    words = Counter(
        word
        for text in texts
        for word in dict.fromkeys("".join(c if c.isalnum() else " " for c in text.lower()).split())
        if word not in _STOP_WORDS and len(word) > 2
    )
    return "_".join(word for word, _ in words.most_common(2)) or "new_intent"


def effective_thresholds(clf: IntentClassifier) -> dict[str, float]:
    """Each intent's out-of-scope cosine threshold as the classifier applies it now."""
    with clf._lock:  # until the out-of-scope module offers this: a read of its current state
        registry = clf._registry
        labels, names = list(registry.column_labels), list(registry.column_names)
        if not labels:
            return {}
        return dict(zip(names, clf.oos.thresholds(labels).tolist(), strict=True))
