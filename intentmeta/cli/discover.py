"""``intentmeta discover``: suggest new intents from a file of unlabelled messages."""

from __future__ import annotations

import argparse
from pathlib import Path

from intentmeta import log_files
from intentmeta.cli.common import open_registry, require_file, write_renderings
from intentmeta.message_column import text_column_of

ORDER = 35
_BATCH_ROWS = 4096  # rows read at a time from a CSV, JSON Lines or Parquet log


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``discover``."""
    discover = commands.add_parser(
        "discover", help="group unlabelled messages into suggested new intents"
    )
    discover.add_argument(
        "messages",
        help="CSV, JSON Lines or Parquet log (text column guessed as classify-file does), "
        "or a .txt, one message per line",
    )
    discover.add_argument(
        "--text-column", metavar="C", help="column holding the messages (default: guessed)"
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


def read_messages(path: str | Path, text_column: str | None = None) -> list[str]:
    """The non-blank messages of a ``.txt`` file (one a line) or of a log's text column.

    A log is read as ``classify-file`` reads it: CSV (also any other suffix than ``.txt``),
    JSON Lines or Parquet, its text column ``text_column`` or guessed by the same rule
    (:func:`~intentmeta.message_column.text_column_of`).

    Args:
        path: The file.
        text_column: The log's column holding the messages (default: guessed).

    Raises:
        ValueError: If the file is missing, its text column is missing or cannot be told, or it
            holds no message.
    """
    require_file(str(path))
    path = Path(path)
    if path.suffix.lower() == ".txt":
        messages = path.read_text(encoding="utf-8").splitlines()
    else:
        messages = _column_values(path, text_column)
    messages = [m for m in messages if isinstance(m, str) and m.strip()]
    if not messages:
        raise ValueError(f"no messages in {str(path)!r}")
    return messages


def _column_values(path: Path, text_column: str | None) -> list[object]:
    """Every value of the log's text column, read in batches."""
    fmt = log_files.FORMATS.get(path.suffix.lower(), "csv")
    column = text_column_of(path, fmt, text_column)
    values: list[object] = []
    for batch in log_files.read_batches(path, fmt, _BATCH_ROWS):
        values += log_files.batch_texts(batch, column)
    return values


def run_discover(args: argparse.Namespace) -> int:
    """Print the suggested groups; write JSON / HTML when asked."""
    messages = read_messages(args.messages, args.text_column)
    clf = open_registry(args)
    result = clf.discover(messages, only_out_of_scope=args.only_out_of_scope, n_groups=args.groups)
    print(result)
    write_renderings((args.out, result.to_json), (args.html, result.to_html))
    return 0
