"""Fit the out-of-scope rule on validation episodes for one encoder, print its JSON state.

    python training/fit_rejection_rule.py --data ../shared/data --encoder default \
        --out results/rejection_rule_default.json

The printed weights are what ``RejectionRule()`` ships for the bundled encoder; a team with
another encoder fits its own and passes it to the classifier. Only validation splits are read:
CLINC150 ``val`` + ``oos_val`` and 30 % of BANKING77's ``train`` rows held out.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch

from intentmeta.research.benchmark_encoders import cached_table_encoder, load_encoder
from intentmeta.research.evaluate_open import load_pool, refuse_fitting_on_test
from intentmeta.research.rule_fitting import FitConfig, fit_rule


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", help="folder of banking77/clinc150")
    parser.add_argument("--encoder", default="default", help="'default' or 'layerN'")
    parser.add_argument("--split", default="val", help="only 'val' is accepted")
    parser.add_argument("--seeds", type=int, default=5, help="episodes per (data, ratio, K)")
    parser.add_argument("--prior", type=float, default=0.4, help="out-of-scope share weighted")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    refuse_fitting_on_test(args.split, True, "fit_rejection_rule.py")
    torch.manual_seed(0)
    encoder = load_encoder(args.encoder)
    pools = {name: load_pool(Path(args.data) / name, "val") for name in ("banking77", "clinc150")}
    tables = {name: cached_table_encoder(encoder, pool.texts()) for name, pool in pools.items()}
    rule = fit_rule(pools, tables, FitConfig(seeds=args.seeds, prior=args.prior), encoder.name)
    text = json.dumps(rule.state(), indent=2)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
