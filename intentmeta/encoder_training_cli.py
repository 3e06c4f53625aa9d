"""``intentmeta train --encoder``: the command-line face of encoder meta-training."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from intentmeta.encoder_training import EncoderTrainingConfig, HeldOutProbe, train_encoder
from intentmeta.encoder_training_data import PoolConfig, training_data

_RECIPE = EncoderTrainingConfig()
_POOLS = PoolConfig()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of an encoder training run; defaults are the shipped recipe."""
    add = parser.add_argument
    add("--data", action="append", required=True, help="a training source (repeatable)")
    add("--out", required=True, help="directory for the Hugging Face model")
    add("--base", default="default", help="model to start from (default: bundled MiniLM)")
    add("--episodes", type=int, default=_RECIPE.episodes)
    add("--n-way", type=int, default=_RECIPE.n_way)
    add("--k-shot", type=int, default=_RECIPE.k_shot)
    add("--n-query", type=int, default=_RECIPE.n_query)
    add("--lr", type=float, default=_RECIPE.lr)
    add("--temperature", type=float, default=_RECIPE.temperature)
    add("--top-layers", type=int, default=_RECIPE.top_layers)
    add("--train-embeddings", action="store_true")
    add("--anchor-weight", type=float, default=_RECIPE.anchor_weight)
    add("--interpolations", type=float, nargs="+", default=_RECIPE.interpolations)
    add("--validate-every", type=int, default=_RECIPE.validate_every)
    add("--patience", type=int, default=_RECIPE.patience)
    add("--max-minutes", type=float, default=_RECIPE.max_minutes)
    add("--scope", choices=["source", "domain"], default=_POOLS.scope)
    add("--holdout-domains", type=int, default=_POOLS.holdout_domains)
    add("--holdout-fraction", type=float, default=_POOLS.holdout_fraction)
    add("--seed", type=int, default=_RECIPE.seed)
    add("--half", action="store_true", help="store float16 weights")
    add("--quiet", action="store_true")


def run(args: argparse.Namespace) -> int:
    """Train, save the model directory, its JSONL log and learning curve; print a summary."""
    from intentmeta.encoder import bundled_model_dir
    from intentmeta.encoder_export import load_base, plot_learning_curve, save_encoder

    config = EncoderTrainingConfig(
        n_way=args.n_way,
        k_shot=args.k_shot,
        n_query=args.n_query,
        episodes=args.episodes,
        lr=args.lr,
        temperature=args.temperature,
        top_layers=args.top_layers,
        train_embeddings=args.train_embeddings,
        anchor_weight=args.anchor_weight,
        interpolations=args.interpolations,
        validate_every=args.validate_every,
        patience=args.patience,
        max_minutes=args.max_minutes,
        seed=args.seed,
        progress=not args.quiet,
    )
    pools = PoolConfig(args.scope, args.holdout_domains, args.holdout_fraction, args.seed)
    data = training_data(args.data, pools)
    if not data.heldout_texts:
        raise SystemExit("no held-out intents: early stopping needs some (see --holdout-*)")
    probe = HeldOutProbe(
        data.heldout_texts,
        data.heldout_labels,
        config.probe_shots,
        config.probe_queries,
        config.probe_seeds,
    )
    base = bundled_model_dir() if args.base == "default" else args.base
    model, tokenizer = load_base(base)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    history = train_encoder(model, tokenizer, data.pools, probe, config, out / "training_log.jsonl")
    metadata = {
        "base": args.base,
        "sources": [str(source) for source in args.data],
        "pools": [
            {"name": p.name, "intents": len(p.intents), "rows": len(p.texts)} for p in data.pools
        ],
        "heldout_intents": probe.n_intents,
        "pool_config": asdict(pools),
        "recipe": asdict(config),
        "history": {k: v for k, v in asdict(history).items() if k not in ("loss", "accuracy")},
    }
    save_encoder(model, base, out, metadata, half=args.half)
    plot_learning_curve(history, out / "learning_curve.png")
    summary = {
        "out": str(out),
        "best_episode": history.best_episode,
        "probe_start": history.probe_accuracy[0],
        "probe_best": history.best_probe_accuracy,
        "interpolation": history.interpolation,
        "seconds": history.seconds,
    }
    print(json.dumps(summary))
    return 0
