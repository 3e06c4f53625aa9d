"""Checks on user input, each raising a clear error that names the problem."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

#: Longest intent name accepted; names become keys in JSON and labels in the demo.
MAX_INTENT_NAME_LENGTH = 64

#: Letters (any script), digits, underscore, hyphen, dot and space; no path separators.
_INTENT_NAME = re.compile(r"^[^\W][\w\-. ]*$")

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


def check_texts(texts: object, what: str = "texts") -> list[str]:
    """Return ``texts`` as a list if it is a list or tuple of non-blank strings.

    Raises:
        TypeError: If ``texts`` is a single string or not a sequence, or holds a non-string.
        ValueError: If an item is blank.
    """
    if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
        raise TypeError(f"{what} must be a list of strings, got {type(texts).__name__}")
    return [check_text(text, f"{what}[{index}]") for index, text in enumerate(texts)]


def check_examples(examples: object, intent: str) -> list[str]:
    """Return the distinct examples of an intent, in order.

    Raises:
        TypeError: If ``examples`` is not a list of strings.
        ValueError: If it is empty or an example is blank.
    """
    checked = check_texts(examples, f"examples of {intent!r}")
    if not checked:
        raise ValueError(f"intent {intent!r} needs at least one example")
    return list(dict.fromkeys(checked))


def check_intent_name(name: object, reserved: Iterable[str] = ()) -> str:
    """Return ``name`` if it is a valid intent name.

    Raises:
        TypeError: If ``name`` is not a string.
        ValueError: If it is blank, too long, reserved, or has characters outside letters,
            digits, ``_``, ``-``, ``.`` and space (so it can never act as a path).
    """
    if not isinstance(name, str):
        raise TypeError(f"intent name must be a string, got {type(name).__name__}")
    if not name.strip():
        raise ValueError("intent name is empty or blank")
    if len(name) > MAX_INTENT_NAME_LENGTH:
        raise ValueError(
            f"intent name is {len(name)} characters long; the limit is {MAX_INTENT_NAME_LENGTH}"
        )
    if name != name.strip() or not _INTENT_NAME.match(name) or set(name) <= {"."}:
        raise ValueError(
            f"intent name {name!r} may only contain letters, digits, '_', '-', '.' and inner "
            "spaces, and must start with a letter or digit"
        )
    if name in reserved:
        raise ValueError(f"intent name {name!r} is reserved for out-of-scope predictions")
    return name


def check_settings(oos_threshold: object, top_k: object) -> None:
    """Check an :class:`~intentmeta.IntentClassifier`'s ``oos_threshold`` and ``top_k``.

    Raises:
        ValueError: If ``oos_threshold`` is not ``"auto"``, a number or ``None``, or ``top_k``
            is not a positive integer.
    """
    if not (
        oos_threshold is None
        or oos_threshold == "auto"
        or (isinstance(oos_threshold, (int, float)) and not isinstance(oos_threshold, bool))
    ):
        raise ValueError(f"oos_threshold must be 'auto', a float or None, not {oos_threshold!r}")
    if not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be a positive integer, not {top_k!r}")


def group_by_intent(
    texts: object, intents: Sequence[str], reserved: Iterable[str] = ()
) -> dict[str, list[str]]:
    """Group labelled examples by intent (first-seen order), as ``fit`` takes them.

    >>> group_by_intent(["hi", "refund", "hello"], ["greet", "refund", "greet"])
    {'greet': ['hi', 'hello'], 'refund': ['refund']}

    Raises:
        TypeError: If a text or name is not a string.
        ValueError: If the lengths differ, nothing is given, or a text or name is invalid.
    """
    texts = check_texts(texts)
    if isinstance(intents, str) or len(intents) != len(texts):
        raise ValueError("texts and intents must be lists of the same length")
    if not texts:
        raise ValueError("fit needs at least one example")
    reserved = tuple(reserved)
    grouped: dict[str, list[str]] = {}
    for text, name in zip(texts, intents, strict=True):
        grouped.setdefault(check_intent_name(name, reserved=reserved), []).append(text)
    return {name: check_examples(group, name) for name, group in grouped.items()}
