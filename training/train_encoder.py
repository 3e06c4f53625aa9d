"""Meta-train the sentence encoder on episodes: ``intentmeta train --encoder`` as a script.

python training/train_encoder.py --data ../shared/data/clinc150 --out /tmp/enc-clinc
"""

from __future__ import annotations

import sys

from intentmeta.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "--encoder", *sys.argv[1:]]))
