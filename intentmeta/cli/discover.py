"""``intentmeta discover``: suggest new intents from a file of unlabelled messages."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from intentmeta.cli.common import open_registry, write_renderings

ORDER = 35
#: Header names recognised as the message column of a CSV file.
TEXT_COLUMNS = ("text", "message", "messages", "utterance", "query", "sentence")


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``discover``."""
    discover = commands.add_parser(
        "discover", help="group unlabelled messages into suggested new intents"
    )
    discover.add_argument(
        "messages",
        help="CSV with a text/message column (else its first column), or a .txt, one per line",
    )
    discover.add_argument("--registry", metavar="DIR", help="known intents (default: built-in)")
    discover.add_argument("--empty", action="store_true", help="no known intents: group all")
    discover.add_argument("--groups", type=int, metavar="N", help="number of new groups")
    discover.add_argument(
        "--only-out-of-scope",
        action="store_true",
        help="group only the messages the registry rejects as out of scope",
    )
    discover.add_argument("--out", metavar="FILE", help="write the suggestions as JSON")
    discover.add_argument("--html", metavar="FILE", help="write the suggestions as HTML")
    discover.set_defaults(func=run_discover)


def read_messages(path: str | Path) -> list[str]:
    """The messages of a CSV file (``text``-like column, else the first) or a text file.

    Raises:
        ValueError: If the file holds no message.
    """
    path = Path(path)
    with path.open(newline="", encoding="utf-8") as handle:
        if path.suffix.lower() == ".txt":
            messages = [line.rstrip("\n") for line in handle]
        else:
            rows = list(csv.reader(handle))
            header = [cell.strip().lower() for cell in rows[0]] if rows else []
            column = next((header.index(c) for c in TEXT_COLUMNS if c in header), None)
            body = rows[1:] if column is not None else rows
            messages = [row[column or 0] for row in body if len(row) > (column or 0)]
    messages = [m for m in messages if m.strip()]
    if not messages:
        raise ValueError(f"no messages in {str(path)!r}")
    return messages


def run_discover(args: argparse.Namespace) -> int:
    """Print the suggested groups; write JSON / HTML when asked."""
    messages = read_messages(args.messages)
    clf = open_registry(args)
    result = clf.discover(messages, only_out_of_scope=args.only_out_of_scope, n_groups=args.groups)
    print(result)
    write_renderings((args.out, result.to_json), (args.html, result.to_html))
    return 0
