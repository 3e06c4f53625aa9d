"""Open-intent benchmark grid (issue 18): tables for BENCHMARKS.md, JSON records in results/.

    python training/evaluate_open_intent.py --data ../shared/data --out results/open

Runs ``intentmeta.research.evaluate_open`` on BANKING77 and CLINC150 (plus CLINC150's own
out-of-scope split) for each encoder and head asked, and writes one Markdown table per run.
Embeddings come from the on-disk cache (``training/encode_open_intent.py`` fills it).

``--encoder-for DATA=DIR`` embeds one data set with its own encoder (leave-one-data-set-out: the
CLINC150-trained run for BANKING77, the BANKING77-trained one for CLINC150; an encoder whose
``training.json`` lists the data set is refused). ``--rule`` takes a refitted rule's JSON or the
name of an encoder whose shipped rule to use (``RejectionRule.for_encoder``).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch

from intentmeta.research.benchmark_encoders import encoders_per_dataset
from intentmeta.research.evaluate_open import OpenConfig, evaluate_open
from intentmeta.research.evaluate_open_report import (
    format_open_table,
    robustness_table,
    rule_comparison_table,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", help="folder of banking77/clinc150")
    parser.add_argument("--sets", nargs="+", default=["banking77", "clinc150"])
    parser.add_argument("--split", default="test", choices=["val", "test"])
    parser.add_argument("--ratios", type=float, nargs="+", default=[0.25, 0.5, 0.75])
    parser.add_argument("--shots", type=int, nargs="+", default=[3, 5, 10, 20])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--encoders", nargs="+", default=["default"], help="default, layerN")
    parser.add_argument("--encoder-for", action="append", default=[], metavar="DATA=ENCODER")
    parser.add_argument("--heads", nargs="+", default=["prototypical"])
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--no-oos", action="store_true", help="skip CLINC150's own oos split")
    parser.add_argument("--rule", help="JSON of a refitted rule, or an encoder name")
    parser.add_argument(
        "--shift",
        type=float,
        help="research: add this to the out-of-scope log-odds (a stated share s moves them by "
        "logit(s) - logit(0.4)); the --tag names the run",
    )
    parser.add_argument("--tag", default="", help="added to the output files' names")
    parser.add_argument("--out", default="results/open")
    parser.add_argument(
        "--summarise", metavar="DIR", help="only print the robustness table of DIR/**/*.json"
    )
    parser.add_argument(
        "--compare",
        nargs=2,
        metavar=("BEFORE", "AFTER"),
        help="only print intentmeta's figures of two sets of records (comma-separated globs)",
    )
    args = parser.parse_args()
    if args.compare:
        before, after = (
            [
                json.loads(Path(p).read_text())
                for g in globs.split(",")
                for p in sorted(glob.glob(g))
            ]
            for globs in args.compare
        )
        print(rule_comparison_table(before, after))
        return
    if args.summarise:
        records = [
            json.loads(p.read_text()) for p in sorted(Path(args.summarise).glob("**/*.json"))
        ]
        print(robustness_table(records, {"banking77": 77, "clinc150": 150}))
        return
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    per_dataset = encoders_per_dataset(args.encoder_for)
    for default_encoder in args.encoders:
        for head in args.heads:
            for name in args.sets:
                encoder = per_dataset.get(name, default_encoder)
                config = OpenConfig(
                    split=args.split,
                    ratios=args.ratios,
                    shots=args.shots,
                    seeds=args.seeds,
                    with_oos=not args.no_oos,
                    baselines=not args.no_baselines,
                    head=head,
                    encoder=encoder,
                    rule=args.rule,
                    adjustment=None if args.shift is None else (1.0, args.shift),
                )
                record = evaluate_open(Path(args.data) / name, config)
                refit = "_refit" if args.rule else ""
                label = Path(encoder).name if Path(encoder).is_dir() else encoder
                stem = f"open_{name}_{label}{refit}{args.tag}_{head}_{args.split}"
                (out / f"{stem}.json").write_text(json.dumps(record, indent=2))
                table = format_open_table(record)
                rule = f", rule {args.rule}" if args.rule else ""
                header = (
                    f"{name}, encoder {record['encoder']}{rule}, head {head}, split {args.split}, "
                    f"{args.seeds} seeds, {record['machine']}, {record['date']}, "
                    f"{record['seconds']} s"
                )
                (out / f"{stem}.md").write_text(f"{header}\n\n{table}\n")
                print(f"{header}\n\n{table}\n", flush=True)


if __name__ == "__main__":
    main()
