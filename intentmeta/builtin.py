"""The intent sets that ship with intentmeta (``intentmeta/intents/*.json``)."""

from __future__ import annotations

import json
from importlib import resources


def builtin_intents(name: str = "ecommerce") -> dict[str, list[str]]:
    """The intents and examples of a built-in set.

    Raises:
        ValueError: If there is no built-in set of that name.
    """
    available = sorted(
        p.name.removesuffix(".json")
        for p in resources.files("intentmeta").joinpath("intents").iterdir()
        if p.name.endswith(".json")
    )
    if name not in available:
        raise ValueError(f"no built-in intent set {name!r}; available: {available}")
    text = resources.files("intentmeta").joinpath("intents", f"{name}.json").read_text()
    return json.loads(text)["intents"]
