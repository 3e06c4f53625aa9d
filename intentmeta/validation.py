"""Checks on user input, each raising a clear error that names the problem."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence

#: Half of a UTF-16 surrogate pair on its own: Python allows it in a str, UTF-8 does not.
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def check_text(text: object, what: str = "text") -> str:
    """Return ``text`` if it is a non-blank string.

    Raises:
        TypeError: If ``text`` is not a string.
        ValueError: If it has no visible character (empty, whitespace, control or zero-width
            characters only) or is not valid Unicode (a lone surrogate).
    """
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a string, got {type(text).__name__}")
    if not any(char.isprintable() and not char.isspace() for char in text):
        # Whitespace, control and zero-width characters alone look blank to a person.
        raise ValueError(f"{what} is empty or blank (it has no visible character)")
    if _LONE_SURROGATE.search(text):
        # Not valid Unicode: it cannot be written as UTF-8 JSON nor tokenised.
        raise ValueError(f"{what} holds a lone surrogate, so it is not valid Unicode text")
    return text


def check_texts(
    texts: object, what: str = "texts", item: Callable[[int], str] | None = None
) -> list[str]:
    """Return ``texts`` as a list if it is a list or tuple of non-blank strings.

    Args:
        texts: What to check.
        what: The whole's name in messages.
        item: How a bad item is named, from its number counted from 1 (default:
            ``what[index]``).

    Raises:
        TypeError: If ``texts`` is a single string or not a sequence, or holds a non-string.
        ValueError: If an item is blank.
    """
    if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
        raise TypeError(f"{what} must be a list of strings, got {type(texts).__name__}")
    return [
        check_text(text, item(i + 1) if item else f"{what}[{i}]") for i, text in enumerate(texts)
    ]


def check_examples(examples: object, intent: str) -> list[str]:
    """Return the distinct examples of an intent, in order.

    Raises:
        TypeError: If ``examples`` is not a list of strings.
        ValueError: If it is empty or an example is blank.
    """
    checked = check_texts(
        examples, f"examples of {intent!r}", item=lambda number: f"example {number} of {intent!r}"
    )
    if not checked:
        raise ValueError(f"intent {intent!r} needs at least one example")
    return list(dict.fromkeys(checked))


#: Longest intent name accepted, in characters (code points) after normalisation.
MAX_INTENT_NAME_LENGTH = 100

#: Joiners that shape scripts (Persian, Indic) and emoji sequences: invisible but meaningful.
_JOINERS = frozenset("\u200c\u200d")


def normalise_intent_name(name: str) -> str:
    """The form an intent name is stored and looked up in: NFC-normalised, trimmed.

    Example:
        >>> normalise_intent_name("  cafe\\u0301 ") == "caf\\u00e9"
        True
    """
    return unicodedata.normalize("NFC", name).strip()


def _allowed_in_name(char: str) -> bool:
    # Printable characters, spaces of any script, and the joiners; not control or format
    # characters (a right-to-left override makes a name read as another), nor line breaks.
    return char.isprintable() or unicodedata.category(char) == "Zs" or char in _JOINERS


def _folded(name: str) -> str:
    """Compatibility-folded, case-folded form: ``ＯＯＳ``, ``OOS`` and ``oos`` fold alike."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def _looks_like(char: str, letter: str) -> bool:
    """Whether ``char`` reads as the folded ``letter``: itself, or a confusable of it.

    Confusables are Unicode's (UTS #39 ``confusables.txt``, via ``confusable_homoglyphs``):
    Cyrillic ``о`` and ``ѕ``, Greek ``ο``, the digit ``0`` (like ``O``) and the like.
    """
    from confusable_homoglyphs.confusables import confusables_data  # ~1 MB table, loaded once

    glyphs = (entry["c"].strip("\u200e") for entry in confusables_data.get(char, ()))
    return _folded(char) == letter or any(_folded(glyph) == letter for glyph in glyphs)


def _reads_as(name: str, word: str) -> bool:
    """Whether ``name`` reads as ``word`` ignoring case, width and look-alike letters.

    Example:
        >>> _reads_as("\u043e\u043e\u0455", "oos"), _reads_as("OOS", "oos")  # Cyrillic, upper case
        (True, True)
        >>> _reads_as("oops", "oos")
        False
    """
    name, word = _folded(name), _folded(word)
    return len(name) == len(word) and all(map(_looks_like, name, word))


def check_intent_name(name: object, reserved: Iterable[str] = ()) -> str:
    """Return ``name`` normalised (NFC, trimmed) if it is a valid intent name.

    Names are what a person writes: any printable Unicode text, with spaces, punctuation
    (``?``, ``/``, ``:``) and any script. They are JSON values, never file names.

    Raises:
        TypeError: If ``name`` is not a string.
        ValueError: If it is blank, longer than :data:`MAX_INTENT_NAME_LENGTH` characters,
            holds a control or format character, or reads as a reserved name (in any case or
            width, or spelt with look-alike letters such as Cyrillic ``о``).
    """
    if not isinstance(name, str):
        raise TypeError(f"intent name must be a string, got {type(name).__name__}")
    if _LONE_SURROGATE.search(name):
        raise ValueError("intent name holds a lone surrogate, so it is not valid Unicode text")
    name = normalise_intent_name(name)
    if not any(char.isprintable() and not char.isspace() for char in name):
        raise ValueError("intent name is empty or blank (it has no visible character)")
    bad = next((char for char in name if not _allowed_in_name(char)), None)
    if bad is not None:
        raise ValueError(
            f"intent name {name!r} holds the control or format character U+{ord(bad):04X}; "
            "names are printable text"
        )
    if len(name) > MAX_INTENT_NAME_LENGTH:
        raise ValueError(
            f"intent name is {len(name)} characters long; the limit is {MAX_INTENT_NAME_LENGTH}"
        )
    if any(_reads_as(name, word) for word in reserved):
        raise ValueError(f"intent name {name!r} is reserved for out-of-scope predictions")
    return name


def check_settings(oos_threshold: object, top_k: object, name_as_example: object = False) -> None:
    """Check an :class:`~intentmeta.IntentClassifier`'s ``oos_threshold``, ``top_k`` and
    ``name_as_example``.

    Raises:
        TypeError: If ``name_as_example`` is not a bool.
        ValueError: If ``oos_threshold`` is not ``"auto"``, a finite number or ``None``, or
            ``top_k`` is not a positive integer.
    """
    if not (
        oos_threshold is None
        or oos_threshold == "auto"
        or (
            isinstance(oos_threshold, (int, float))
            and not isinstance(oos_threshold, bool)
            and math.isfinite(oos_threshold)
        )
    ):
        raise ValueError(
            f"oos_threshold must be 'auto', a finite number or None, not {oos_threshold!r}"
        )
    if not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer, not {top_k!r}")
    if not isinstance(name_as_example, bool):
        raise TypeError(f"name_as_example must be True or False, not {name_as_example!r}")


def group_by_intent(
    texts: object, intents: Sequence[str], reserved: Iterable[str] = ()
) -> dict[str, list[str]]:
    """Group labelled examples by intent (first-seen order), as ``fit`` takes them.

    >>> group_by_intent(["hi", "refund", "hello"], ["greet", "refund", "greet"])
    {'greet': ['hi', 'hello'], 'refund': ['refund']}

    Raises:
        TypeError: If a text or name is not a string, or ``intents`` is not a list or tuple.
        ValueError: If the lengths differ, nothing is given, or a text or name is invalid.
    """
    texts = check_texts(texts)
    if not isinstance(intents, (list, tuple)):
        # A set or a dict view has no order: pairing it with texts would be arbitrary.
        raise TypeError(
            f"intents must be a list of intent names, one per text, not {type(intents).__name__}"
        )
    if len(intents) != len(texts):
        raise ValueError("texts and intents must be lists of the same length")
    if not texts:
        raise ValueError("fit needs at least one example")
    reserved = tuple(reserved)
    grouped: dict[str, list[str]] = {}
    for text, name in zip(texts, intents, strict=True):
        grouped.setdefault(check_intent_name(name, reserved=reserved), []).append(text)
    return {name: check_examples(group, name) for name, group in grouped.items()}


def check_count(k: object, what: str = "k") -> int:
    """Return ``k`` if it is a positive integer (not a bool).

    Raises:
        TypeError: If it is not an integer.
        ValueError: If it is below 1.
    """
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"{what} must be a positive integer, not {k!r}")
    if k < 1:
        raise ValueError(f"{what} must be a positive integer, not {k!r}")
    return k


def humanise_intent_name(name: str) -> str:
    """An intent's name as a message: separators become spaces, lower case.

    >>> humanise_intent_name("track_order")
    'track order'
    >>> humanise_intent_name("Card-Payment.not_recognised")
    'card payment not recognised'
    """
    return " ".join(re.sub(r"[_\-.]+", " ", name).split()).lower()


#: Words that name no intent by themselves: placeholders such as "intent_17" or "new_class_2".
PLACEHOLDER_WORDS = frozenset(
    [
        "intent",
        "intents",
        "class",
        "label",
        "category",
        "topic",
        "type",
        "other",
        "misc",
        "new",
        "test",
        "unknown",
        "default",
        "custom",
        "untitled",
        "none",
    ]
)


def descriptive_intent_name(name: str) -> str | None:
    """The humanised name when it describes its intent, else ``None``.

    A name describes its intent when, besides numbers and placeholder words
    (:data:`PLACEHOLDER_WORDS`), it holds a word of two letters or more.

    >>> descriptive_intent_name("track_order")
    'track order'
    >>> descriptive_intent_name("intent_17") is None
    True
    """
    text = humanise_intent_name(name)
    words = re.findall(r"[^\W\d_]{2,}", text)
    return text if any(word not in PLACEHOLDER_WORDS for word in words) else None
