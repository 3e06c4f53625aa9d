"""``intentmeta report``: the data-quality report of a registry, as text or an HTML page."""

from __future__ import annotations

import argparse

from intentmeta.cli.common import open_registry, write_renderings

ORDER = 30


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``report``."""
    report = commands.add_parser(
        "report", help="confusable intents, suspect examples and per-intent figures"
    )
    report.add_argument("--registry", metavar="DIR", help="saved intents (default: built-in)")
    report.add_argument("--html", metavar="FILE", help="also write an HTML page with a heatmap")
    report.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    report.set_defaults(func=run_report)


def run_report(args: argparse.Namespace) -> int:
    """Print the report; write HTML / JSON when asked."""
    report = open_registry(args).report()
    print(report)
    write_renderings((args.html, report.to_html), (args.json, report.to_json))
    return 0
