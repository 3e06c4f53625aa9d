"""Support-traffic proxy (issue 18): short messages, half of them out of scope, 21–59 intents.

    python training/evaluate_support_traffic.py --data ../shared/data --split test \
        --encoder-for banking77=/work/encoder-runs/recipes/default-clinc150 \
        --encoder-for clinc150=/work/encoder-runs/recipes/default-banking77 \
        --rule intentmeta/minilm-intents-v1 --out results/traffic/test.json

Compares ``IntentClassifier()`` as shipped with semantic-router's default rule and a fixed
prototype-cosine threshold of 0.5, on the same embeddings
(``intentmeta.research.support_traffic``): the off-the-shelf all-MiniLM-L6-v2 always, and with
``--encoder-for DATA=DIR`` also an encoder that never saw DATA (``--rule``: the rejection rule
the classifier uses with it). Nothing is fitted or chosen on these episodes, so ``--split test``
is allowed; ``--tuned`` also tunes every rule on the same intents' *validation* traffic
(``calibrate`` for intentmeta, the best-MCC threshold for the baselines) before the test.
Prints a Markdown table; ``--out`` keeps every seed's metrics as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from datetime import date
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch
from tqdm.auto import tqdm

from intentmeta.research.benchmark_encoders import (
    cached_table_encoder,
    encoders_per_dataset,
    load_encoder,
)
from intentmeta.research.evaluate_open import load_pool, load_rule
from intentmeta.research.support_traffic import TrafficConfig, traffic_cell, traffic_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", help="folder of banking77/clinc150")
    parser.add_argument("--sets", nargs="+", default=["banking77", "clinc150"])
    parser.add_argument("--split", default="val", choices=["val", "test"])
    parser.add_argument("--intents", type=int, nargs="+", default=[21, 40, 59])
    parser.add_argument("--shots", type=int, default=10)
    parser.add_argument("--max-words", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--encoder-for", action="append", default=[], metavar="DATA=ENCODER")
    parser.add_argument("--rule", help="rule for --encoder-for: a refitted rule's JSON or name")
    parser.add_argument(
        "--tuned",
        action="store_true",
        help="also tune each rule on the same intents' validation traffic (with --split test)",
    )
    parser.add_argument("--out", help="JSON record of every seed's metrics")
    args = parser.parse_args()
    if args.tuned and args.split != "test":
        parser.error("--tuned tunes on the validation split: evaluate on --split test")
    torch.set_num_threads(1)
    config = TrafficConfig(args.intents, args.shots, args.max_words, args.seeds)
    chosen = encoders_per_dataset(args.encoder_for)
    rule = {"rule": load_rule(args.rule)} if args.rule else {}
    cells = []
    for dataset in args.sets:
        pool = load_pool(Path(args.data) / dataset, args.split)
        val_pool = load_pool(Path(args.data) / dataset, "val") if args.tuned else None
        texts = pool.texts() + (val_pool.texts() if val_pool else [])
        encoders = {"all-MiniLM-L6-v2": (load_encoder("default"), {})}
        if dataset in chosen:
            encoders["meta-learned, never saw the data set"] = (load_encoder(chosen[dataset]), rule)
        tables = {
            label: (cached_table_encoder(encoder, texts), settings)
            for label, (encoder, settings) in encoders.items()
        }
        for n_intents in tqdm(config.intents, desc=dataset):
            results = traffic_cell(pool, tables, n_intents, config, val_pool)
            cells.append({"data": dataset, "intents": n_intents, "results": results})
    print(traffic_table(cells))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        record = {
            "split": args.split,
            "config": vars(config),
            "encoders": {d: chosen.get(d) for d in args.sets},
            "rule": args.rule,
            "cells": cells,
            "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}",
            "date": date.today().isoformat(),
        }
        Path(args.out).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
