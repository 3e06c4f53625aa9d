"""``intentmeta classify-file``: classify every message of a CSV, JSON Lines or Parquet log."""

from __future__ import annotations

import argparse
import json
import re
from typing import TYPE_CHECKING

from intentmeta.cli.common import check_registry_path

if TYPE_CHECKING:
    from intentmeta.log_classification import LogSummary

ORDER = 15  # after classify


def register(commands: argparse._SubParsersAction) -> None:
    """Register ``classify-file`` on the sub-command parsers."""
    parser = commands.add_parser(
        "classify-file",
        help="classify every message of a CSV, JSON Lines or Parquet file",
        description=(
            "Classify every row of IN into OUT (formats from the extensions: .csv, .jsonl, "
            ".parquet). Other columns are carried through; intent, confidence, out_of_scope and "
            "the top-k intents are added. Interrupted runs continue where OUT stopped."
        ),
    )
    parser.add_argument("input", metavar="IN", help="the log to classify")
    parser.add_argument("--registry", metavar="DIR", required=True, help="saved intents")
    parser.add_argument("--out", metavar="OUT", required=True, help="the file to write")
    parser.add_argument(
        "--text-column", metavar="C", help="column holding the messages (default: guessed)"
    )
    parser.add_argument("--top-k", type=int, default=3, metavar="K", help="intents listed per row")
    parser.add_argument(
        "--batch-size", type=int, default=256, metavar="N", help="rows classified at a time"
    )
    parser.add_argument(
        "--engine",
        choices=["local", "spark"],
        default="local",
        help="local: streaming, resumable (default); spark: a local Spark session, Parquet only",
    )
    parser.add_argument(
        "--backend",
        choices=["torch", "quantized", "onnx-int8"],
        default="torch",
        help="encoder backend (onnx-int8 needs intentmeta[onnx])",
    )
    parser.add_argument(
        "--encoder",
        metavar="NAME_OR_PATH",
        help="the registry's encoder, when it is not the bundled all-MiniLM-L6-v2",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace OUT instead of resuming")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Classify the file and print the summary.

    Raises:
        ValueError: For bad input, worded for the command line (``--overwrite``, not
            ``overwrite``).
    """
    check_registry_path(args.registry)
    try:
        summary = _classify(args)
    except ValueError as error:
        raise ValueError(command_line_wording(str(error))) from error
    print(json.dumps(summary.as_dict()) if args.json else summary)
    return 0


def command_line_wording(message: str) -> str:
    """An error of the Python API with its ``overwrite`` argument named as the ``--overwrite``
    flag (``"... pass overwrite to start again"`` -> ``"... pass --overwrite to start again"``)."""
    return re.sub(r"\bpass overwrite\b(=True)?", "pass --overwrite", message)


def _classify(args: argparse.Namespace) -> LogSummary:
    """Run the chosen engine; its :class:`~intentmeta.log_classification.LogSummary`."""
    settings = {
        "text_column": args.text_column,
        "top_k": args.top_k,
        "batch_size": args.batch_size,
        "backend": args.backend,
        "encoder": args.encoder,
        "overwrite": args.overwrite,
    }
    if args.engine == "spark":
        from intentmeta.spark import classify_parquet

        return classify_parquet(args.input, args.registry, args.out, **settings)
    from intentmeta.log_classification import classify_file

    return classify_file(args.input, args.registry, args.out, progress=not args.quiet, **settings)
