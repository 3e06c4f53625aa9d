"""``intentmeta export``, ``import``, ``history`` and ``undo``: a registry's intents as files.

Files are CSV (``intent,example`` rows) or JSON (``{"intents": [{"name", "examples"}]}``), the
format taken from the file's suffix or ``--format``. ``import`` and ``undo`` keep the registry's
history (:mod:`intentmeta.history`), as ``add-intent`` and ``calibrate`` do, so an import can be
undone like any edit in the demo.
"""

from __future__ import annotations

import argparse
import sys

from intentmeta import exchange, history
from intentmeta.cli.common import (
    add_registry_options,
    check_registry_path,
    open_registry,
    require_file,
    require_registry,
    save_version,
)
from intentmeta.persistence import load_registry, read_intents
from intentmeta.prediction import OUT_OF_SCOPE
from intentmeta.registry_files import RegistrySaveError

ORDER = 25


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``export``, ``import``, ``history`` and ``undo``."""
    export = commands.add_parser("export", help="write every intent and example to CSV or JSON")
    add_registry_options(export, "registry to export", required=True)
    export.add_argument("--out", metavar="FILE", help="file to write (default: standard output)")
    export.add_argument("--format", choices=exchange.FORMATS, help="default: the file's suffix")
    export.set_defaults(func=run_export)

    load = commands.add_parser("import", help="add intents and examples from a CSV or JSON file")
    load.add_argument("file", help="CSV (intent,example rows) or JSON file")
    add_registry_options(load, "registry to update; created empty if missing", required=True)
    load.add_argument("--format", choices=exchange.FORMATS, help="default: the file's suffix")
    load.add_argument(
        "--replace", action="store_true", help="drop every intent first (undo brings them back)"
    )
    load.set_defaults(func=run_import, empty=True)

    listing = commands.add_parser("history", help="list the kept versions of a registry")
    add_registry_options(listing, "registry whose history to list", required=True)
    listing.set_defaults(func=run_history)

    undo = commands.add_parser("undo", help="put a registry back to its previous version")
    add_registry_options(undo, "registry to put back", required=True)
    undo.set_defaults(func=run_undo)


def run_export(args: argparse.Namespace) -> int:
    """Write the intents without loading any model (they are read from the manifest)."""
    check_registry_path(args.registry)
    manifest, _ = load_registry(args.registry)
    intents = read_intents(manifest, args.registry, reserved=(OUT_OF_SCOPE,))
    fmt = exchange.format_of(args.out or "", args.format or (None if args.out else "csv"))
    text = exchange.dumps(intents, fmt)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as file:
            file.write(text)
        count = sum(map(len, intents.values()))
        print(f"wrote {len(intents)} intents, {count} examples to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def run_import(args: argparse.Namespace) -> int:
    """Check the whole file first, then change and save the registry in one step."""
    exchange.format_of(args.file, args.format)  # an unknown format first, as classify-file
    require_file(args.file)
    intents = exchange.read_intents(args.file, args.format)  # before loading any model
    clf = open_registry(args, create=True)
    summary = exchange.import_intents(clf, intents, replace=args.replace)
    try:
        save_version(clf, args.registry, note=f"imported {args.file!r}")
    except RegistrySaveError as error:
        print(f"intentmeta import: error: {error}: nothing was imported", file=sys.stderr)
        return 1
    print(f"{summary} ({len(clf)} intents in {args.registry})")
    return 0


def run_history(args: argparse.Namespace) -> int:
    """One line per kept version, oldest first, or one line saying there is none."""
    require_registry(args.registry)
    kept = history.versions(args.registry)
    if not kept:
        print(f"no earlier versions kept for {args.registry}")
    for version in kept:
        print(
            f"{version.number}\t{version.saved_at}\t{version.intents} intents\t"
            f"{version.examples} examples\t{version.note}"
        )
    return 0


def run_undo(args: argparse.Namespace) -> int:
    """Restore the version before the newest."""
    require_registry(args.registry)
    restored = history.undo(args.registry)
    print(
        f"back to version {restored.number} ({restored.intents} intents, "
        f"{restored.examples} examples) in {args.registry}"
    )
    return 0
