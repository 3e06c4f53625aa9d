"""The few places where the demo reaches library features that other work is still changing.

Each function is the demo's whole contract with one feature, so a change of the library's API is
a change here only.
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
    """Messages that say the same thing: a candidate new intent, or more of a known one.

    Attributes:
        name: A suggested intent name from the group's distinctive words (or the known intent).
        texts: The messages, most representative first.
        known: The existing intent these messages belong to, if discovery matched one.
    """

    name: str
    texts: tuple[str, ...]
    known: str | None = None


def group_messages(clf: IntentClassifier, texts: list[str]) -> list[MessageGroup]:
    """Group similar messages with ``clf.discover``, largest group first.

    Messages that discovery matches to a known intent form one group per intent (``known``).
    """
    texts = list(dict.fromkeys(texts))
    if len(texts) < 2:
        return [MessageGroup(_suggest_name(texts), tuple(texts))] if texts else []
    found = clf.discover(texts)
    groups = [MessageGroup(group.name, tuple(group.texts)) for group in found.groups]
    by_intent: dict[str, list[str]] = {}
    for text, label in zip(found.texts, found.labels, strict=True):
        if isinstance(label, str):
            by_intent.setdefault(label, []).append(text)
    groups += [MessageGroup(name, tuple(group), known=name) for name, group in by_intent.items()]
    return sorted(groups, key=lambda group: -len(group.texts))


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
    if hasattr(clf, "out_of_scope_thresholds"):  # the library's own, once it has one
        return dict(clf.out_of_scope_thresholds())
    with clf._lock:  # until the out-of-scope module offers this: a read of its current state
        registry = clf._registry
        labels, names = list(registry.column_labels), list(registry.column_names)
        if not labels:
            return {}
        return dict(zip(names, clf.oos.thresholds(labels).tolist(), strict=True))
