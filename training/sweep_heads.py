"""Which meta-training settings transfer? Train each variant, test each on unseen intents.

Every run trains on the same 6 CLINC150 domains, validates on 2 and is tested on BANKING77 and
the 2 held-out CLINC150 domains (see ``training/train_heads.py``). Writes one run directory per
variant and ``sweep.md`` under ``--out``. Not part of ``make train``: it ships nothing.

    python training/sweep_heads.py --data ../shared/data --out results/meta_training/sweep
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from intentmeta.research.meta_training import TrainConfig
from intentmeta.research.meta_training_eval import sweep_table, transfer_experiment

VALIDATION_DOMAINS = ["utility", "work"]
HOLDOUT_DOMAINS = ["travel", "kitchen_and_dining"]

VARIANTS = {
    "prototypical, naive (no pull, no early stopping, last weights)": TrainConfig(
        identity_weight=0.0, episodes=2000, patience=0, keep_best=False
    ),
    "prototypical, no pull, early stopping": TrainConfig(identity_weight=0.0),
    "prototypical, pull 1.0, 20-way": TrainConfig(identity_weight=1.0),
    "prototypical, pull 0.1, 50-way (recipe)": TrainConfig(n_way=50, identity_weight=0.1),
    "prototypical, pull 0.1, noise 0.5": TrainConfig(identity_weight=0.1, embedding_noise=0.5),
    "prototypical, diagonal only, lr 1e-2": TrainConfig(
        diagonal=True, identity_weight=0.0, lr=1e-2
    ),
    "matching, pull 0.1, 20-way (recipe)": TrainConfig(head="matching", identity_weight=0.1),
    "matching, full context (1 step)": TrainConfig(
        head="matching", identity_weight=0.1, context_steps=1, episodes=600
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--out", default="results/meta_training/sweep")
    parser.add_argument("--cache-dir", help="embedding cache (default: ~/.cache/intentmeta)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    reports = {}
    for number, (name, config) in enumerate(VARIANTS.items()):
        config.progress = False
        print(f"== {name}", flush=True)
        reports[name] = transfer_experiment(
            config, args.data, Path(args.out) / f"run{number}", VALIDATION_DOMAINS,
            HOLDOUT_DOMAINS, cache_dir=args.cache_dir,
        )  # fmt: skip
    table = sweep_table(reports)
    (Path(args.out) / "sweep.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
