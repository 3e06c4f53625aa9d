"""Fill the embedding cache for the open-intent benchmark: every BANKING77 and CLINC150 text.

Two encoders: the bundled all-MiniLM-L6-v2 (what ``IntentClassifier()`` uses) and the same model
cut after ``--layer`` layers (``intentmeta.evaluate_open.LayerEncoder``), a second geometry of
cosine similarities for checking that the rejection rule is not tied to one encoder.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from intentmeta.research.benchmark_encoders import LayerEncoder, off_the_shelf_encoder
from intentmeta.research.embedding_cache import cached_encode


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
    args = parser.parse_args()
    encoder = off_the_shelf_encoder()
    texts = all_texts(Path(args.data))
    cached_encode(encoder, texts, progress=True)
    cached_encode(LayerEncoder(args.layer, encoder), texts, progress=True)


if __name__ == "__main__":
    main()
