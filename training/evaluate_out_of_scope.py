"""Measure out-of-scope rejection and confidence calibration on CLINC150 (issue 5).

K examples per intent from ``train``, nothing out of scope shown; in-scope accuracy, out-of-scope
recall / precision, AUROC and ECE over seeds, with 95% confidence intervals.

    python training/evaluate_out_of_scope.py --data ../shared/data/clinc150 --split test \
        --plot docs/reliability_diagram.png

``--split val --fit-confidence`` also refits the out-of-scope rule on CLINC150 ``val`` episodes
(``training/fit_rejection_rule.py`` fits the shipped one on both data sets); with ``--split test``
it is refused: nothing is ever fitted on a test split. ``--encoder DIR`` measures an encoder that
never saw CLINC150 (its ``training.json`` is checked), ``--rule`` a rule other than the one
shipped for the encoder's name (a JSON, or a shipped encoder's name).
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch

from intentmeta.research.evaluate_oos import (
    OosConfig,
    evaluate_out_of_scope,
    format_record,
    load_clinc150,
    parse_threshold,
)


def time_add_intent(train: dict[str, list[str]], n_intents: int = 1000, repeats: int = 20) -> dict:
    """Median milliseconds to add one 10-example intent to a registry of ``n_intents``.

    The registry is filled from CLINC150 training texts (reused across intent names); the timed
    ``add_intent`` encodes its 10 examples with the real encoder. ``calibration_ms`` times the
    detector's share: the per-intent statistics and the first decision's lazy global update.
    """
    from intentmeta import IntentClassifier
    from intentmeta.shipped_encoders import OFF_THE_SHELF

    pool = [text for texts in train.values() for text in texts]
    texts = [pool[i % len(pool)] for i in range(n_intents * 10)]
    labels = [f"intent_{i // 10}" for i in range(n_intents * 10)]
    clf = IntentClassifier(encoder=OFF_THE_SHELF, oos_threshold="auto").fit(texts, labels)
    clf.classify("warm up")
    total, calibration = [], []
    for repeat in range(repeats):
        examples = [f"{text} ({repeat})" for text in pool[repeat * 10 : repeat * 10 + 10]]
        started = time.perf_counter()
        clf.add_intent(f"new_{repeat}", examples)
        total.append(time.perf_counter() - started)
        encoder_embeddings = clf.encoder.encode(examples)  # (10, dim)
        labels_now = clf.head.classes.tolist()
        started = time.perf_counter()
        clf.oos.set_intent(labels_now[-1], encoder_embeddings)
        clf.oos.thresholds(labels_now)
        calibration.append(time.perf_counter() - started)
    median = lambda xs: sorted(xs)[len(xs) // 2] * 1000  # noqa: E731
    return {
        "n_intents": n_intents,
        "add_intent_ms": median(total),
        "calibration_ms": median(calibration),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/clinc150", help="CLINC150 folder")
    parser.add_argument("--split", default="test", choices=["val", "test"])
    parser.add_argument("--shots", type=int, default=10, help="examples per intent")
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds (0, 1, ...)")
    parser.add_argument("--threshold", default="auto", help="'auto', a cosine, or 'none'")
    parser.add_argument("--out", default="results/out_of_scope", help="JSON results folder")
    parser.add_argument("--cache", help="embedding cache (default: ~/.cache/intentmeta/oos)")
    parser.add_argument("--plot", help="write the reliability diagram (all seeds) here")
    parser.add_argument(
        "--fit-confidence", action="store_true", help="also refit the rule on val (not test)"
    )
    parser.add_argument(
        "--encoder", default="default", help="'default' (off the shelf) or a model without CLINC150"
    )
    parser.add_argument("--rule", help="a rule's JSON, or an encoder whose shipped rule to use")
    parser.add_argument(
        "--no-names", action="store_true", help="name_as_example=False (as before it shipped)"
    )
    parser.add_argument(
        "--share", type=float, help="calibrate(out_of_scope_share=...): the traffic's stated share"
    )
    parser.add_argument("--timing", action="store_true", help="only time add_intent at 1,000")
    args = parser.parse_args()
    if args.fit_confidence and args.split == "test":
        parser.error("--fit-confidence fits on the split it reads: refused with --split test")

    torch.manual_seed(0)
    torch.set_num_threads(1)
    if args.timing:
        print(json.dumps(time_add_intent(load_clinc150(args.data, args.split)[1])))
        return
    record = evaluate_out_of_scope(
        args.data,
        OosConfig(
            args.split,
            args.shots,
            args.seeds,
            parse_threshold(args.threshold),
            args.encoder,
            args.rule,
            not args.no_names,
            args.share,
        ),
        cache_dir=args.cache,
        out=args.out,
        plot=args.plot,
        fit=args.fit_confidence,
    )
    print(format_record(record))


if __name__ == "__main__":
    main()
