"""Leave-one-data-set-out figures of a meta-trained encoder against the off-the-shelf MiniLM.

    python training/evaluate_encoder_transfer.py --data ../shared/data \
        --banking77-encoder RUN_TRAINED_ON_CLINC150 --clinc150-encoder RUN_TRAINED_ON_BANKING77 \
        --setting test --out results/encoder_transfer.json

``--setting test``: each data set's test split, with the encoder trained on the *other* data set
(the script refuses an encoder whose ``training.json`` lists the data set it reports on).
``--setting heldout``: each encoder on the intents its own training run held out (validation:
what the recipe is chosen on). ``--setting validation``: all intents, CLINC150 ``val`` and 30% of
BANKING77's ``train`` rows held out: the off-the-shelf encoder (for choosing classifier options such
as ``+names``) and, when given, the encoder trained on the *other* data set (for choosing the
encoder recipe across data sets, see ``training/choose_encoder_recipe.py``).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from intentmeta.encoder import EncoderConfig, SentenceEncoder
from intentmeta.research.benchmark_encoders import check_never_seen
from intentmeta.research.data import holdout_split, load_dataset
from intentmeta.research.encoder_evaluation import (
    TransferConfig,
    evaluate_encoder,
    heldout_splits,
    paired_differences,
    table,
)
from intentmeta.shipped_encoders import OFF_THE_SHELF

DATASETS = ("banking77", "clinc150")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--banking77-encoder", help="a run trained without BANKING77")
    parser.add_argument("--clinc150-encoder", help="a run trained without CLINC150")
    parser.add_argument("--setting", choices=["test", "heldout", "validation"], default="heldout")
    parser.add_argument("--shots", type=int, nargs="+", default=[5, 10])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--methods", nargs="+", default=TransferConfig().methods)
    parser.add_argument("--out", default="results/encoder_transfer.json")
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--skip-baseline",
        action="store_true",
        help="validation: evaluate only the given encoders, not the off-the-shelf one",
    )
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    torch.set_num_threads(args.threads)
    config = TransferConfig(shots=args.shots, seeds=args.seeds, methods=args.methods)
    runs = {"banking77": args.banking77_encoder, "clinc150": args.clinc150_encoder}
    results: dict[str, dict] = {}
    started = time.time()
    for dataset in DATASETS:
        run = runs[dataset]
        source = str(Path(args.data) / dataset)
        if args.setting == "validation":
            train = load_dataset(source, "train")
            if dataset == "clinc150":
                queries = load_dataset(source, "val")
            else:
                train, queries = holdout_split(train, 0.3)
            name = f"{dataset} validation"
            results[name] = {}
            models = [("off-the-shelf", OFF_THE_SHELF)]
            if run is not None:
                check_never_seen(Path(run), dataset)
                models += [("meta-learned", str(run))]
            for label, model in models[1 if args.skip_baseline else 0 :]:
                encoder = SentenceEncoder(EncoderConfig(model=model))
                results[name][label] = evaluate_encoder(
                    encoder, train, queries, config, args.cache_dir
                )
            continue
        if run is None:
            continue
        run = Path(run)
        if args.setting == "test":
            check_never_seen(run, dataset)
            train, queries = load_dataset(source, "train"), load_dataset(source, "test")
            name = dataset
        else:
            trained_on = json.loads((run / "training.json").read_text())["sources"][0]
            source = str(Path(args.data) / Path(trained_on).name)
            train, queries = heldout_splits(source, run / "training.json")
            name = f"{Path(trained_on).name} held-out"
        results[name] = {}
        for label, model in (("off-the-shelf", OFF_THE_SHELF), ("meta-learned", str(run))):
            encoder = SentenceEncoder(EncoderConfig(model=model))
            results[name][label] = evaluate_encoder(encoder, train, queries, config, args.cache_dir)
            print(
                name,
                label,
                json.dumps(
                    {
                        k: {m: round(v["accuracy"]["mean"], 2) for m, v in row.items()}
                        for k, row in results[name][label].items()
                    }
                ),
                flush=True,
            )
    report = {
        "setting": args.setting,
        "encoders": {k: v for k, v in runs.items() if v},
        "config": config.__dict__,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "seconds": round(time.time() - started, 1),
        "results": results,
        "paired_differences": paired_differences(results, args.shots),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(table(results, args.shots))
    print(f"\nwrote {out} ({report['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
