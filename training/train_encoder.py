"""Meta-train the sentence encoder on episodes and write a Hugging Face model directory.

Usage (one research run; `intentmeta train --encoder` runs the same code):

    python training/train_encoder.py --data ../shared/data/clinc150 --out /tmp/enc-clinc \
        --episodes 100 --n-way 48 --k-shot 2 --n-query 2
"""

from __future__ import annotations

import argparse
import sys

from intentmeta.encoder_training_cli import add_arguments, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
