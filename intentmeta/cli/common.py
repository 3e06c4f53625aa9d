"""What several commands share: the ``--registry`` and ``--encoder`` options, opening a registry,
saving a change as a version that ``intentmeta undo`` can revert, and checking an input file."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from intentmeta import history
from intentmeta.registry_files import MANIFEST


def registry_directory(value: str) -> str:
    """``--registry``'s type: a directory name, never empty (which would mean the current one).

    Raises:
        argparse.ArgumentTypeError: If ``value`` is empty or blank.
    """
    if not value.strip():
        raise argparse.ArgumentTypeError("must name a directory, not an empty string")
    return value


def add_registry_options(
    parser: argparse.ArgumentParser, what: str, *, required: bool = False
) -> None:
    """Add ``--registry DIR`` (described by ``what``) and ``--encoder NAME`` to a parser."""
    parser.add_argument(
        "--registry", metavar="DIR", type=registry_directory, required=required, help=what
    )
    parser.add_argument(
        "--encoder",
        metavar="NAME",
        help="encoder of a registry made with another than the bundled one (a Hugging Face "
        "name or local path); never taken from the registry itself",
    )


def write_renderings(*outputs: tuple[str | None, Callable[[], str]]) -> None:
    """Write each ``(path, render)`` whose path was given and say so, after one blank line."""
    written = [(path, render) for path, render in outputs if path]
    for i, (path, render) in enumerate(written):
        Path(path).write_text(render(), encoding="utf-8")
        print(f"{'' if i else chr(10)}wrote {path}")


def check_registry_path(directory: str) -> None:
    """Refuse a ``--registry`` that names a file: it takes the registry's directory.

    Raises:
        ValueError: If ``directory`` is a file, naming the directory it probably meant.
    """
    path = Path(directory)
    if not path.is_file():
        return
    message = f"--registry takes the registry's directory, not a file: {directory!r} is a file"
    if (path.parent / MANIFEST).is_file():
        message += f"; did you mean --registry {str(path.parent)!r}?"
    raise ValueError(message)


def require_registry(directory: str) -> None:
    """Refuse a ``--registry`` that holds no registry.

    Raises:
        ValueError: If ``directory`` is a file or holds no saved registry.
    """
    check_registry_path(directory)
    if not (Path(directory) / MANIFEST).is_file():
        raise ValueError(f"no registry at {directory!r}; create one with add-intent")


def require_file(path: str) -> None:
    """Refuse an input file that is not there, in the words classify-file uses.

    Raises:
        ValueError: If ``path`` is not an existing file.
    """
    if not Path(path).is_file():
        raise ValueError(f"no input file {path!r}")


def save_version(classifier: history.Saveable, directory: str, note: str) -> None:
    """Save a change to the registry in ``directory`` as a new version of its history.

    The registry as it was is kept first (one saved without history, by ``clf.save`` or an
    older intentmeta, becomes a version too), so ``intentmeta undo`` puts it back. A history
    that cannot be written costs only the undo step: the change is saved all the same, and a
    warning on standard error says so.

    Args:
        classifier: The changed classifier.
        directory: The registry directory (created if missing).
        note: What changed, as ``intentmeta history`` will list it.

    Raises:
        RegistrySaveError: If the registry could not be saved (the directory is unchanged).
    """
    failed = None
    if (Path(directory) / MANIFEST).is_file():
        failed = _record(directory, "unrecorded change")
    classifier.save(directory)
    failed = _record(directory, note) or failed
    if failed is not None:
        reason = getattr(failed, "strerror", None) or failed
        print(
            f"intentmeta: warning: saved, but not kept in the history ({reason}); "
            "undo cannot go back past this change",
            file=sys.stderr,
        )


def _record(directory: str, note: str) -> Exception | None:
    """Keep the registry now in ``directory`` as its newest version; the error if it failed."""
    try:
        history.record(directory, note=note)
    except (OSError, ValueError) as error:
        return error
    return None


def open_registry(args: argparse.Namespace, *, create: bool = False):
    """The classifier of ``--registry DIR``, or the built-in e-commerce intents without one.

    Args:
        args: Parsed arguments with ``registry`` (and, optionally, ``encoder`` and ``empty``).
        create: Whether a missing registry directory is allowed (it will be created on save).

    Raises:
        ValueError: If ``--registry`` names a file, or no registry and ``create`` is off.
    """
    import intentmeta  # looked up at call time, so tests can swap the classifier class

    encoder = getattr(args, "encoder", None)
    if args.registry:
        check_registry_path(args.registry)
    if args.registry and (Path(args.registry) / MANIFEST).is_file():
        return intentmeta.IntentClassifier.load(args.registry, encoder=encoder)
    if args.registry and not create:
        require_registry(args.registry)
    settings = {} if encoder is None else {"encoder": encoder}
    if getattr(args, "empty", False):
        return intentmeta.IntentClassifier(**settings)
    return intentmeta.IntentClassifier.from_builtin("ecommerce", **settings)
