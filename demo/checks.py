"""What the demo checks before an edit: input limits, confusable examples, near-duplicate intents.

Checks run before anything is saved; their warnings are shown as a preview with "save anyway".
"""

from __future__ import annotations

import difflib
import unicodedata
from dataclasses import dataclass

import torch

from intentmeta import IntentClassifier


@dataclass
class DemoLimits:
    """What one request to the demo may contain; larger inputs get a message, not a crash.

    Attributes:
        max_message_chars: Longest chat message or example.
        max_examples: Most examples in one request (add intent, add examples).
        max_examples_per_intent: Most examples one intent may hold.
        max_intents: Most intents the registry may hold.
        warn_confidence: An example that the current classifier already gives another intent
            with at least this confidence gets a warning.
        duplicate_similarity: Two intents whose example means are at least this cosine-similar
            are near-duplicates.
        history_versions: How many versions of the registry are kept for undo.
    """

    max_message_chars: int = 2_000  # a long support e-mail; the encoder reads 256 tokens anyway
    max_examples: int = 50  # a few-shot intent needs 3-10; 50 is plenty for one paste
    max_examples_per_intent: int = 500  # keeps one intent from swallowing the registry
    max_intents: int = 200  # far above the built-in 20, small enough for one page
    warn_confidence: float = 0.7  # clearly another intent's territory, not a near tie
    duplicate_similarity: float = 0.9  # paraphrase-level agreement of two intents' means
    history_versions: int = 20  # a long afternoon of edits


def split_examples(text: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """Examples from a textarea (one per line) or a list, stripped, blank lines dropped.

    >>> split_examples("where is my parcel\\n\\n  has it shipped? ")
    ['where is my parcel', 'has it shipped?']
    """
    if text is None:
        return []
    if isinstance(text, str):
        text = text.splitlines()
    if not isinstance(text, (list, tuple)):
        raise TypeError(f"examples must be text, one per line, or a list of strings, not {text!r}")
    if not all(isinstance(line, str) for line in text):
        raise TypeError("every example must be a string")
    return [line.strip() for line in text if line.strip()]


def percent(value: float) -> str:
    """``0.934`` -> ``"93%"``."""
    return f"{100 * value:.0f}%"


def check_message(text: object, limits: DemoLimits) -> str:
    """Return ``text`` stripped if it is a message the demo accepts.

    Raises:
        TypeError: If it is not a string.
        ValueError: If it is blank or too long.
    """
    if not isinstance(text, str):
        raise TypeError(f"the message must be text, not {type(text).__name__}")
    if not text.strip():
        raise ValueError("the message is empty")
    if len(text) > limits.max_message_chars:
        raise ValueError(
            f"the message is {len(text):,} characters long; the demo accepts up to "
            f"{limits.max_message_chars:,}"
        )
    return text.strip()


def check_examples(examples: object, limits: DemoLimits) -> list[str]:
    """The examples of one request, split and checked against the limits."""
    texts = split_examples(examples)
    if not texts:
        raise ValueError("give at least one example, one per line")
    if len(texts) > limits.max_examples:
        raise ValueError(
            f"{len(texts)} examples given; the demo accepts up to {limits.max_examples} at a time"
        )
    for index, text in enumerate(texts, start=1):
        if len(text) > limits.max_message_chars:
            raise ValueError(
                f"example {index} is {len(text):,} characters long; the limit is "
                f"{limits.max_message_chars:,}"
            )
    return texts


def confusable_examples(
    clf: IntentClassifier, name: str, texts: list[str], limits: DemoLimits
) -> list[str]:
    """Warnings about examples the current classifier confidently gives to another intent."""
    if not len(clf):
        return []
    warnings = []
    for text, prediction in zip(texts, clf.classify_batch(texts), strict=True):
        other = prediction.intent
        if other not in (None, name) and prediction.confidence >= limits.warn_confidence:
            warnings.append(
                f"{text!r} already looks like {other!r} ({percent(prediction.confidence)}); "
                "the two intents may be confused"
            )
    return warnings


def _name_key(name: str) -> str:
    folded = unicodedata.normalize("NFKC", name).casefold()
    return "".join(char for char in folded if char.isalnum())


def similar_names(clf: IntentClassifier, name: str) -> list[str]:
    """Existing intents whose name is the same or nearly (``gift card`` / ``gift_card_balance``)."""
    key = _name_key(name)
    found = []
    for other in clf.intents:
        other_key = _name_key(other)
        if other == name or not key or not other_key:
            continue
        contained = min(len(key), len(other_key)) >= 4 and (key in other_key or other_key in key)
        if contained or difflib.SequenceMatcher(None, key, other_key).ratio() >= 0.85:
            found.append(other)
    return found


def near_duplicate_intents(
    clf: IntentClassifier, name: str, texts: list[str], limits: DemoLimits
) -> list[str]:
    """Warnings that a new intent looks like an existing one, by name or by meaning."""
    warnings = [
        f"the name {name!r} is very close to the existing intent {other!r}"
        for other in similar_names(clf, name)
    ]
    names, embeddings, owners = clf.support()  # (n_support, dim), (n_support,)
    if not names or not texts:
        return warnings
    mean = torch.nn.functional.normalize(clf.encoder.encode(texts).float().mean(0), dim=0)
    sums = torch.zeros(len(names), embeddings.shape[1]).index_add_(0, owners, embeddings.float())
    similarity = torch.nn.functional.normalize(sums, dim=1) @ mean  # (n_intents,)
    for index in torch.nonzero(similarity >= limits.duplicate_similarity).flatten().tolist():
        if names[index] != name:
            warnings.append(
                f"its examples mean nearly the same as {names[index]!r}'s "
                f"(similarity {float(similarity[index]):.2f}); add them there instead?"
            )
    return warnings
