"""The ``intentmeta`` command line: classify, manage intents, serve the demo, evaluate, train."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _open_registry(args: argparse.Namespace, *, create: bool = False):
    """The classifier of ``--registry DIR``, or the built-in e-commerce intents without one."""
    from intentmeta import IntentClassifier

    if args.registry and (Path(args.registry) / "intentmeta.json").is_file():
        return IntentClassifier.load(args.registry)
    if args.registry and not create:
        raise ValueError(f"no registry at {args.registry!r}; create one with add-intent")
    if getattr(args, "empty", False):
        return IntentClassifier()
    return IntentClassifier.from_builtin("ecommerce")


def _classify(args: argparse.Namespace) -> int:
    clf = _open_registry(args)
    predictions = clf.classify_batch(args.texts)
    for text, prediction in zip(args.texts, predictions, strict=True):
        if args.json:
            print(
                json.dumps(
                    {
                        "text": text,
                        "intent": prediction.intent,
                        "confidence": round(prediction.confidence, 4),
                        "is_out_of_scope": prediction.is_out_of_scope,
                        "scores": {k: round(v, 4) for k, v in prediction.scores.items()},
                    }
                )
            )
        else:
            label = prediction.intent or "out of scope"
            print(f"{label}\t{prediction.confidence:.2f}\t{text}")
    return 0


def _add_intent(args: argparse.Namespace) -> int:
    clf = _open_registry(args, create=True)
    clf.add_intent(args.name, args.examples)
    clf.save(args.registry)
    print(
        f"added {args.name!r} with {len(clf.examples(args.name))} examples "
        f"({len(clf.intents)} intents in {args.registry})"
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    clf = _open_registry(args)
    for name in clf.intents:
        examples = clf.examples(name)
        print(f"{name}\t{len(examples)} examples\te.g. {examples[0]!r}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from demo.app import launch

    launch(registry=args.registry, host=args.host, port=args.port)
    return 0


def _eval(args: argparse.Namespace) -> int:
    if getattr(args, "oos", False):
        from intentmeta.evaluate_oos import run_from_cli as run_out_of_scope

        return run_out_of_scope(args)
    from intentmeta.evaluate import run_from_cli

    return run_from_cli(args)


def _train(args: argparse.Namespace) -> int:
    from intentmeta.meta_training import run_from_cli

    return run_from_cli(args)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(
        prog="intentmeta",
        description="Few-shot intent classification on a frozen sentence encoder.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    classify = commands.add_parser("classify", help="predict the intent of messages")
    classify.add_argument("texts", nargs="+", metavar="TEXT", help="message(s) to classify")
    classify.add_argument("--registry", metavar="DIR", help="saved intents (default: built-in)")
    classify.add_argument("--json", action="store_true", help="one JSON object per line")
    classify.set_defaults(func=_classify)

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
    add.set_defaults(func=_add_intent)

    listing = commands.add_parser("list", help="list intents and their example counts")
    listing.add_argument("--registry", metavar="DIR", help="saved intents (default: built-in)")
    listing.set_defaults(func=_list)

    demo = commands.add_parser("demo", help="serve the Gradio chat demo")
    demo.add_argument("--registry", metavar="DIR", help="registry to serve and save changes to")
    demo.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback)")
    demo.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    demo.set_defaults(func=_demo)

    add_eval_arguments(commands.add_parser("eval", help="few-shot accuracy on a data set"))
    add_train_arguments(commands.add_parser("train", help="meta-train a head on episodes"))
    return parser


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``intentmeta eval``."""
    parser.add_argument("--data", required=True, help="data set directory, file or Hub name")
    parser.add_argument("--out", default="results", help="directory for JSON and plots")
    parser.add_argument(
        "--shots", type=int, nargs="+", default=[1, 5, 10, 20], help="K per intent (full-class)"
    )
    parser.add_argument("--seeds", type=int, default=5, help="support sets drawn per K")
    parser.add_argument("--episodes", type=int, default=600, help="episodes per episodic setting")
    parser.add_argument("--ways", type=int, default=5, help="classes per episode")
    parser.add_argument(
        "--episode-shots", type=int, nargs="*", default=[1, 5], help="K of the episodes"
    )
    parser.add_argument("--queries", type=int, default=15, help="queries per class and episode")
    parser.add_argument(
        "--methods",
        nargs="+",
        default=["nearest_neighbour", "logistic_regression", "prototypical", "matching", "default"],
        help="methods compared",
    )
    parser.add_argument("--split", default="test", help="evaluation split (test, val)")
    parser.add_argument(
        "--validation",
        type=float,
        metavar="FRACTION",
        help="evaluate on this fraction of train held out (for choosing settings)",
    )
    parser.add_argument("--encoder", default="default", help="encoder model name or path")
    parser.add_argument("--cache-dir", help="embedding cache (default: ~/.cache/intentmeta)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "--oos",
        action="store_true",
        help="CLINC150 out-of-scope rejection and calibration instead (one --shots K, default 10)",
    )
    parser.set_defaults(func=_eval)


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``intentmeta train``; defaults are those of ``TrainConfig``."""
    parser.add_argument("--data", required=True, help="training data set (its train split)")
    parser.add_argument("--out", required=True, help="directory for weights, log and curves")
    parser.add_argument("--head", choices=["prototypical", "matching"], default="prototypical")
    parser.add_argument("--episodes", type=int, default=1000, help="maximum training episodes")
    parser.add_argument("--n-way", type=int, default=20, help="intents per episode")
    parser.add_argument("--k-shot", type=int, default=5, help="support examples per intent")
    parser.add_argument("--queries", type=int, default=5, help="queries per intent and episode")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    parser.add_argument("--weight-decay", type=float, default=0.0, help="Adam weight decay")
    parser.add_argument(
        "--identity-weight", type=float, default=1.0, help="pull of the projection to identity"
    )
    parser.add_argument("--noise", type=float, default=0.0, help="embedding noise norm")
    parser.add_argument("--diagonal", action="store_true", help="train a diagonal projection")
    parser.add_argument("--context-steps", type=int, default=0, help="matching: context steps")
    parser.add_argument("--seed", type=int, default=0, help="seed of episodes and noise")
    parser.add_argument("--validation-data", help="separate data set of validation intents")
    parser.add_argument(
        "--validation-domains", help="comma-separated CLINC150 domains that validate"
    )
    parser.add_argument(
        "--holdout-domains", help="comma-separated domains left out entirely (for testing)"
    )
    parser.add_argument(
        "--validation-fraction",
        type=float,
        default=0.2,
        help="share of intents held out to validate when no domains/data are given",
    )
    parser.add_argument("--validate-every", type=int, default=50, help="episodes per validation")
    parser.add_argument("--patience", type=int, default=5, help="validations without progress")
    parser.add_argument("--cache-dir", help="embedding cache (default: ~/.cache/intentmeta)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_train)


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
