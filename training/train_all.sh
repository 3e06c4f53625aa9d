#!/usr/bin/env bash
# Every meta-training recipe, from the public data sets (`make train`, or: bash training/train_all.sh DATA).
# No recipe beat the parameter-free heads on held-out intents (BENCHMARKS.md, "Meta-training
# transfer"), so nothing is written into intentmeta/weights/: runs land in results/meta_training/.
set -euo pipefail
DATA="${1:-../shared/data}"
OUT="${OUT:-results/meta_training}"
PY="${PY:-.venv/bin/python}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 OMP_NUM_THREADS=1
for head in prototypical matching; do
    echo "== meta-training the $head head -> $OUT/$head"
    "$PY" training/train_heads.py --head "$head" --data "$DATA" --out "$OUT/$head"
done
