"""``intentmeta classify``: predict the intent of messages."""

from __future__ import annotations

import argparse
import json

from intentmeta.cli.common import add_registry_options, open_registry
from intentmeta.validation import check_texts

ORDER = 10


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``classify``."""
    classify = commands.add_parser("classify", help="predict the intent of messages")
    classify.add_argument("texts", nargs="+", metavar="TEXT", help="message(s) to classify")
    add_registry_options(classify, "saved intents (default: built-in)")
    classify.add_argument("--json", action="store_true", help="one JSON object per line")
    classify.set_defaults(func=run_classify)


def run_classify(args: argparse.Namespace) -> int:
    """Print one line per message: intent, confidence and text (or a JSON object)."""
    check_texts(args.texts)  # before loading any model
    clf = open_registry(args)
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
