"""The ``intentmeta`` command line: one module per command group, found at start-up.

A command group is a module of this package with a ``register(commands)`` function that adds its
sub-parsers (each with ``set_defaults(func=...)``) and, optionally, ``ORDER`` (its place in
``--help``; default 100). Adding a command is adding a module: nothing here changes.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@functools.cache
def command_modules() -> tuple:
    """The command-group modules of this package, in ``--help`` order.

    Found once per process: listing the package's folder again on every call would fail where
    the process later loses the right to read it (a save run as another user, a chroot).
    """
    modules = [
        importlib.import_module(f"{__name__}.{info.name}")
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_")  # not __main__
    ]
    modules = [module for module in modules if hasattr(module, "register")]
    return tuple(
        sorted(modules, key=lambda module: (getattr(module, "ORDER", 100), module.__name__))
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(
        prog="intentmeta",
        description="Few-shot intent classification on a frozen sentence encoder.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in command_modules():
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for a usage or input error)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # argparse exits on --help (0) and on usage errors (2)
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        return args.func(args)
    except (ValueError, KeyError, TypeError, RuntimeError, OSError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"intentmeta {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
