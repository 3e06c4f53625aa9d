"""Checks on user input, each raising a clear error that names the problem."""

from __future__ import annotations

import re
from collections.abc import Iterable

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
