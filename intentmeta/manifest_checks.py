"""Checks on every field of a registry manifest, so a hand-edited or hostile one is refused with
one clear message instead of failing somewhere deep (an ``AttributeError`` in loading, a
``RuntimeError`` at the first classification).

Settings sections (``config``, ``config.head_config``, ``oos.config``) are read into their
dataclasses field by field: unknown keys, missing keys, wrong types and non-finite numbers are
refused here; ranges are checked by each dataclass itself (``__post_init__``).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, TypeVar

from intentmeta.heads import HEADS

T = TypeVar("T")


class ManifestFieldError(ValueError):
    """A manifest field has the wrong type, an unknown key or a value out of range."""


def _type_name(hint: object) -> str:
    if hint is type(None):
        return "null"
    if isinstance(hint, type):
        return {"str": "a string", "int": "an integer", "float": "a number", "bool": "true/false"}[
            hint.__name__
        ]
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(arg) for arg in typing.get_args(hint))
    if origin is tuple:
        args = typing.get_args(hint)
        return f"a list of {len(args)} numbers"
    return str(hint)


def _convert(value: object, hint: object, where: str) -> object:
    """``value`` as the annotated type ``hint``, or :class:`ManifestFieldError`."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(hint):
            try:
                return _convert(value, option, where)
            except ManifestFieldError:
                continue
    elif hint is type(None):
        if value is None:
            return None
    elif hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ManifestFieldError(f"{where} must be a finite number, not {value!r}")
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            return value
    elif origin is tuple:
        args = typing.get_args(hint)
        if isinstance(value, (list, tuple)) and len(value) == len(args):
            return tuple(
                _convert(item, arg, f"{where}[{i}]")
                for i, (item, arg) in enumerate(zip(value, args, strict=True))
            )
    raise ManifestFieldError(f"{where} must be {_type_name(hint)}, not {value!r}")


def dataclass_from_json(cls: type[T], value: object, where: str, **fixed: Any) -> T:
    """Build the dataclass ``cls`` from a JSON object, refusing anything it would not hold.

    Args:
        cls: A dataclass whose fields are annotated with ``str``, ``int``, ``float``, ``bool``,
            ``None``, unions of those, or fixed-length tuples of them.
        value: The parsed JSON.
        where: The field's path in the manifest, for messages (``"oos.config"``).
        **fixed: Fields set here rather than read (and checked) from ``value``.

    Raises:
        ManifestFieldError: For a non-object, a missing or unknown key, a wrong type, a
            non-finite number, or a value the dataclass refuses.

    Example:
        >>> @dataclasses.dataclass
        ... class Point:
        ...     x: float
        >>> dataclass_from_json(Point, {"x": 1}, "point")
        Point(x=1.0)
    """
    if not isinstance(value, dict):
        raise ManifestFieldError(f"{where} must be an object, not {value!r}")
    hints = typing.get_type_hints(cls)
    names = [field.name for field in dataclasses.fields(cls) if field.name not in fixed]
    unknown = sorted(set(value) - set(names) - set(fixed))
    if unknown:
        raise ManifestFieldError(f"{where} has unknown key(s) {unknown}")
    missing = [name for name in names if name not in value]
    if missing:
        raise ManifestFieldError(f"{where} lacks key(s) {missing}")
    converted = {name: _convert(value[name], hints[name], f"{where}.{name}") for name in names}
    try:
        return cls(**converted, **fixed)
    except (TypeError, ValueError) as error:
        raise ManifestFieldError(f"{where}: {error}") from None


def finite_number(value: object, where: str) -> float:
    """``value`` if it is a finite JSON number.

    Raises:
        ManifestFieldError: Otherwise.
    """
    return _convert(value, float, where)  # type: ignore[return-value]


def json_object(value: object, where: str, keys: set[str]) -> dict[str, Any]:
    """``value`` if it is a JSON object with exactly ``keys``.

    Raises:
        ManifestFieldError: If it is not an object, or lacks or adds a key.
    """
    if not isinstance(value, dict):
        raise ManifestFieldError(f"{where} must be an object, not {value!r}")
    if set(value) != keys:
        raise ManifestFieldError(
            f"{where} must have exactly the keys {sorted(keys)}, not {sorted(value)}"
        )
    return value


def check_ranges(settings: object, where: str, rules: dict[str, tuple[str, Any]]) -> None:
    """Check fields of a settings object against ``rules``; fields it lacks are skipped.

    Args:
        settings: A dataclass instance.
        where: Its path in the manifest.
        rules: ``field -> (what it must be, predicate)``, e.g. ``("positive", lambda v: v > 0)``.

    Raises:
        ManifestFieldError: Naming the first field whose value fails its predicate.
    """
    for name, (description, allowed) in rules.items():
        if hasattr(settings, name) and not allowed(getattr(settings, name)):
            raise ManifestFieldError(
                f"{where}.{name} must be {description}, not {getattr(settings, name)!r}"
            )


def _at_least(low: float) -> tuple[str, Any]:
    return f">= {low}", lambda value: value >= low


def _between(low: float, high: float) -> tuple[str, Any]:
    return f"between {low} and {high}", lambda value: value is None or low <= value <= high


#: What each head setting may be, beyond its type.
HEAD_RULES: dict[str, tuple[str, Any]] = {
    "dim": _at_least(1),
    "metric": ("'cosine' or 'euclidean'", lambda value: value in ("cosine", "euclidean")),
    "temperature": ("positive", lambda value: value > 0),
    "context_steps": _at_least(0),
    "adapt_steps": _at_least(0),
    "adapt_lr": _at_least(0),
    "adapt_regularisation": _at_least(0),
    "nearest_weight": _between(0, 1),
    "whitening": _between(0, 1),
    "adapt_max_work": _at_least(0),
}

#: What each out-of-scope setting may be, beyond its type (fields a version lacks are skipped).
OUT_OF_SCOPE_RULES: dict[str, tuple[str, Any]] = {
    "shrinkage": ("not negative", lambda value: value >= 0),
    "fallback_pairwise": _between(-1, 1),
    "fallback_spread": ("positive", lambda value: value > 0),
}

#: What the classifier's own settings may be, beyond their type.
CLASSIFIER_RULES: dict[str, tuple[str, Any]] = {
    "encoder": ("a non-empty string", lambda value: bool(value.strip())),
    "head": (f"one of {sorted(HEADS)}", lambda value: value in HEADS),
    "top_k": _at_least(1),
    "oos_threshold": (
        "'auto', a number or null",
        lambda value: value is None or value == "auto" or isinstance(value, float),
    ),
}
