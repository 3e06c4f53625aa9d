"""Does adapting the prototypes in blocks of neighbouring classes keep what full adaptation buys?

Past ``AdaptationConfig.max_work`` (about 220 intents of 10 examples) the default head adapts
blocks of neighbouring intents separately. No public set has thousands of intents, so this
forces blocks on CLINC150's *validation* split (150 intents) with a smaller budget and compares
10-shot accuracy of the default classifier: adapted as one block, adapted in blocks, and not
adapted. Validation only: nothing here touches a test split.

    python training/validate_block_adaptation.py --data ../shared/data
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from intentmeta.config import default_head_config
from intentmeta.heads import build_head
from intentmeta.research.benchmark_encoders import off_the_shelf_encoder
from intentmeta.research.data import load_dataset
from intentmeta.research.embedding_cache import cached_encode
from intentmeta.research.episodes import sample_k_shot


def accuracy(support, labels, queries, truth, **settings) -> tuple[float, int]:
    """10-shot accuracy (%) of the default head with some settings replaced; and its blocks."""
    config = dataclasses.replace(default_head_config("prototypical"), **settings)
    head = build_head("prototypical", config).eval()
    head.process_support_set(support, labels)
    with torch.inference_mode():
        predicted = head.classes[head(queries).argmax(dim=1)]
    blocks = head.adaptation.blocks if head.adaptation is not None else 0
    return 100 * float((predicted == truth).float().mean()), blocks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    encoder = off_the_shelf_encoder()
    train = load_dataset(f"{args.data}/clinc150", "train")
    val = load_dataset(f"{args.data}/clinc150", "val")
    intents = sorted(set(train.labels))
    column = {name: c for c, name in enumerate(intents)}
    train_x = cached_encode(encoder, train.texts, None, False)
    keep = [i for i, label in enumerate(val.labels) if label in column]
    val_x = cached_encode(encoder, val.texts, None, False)[keep]
    truth = torch.tensor([column[val.labels[i]] for i in keep])
    pool_y = torch.tensor([column[label] for label in train.labels])
    variants = {
        "one block (default at 150 intents)": {},
        "blocks of <= 40 intents": {"adapt_max_work": 3e9},
        "blocks of <= 20 intents": {"adapt_max_work": 8e8},
        "not adapted": {"adapt_steps": 0},
    }
    results = {name: [] for name in variants}
    blocks = {}
    for seed in range(args.seeds):
        rows = torch.tensor(sample_k_shot(train.labels, 10, seed))
        for name, settings in variants.items():
            value, blocks[name] = accuracy(train_x[rows], pool_y[rows], val_x, truth, **settings)
            results[name].append(value)
    print(f"CLINC150 val, 10-shot, {args.seeds} seeds, default head (accuracy %, mean):")
    for name, values in results.items():
        print(f"  {name:36s} {statistics.mean(values):6.2f}  ({blocks[name]} blocks)")


if __name__ == "__main__":
    main()
