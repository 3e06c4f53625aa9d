"""``intentmeta add-intent`` and ``intentmeta list``: manage a registry directory."""

from __future__ import annotations

import argparse

from intentmeta.cli.common import open_registry

ORDER = 20


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``add-intent`` and ``list``."""
    add = commands.add_parser("add-intent", help="add an intent to a registry directory")
    add.add_argument("name", help="the new intent's name")
    add.add_argument("examples", nargs="+", metavar="EXAMPLE", help="example messages")
    add.add_argument(
        "--registry",
        metavar="DIR",
        required=True,
        help="registry to update; created from the built-in intents if missing",
    )
    add.add_argument("--empty", action="store_true", help="create a new registry with no intents")
    add.set_defaults(func=run_add_intent)

    listing = commands.add_parser("list", help="list intents and their example counts")
    listing.add_argument("--registry", metavar="DIR", help="saved intents (default: built-in)")
    listing.set_defaults(func=run_list)


def run_add_intent(args: argparse.Namespace) -> int:
    """Add the intent and save the registry."""
    clf = open_registry(args, create=True)
    clf.add_intent(args.name, args.examples)
    clf.save(args.registry)
    print(
        f"added {args.name!r} with {len(clf.examples(args.name))} examples "
        f"({len(clf.intents)} intents in {args.registry})"
    )
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Print each intent, its number of examples and its first example."""
    clf = open_registry(args)
    for name in clf.intents:
        examples = clf.examples(name)
        print(f"{name}\t{len(examples)} examples\te.g. {examples[0]!r}")
    return 0
