"""``intentmeta calibrate``: tune a registry's out-of-scope probability to its traffic.

The data file (CSV, JSON or JSONL, columns like ``text,label``) holds real messages: the label is
an intent of the registry, or ``oos`` for a message that fits none. The out-of-scope
probability is re-fitted on them, the before / after figures are printed, and the registry is
saved as a new version of its history (unless ``--dry-run``; ``intentmeta undo`` reverts it).
The figures are measured on the same messages the fit used; hold some back and re-run with
``--dry-run`` on them to see how it generalises.

Without labelled messages, ``--share 0.5`` states the share of traffic expected to be out of
scope instead: the probability is moved to it by Bayes' rule (no figures to report).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from intentmeta import IntentClassifier

ORDER = 35


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``calibrate``."""
    parser = commands.add_parser(
        "calibrate",
        help="tune out-of-scope rejection on labelled messages of real traffic, or to a share",
    )
    parser.add_argument("--registry", metavar="DIR", required=True, help="registry to tune")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="CSV/JSON/JSONL with text and label")
    source.add_argument(
        "--share", type=float, help="instead: expected out-of-scope share of traffic (0-1)"
    )
    parser.add_argument("--text-column", help="column of the messages (guessed by default)")
    parser.add_argument("--label-column", help="column of the intents (guessed by default)")
    parser.add_argument("--dry-run", action="store_true", help="report only, do not save")
    parser.set_defaults(func=run_calibrate)


def read_traffic(
    path: str, text_column: str | None = None, label_column: str | None = None
) -> tuple[list[str], list[str], list[str]]:
    """In-scope messages, their intents, and out-of-scope messages (label ``oos``) of a file."""
    import datasets

    from intentmeta.cli.common import require_file
    from intentmeta.research.data import load_dataset, load_out_of_scope

    require_file(path)
    was_quiet = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()  # no "Generating train split" bar for one small file
    try:
        in_scope = load_dataset(path, text_column=text_column, label_column=label_column)
        out_of_scope = load_out_of_scope(path)
    finally:
        if not was_quiet:
            datasets.enable_progress_bars()
    return in_scope.texts, in_scope.labels, out_of_scope


def format_report(report: dict) -> str:
    """Before / after figures as aligned lines (percentages; log-loss as is)."""
    lines = [f"{'':24s} {'before':>8s} {'after':>8s}"]
    for key, before in report["before"].items():
        after = report["after"][key]
        scale, unit = (1, "") if key == "log_loss" else (100, " %")
        lines.append(
            f"{key.replace('_', ' '):24s} {before * scale:8.2f} {after * scale:8.2f}{unit}"
        )
    lines.append(f"fitted map: logit -> {report['scale']:.3f} * logit + {report['offset']:.3f}")
    return "\n".join(lines)


def run_calibrate(args: argparse.Namespace) -> int:
    """Fit, print the figures, save."""
    from intentmeta.cli.common import open_registry

    clf = open_registry(args)
    if args.share is not None:
        report = clf.calibrate(out_of_scope_share=args.share)
        print(
            f"out-of-scope share {args.share:g}: logit -> "
            f"{report['scale']:.3f} * logit + {report['offset']:.3f}"
        )
        return _save(clf, args, f"calibrated to an out-of-scope share of {args.share:g}")
    in_scope, intents, out_of_scope = read_traffic(args.data, args.text_column, args.label_column)
    unknown = sorted(set(intents) - set(clf.intents))
    if unknown:
        raise ValueError(f"labels that are no intent of the registry (use 'oos'?): {unknown[:5]}")
    report = clf.calibrate(
        in_scope=in_scope or None,
        out_of_scope=out_of_scope,
        in_scope_intents=intents or None,
    )
    print(f"{len(in_scope)} in-scope and {len(out_of_scope)} out-of-scope messages")
    print(format_report(report))
    return _save(clf, args, f"calibrated on {args.data!r}")


def _save(clf: IntentClassifier, args: argparse.Namespace, note: str) -> int:
    """Save the calibrated registry as a new version of its history, unless ``--dry-run``."""
    from intentmeta.cli.common import save_version

    if not args.dry_run:
        save_version(clf, args.registry, note)
        print(f"saved {args.registry}")
    return 0
