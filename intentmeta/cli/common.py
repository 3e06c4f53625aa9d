"""What several commands share: opening the registry named by ``--registry``."""

from __future__ import annotations

import argparse
from pathlib import Path


def open_registry(args: argparse.Namespace, *, create: bool = False):
    """The classifier of ``--registry DIR``, or the built-in e-commerce intents without one.

    Args:
        args: Parsed arguments with ``registry`` (and, optionally, ``empty``).
        create: Whether a missing registry directory is allowed (it will be created on save).

    Raises:
        ValueError: If ``--registry`` names no registry and ``create`` is off.
    """
    import intentmeta  # looked up at call time, so tests can swap the classifier class

    if args.registry and (Path(args.registry) / "intentmeta.json").is_file():
        return intentmeta.IntentClassifier.load(args.registry)
    if args.registry and not create:
        raise ValueError(f"no registry at {args.registry!r}; create one with add-intent")
    if getattr(args, "empty", False):
        return intentmeta.IntentClassifier()
    return intentmeta.IntentClassifier.from_builtin("ecommerce")
