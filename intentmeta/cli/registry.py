"""``intentmeta add-intent`` and ``intentmeta list``: manage a registry directory.

``add-intent`` saves each change as a version of the registry's history
(:mod:`intentmeta.history`), so ``intentmeta undo`` reverts it.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from intentmeta.cli.common import add_registry_options, open_registry, save_version
from intentmeta.prediction import OUT_OF_SCOPE
from intentmeta.registry_files import RegistrySaveError
from intentmeta.validation import check_examples, check_intent_name

if TYPE_CHECKING:
    from intentmeta import IntentClassifier

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
    add.add_argument(
        "--extend",
        action="store_true",
        help="if the intent exists, add the examples to it (those it has are skipped)",
    )
    add.set_defaults(func=run_add_intent)

    listing = commands.add_parser("list", help="list intents and their example counts")
    add_registry_options(listing, "saved intents (default: built-in)")
    listing.set_defaults(func=run_list)


def run_add_intent(args: argparse.Namespace) -> int:
    """Add the intent (or, with ``--extend``, its examples) and save the registry as a new
    version of its history; exit status 1 if it cannot be saved."""
    name = check_intent_name(args.name, reserved=(OUT_OF_SCOPE,))  # before loading any model
    check_examples(args.examples, name)
    clf = open_registry(args, create=True)
    existed = name in clf
    note = _add(clf, name, args.examples, extend=args.extend)
    try:
        save_version(clf, args.registry, note)
    except RegistrySaveError as error:
        print(
            f"intentmeta add-intent: error: {error}: {name!r} was not added to {args.registry}",
            file=sys.stderr,
        )
        return 1
    count = len(clf.examples(name))
    what = f"{note}, now {count}" if existed else f"added {name!r} with {count}"
    print(f"{what} examples ({len(clf.intents)} intents in {args.registry})")
    return 0


def _add(clf: IntentClassifier, name: str, examples: list[str], *, extend: bool) -> str:
    """Add the intent, or with ``extend`` the examples of an existing one; what changed.

    Raises:
        ValueError: If the intent exists and ``extend`` is off.
    """
    if name not in clf:
        clf.add_intent(name, examples)
        return f"added intent {name!r}"
    if not extend:
        raise ValueError(
            f"intent {name!r} already exists; add --extend to add these examples to it, "
            "or import a file of examples with: intentmeta import FILE --registry DIR"
        )
    before = len(clf.examples(name))
    clf.add_examples(name, examples)
    return f"added {len(clf.examples(name)) - before} example(s) to {name!r}"


def run_list(args: argparse.Namespace) -> int:
    """Print each intent, its number of examples and its first example."""
    clf = open_registry(args)
    for name in clf.intents:
        examples = clf.examples(name)
        print(f"{name}\t{len(examples)} examples\te.g. {examples[0]!r}")
    return 0
