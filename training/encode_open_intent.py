"""Fill the embedding cache for the open-intent benchmark.

Without ``--encoder-for``: every BANKING77 and CLINC150 text with two encoders, the off-the-shelf
all-MiniLM-L6-v2 and the same model cut after ``--layer`` layers
(``intentmeta.research.benchmark_encoders.LayerEncoder``), a second geometry of cosine
similarities for checking that the rejection rule is not tied to one encoder.

With ``--encoder-for DATA=DIR`` (repeatable): the texts of DATA's ``--splits`` pools (``val``
first, to fit and choose on; ``test`` once the choice is made) with the encoder DIR, which must
never have seen DATA (leave-one-data-set-out: a CLINC150-trained encoder for BANKING77)::

    python training/encode_open_intent.py --splits val \
        --encoder-for banking77=/work/encoder-runs/recipes/default-clinc150 \
        --encoder-for clinc150=/work/encoder-runs/recipes/default-banking77
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from intentmeta.research.benchmark_encoders import (
    LayerEncoder,
    encoders_per_dataset,
    load_encoder,
    off_the_shelf_encoder,
)
from intentmeta.research.embedding_cache import cached_encode
from intentmeta.research.evaluate_open import load_pool

CHUNK = 1000  # texts encoded (and stored in the cache) at a time


def all_texts(data: Path) -> list[str]:
    clinc = json.loads((data / "clinc150" / "data_full.json").read_text())
    texts = [t for items in clinc.values() for t, _ in items]
    import csv

    for split in ("train", "test"):
        with (data / "banking77" / f"{split}.csv").open(newline="") as handle:
            texts += [row["text"] for row in csv.DictReader(handle)]
    return list(dict.fromkeys(texts))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--layer", type=int, default=3)
    parser.add_argument("--encoder-for", action="append", default=[], metavar="DATA=ENCODER")
    parser.add_argument("--splits", nargs="+", default=["val", "test"], choices=["val", "test"])
    args = parser.parse_args()
    if args.encoder_for:
        for dataset, name in encoders_per_dataset(args.encoder_for).items():
            pools = [load_pool(Path(args.data) / dataset, split) for split in args.splits]
            texts = list(dict.fromkeys(t for pool in pools for t in pool.texts()))
            print(f"{dataset}: {len(texts)} texts with {name}", flush=True)
            encoder = load_encoder(name)
            for start in range(0, len(texts), CHUNK):  # stored chunk by chunk: safe to stop
                cached_encode(encoder, texts[start : start + CHUNK], progress=True)
        return
    encoder = off_the_shelf_encoder()
    texts = all_texts(Path(args.data))
    cached_encode(encoder, texts, progress=True)
    cached_encode(LayerEncoder(args.layer, encoder), texts, progress=True)


if __name__ == "__main__":
    main()
