"""Fit the out-of-scope rule on validation episodes for one encoder, print its JSON state.

    python training/fit_rejection_rule.py --data ../shared/data --encoder default \
        --out results/rejection_rule_default.json

The printed weights are what ``RejectionRule()`` ships for the off-the-shelf encoder; a team with
another encoder fits its own and passes it to the classifier. Only validation splits are read:
CLINC150 ``val`` + ``oos_val`` and 30 % of BANKING77's ``train`` rows held out.

For an encoder trained on these data sets (the shipped meta-learned one), fit on the embeddings of
encoders of the same recipe that never saw the data set they embed, as a user's new intents are
never in the encoder's training data::

    python training/fit_rejection_rule.py --name intentmeta/minilm-intents-v1 \
        --encoder-for banking77=/work/encoder-runs/recipes/default-clinc150 \
        --encoder-for clinc150=/work/encoder-runs/recipes/default-banking77 \
        --out results/rejection_rule_meta_learned.json
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch

from intentmeta.research.benchmark_encoders import (
    cached_table_encoder,
    encoders_per_dataset,
    load_encoder,
)
from intentmeta.research.evaluate_open import load_pool, refuse_fitting_on_test
from intentmeta.research.rule_fitting import FitConfig, fit_rule

DATASETS = ("banking77", "clinc150")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", help="folder of banking77/clinc150")
    parser.add_argument("--encoder", default="default", help="'default', 'layerN' or a model")
    parser.add_argument(
        "--encoder-for",
        action="append",
        default=[],
        metavar="DATA=ENCODER",
        help="this data set's embeddings from ENCODER (one that never saw it)",
    )
    parser.add_argument("--name", help="encoder name recorded in the provenance")
    parser.add_argument("--sets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--split", default="val", help="only 'val' is accepted")
    parser.add_argument("--seeds", type=int, default=5, help="episodes per (data, ratio, K)")
    parser.add_argument("--prior", type=float, default=0.4, help="out-of-scope share weighted")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    refuse_fitting_on_test(args.split, True, "fit_rejection_rule.py")
    torch.manual_seed(0)
    chosen = {name: args.encoder for name in args.sets} | encoders_per_dataset(args.encoder_for)
    pools = {name: load_pool(Path(args.data) / name, "val") for name in args.sets}
    encoders = {name: load_encoder(chosen[name]) for name in args.sets}
    tables = {
        name: cached_table_encoder(encoders[name], pool.texts()) for name, pool in pools.items()
    }
    name = args.name or encoders[args.sets[0]].name
    rule = fit_rule(pools, tables, FitConfig(seeds=args.seeds, prior=args.prior), name)
    if args.encoder_for:  # record which encoder embedded each data set
        rule.provenance["embedded_by"] = {key: encoders[key].name for key in args.sets}
    text = json.dumps(rule.state(), indent=2)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
