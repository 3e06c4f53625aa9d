"""``intentmeta add-intent`` and ``intentmeta list``: manage a registry directory."""

from __future__ import annotations

import argparse
import sys

from intentmeta.cli.common import add_registry_options, open_registry
from intentmeta.prediction import OUT_OF_SCOPE
from intentmeta.registry_files import RegistrySaveError
from intentmeta.validation import check_examples, check_intent_name

ORDER = 20


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``add-intent`` and ``list``."""
    add = commands.add_parser("add-intent", help="add an intent to a registry directory")
    add.add_argument("name", help="the new intent's name")
    add.add_argument("examples", nargs="+", metavar="EXAMPLE", help="example messages")
    add_registry_options(
        add, "registry to update; created from the built-in intents if missing", required=True
    )
    add.add_argument("--empty", action="store_true", help="create a new registry with no intents")
    add.set_defaults(func=run_add_intent)

    listing = commands.add_parser("list", help="list intents and their example counts")
    add_registry_options(listing, "saved intents (default: built-in)")
    listing.set_defaults(func=run_list)


def run_add_intent(args: argparse.Namespace) -> int:
    """Add the intent and save the registry; exit status 1 if it cannot be saved."""
    name = check_intent_name(args.name, reserved=(OUT_OF_SCOPE,))  # before loading any model
    check_examples(args.examples, name)
    clf = open_registry(args, create=True)
    clf.add_intent(name, args.examples)
    try:
        clf.save(args.registry)
    except RegistrySaveError as error:
        print(
            f"intentmeta add-intent: error: {error}: {name!r} was not added to {args.registry}",
            file=sys.stderr,
        )
        return 1
    print(
        f"added {name!r} with {len(clf.examples(name))} examples "
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
