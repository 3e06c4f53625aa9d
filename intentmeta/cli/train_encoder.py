"""``intentmeta train --encoder``: meta-train the sentence encoder, write a model directory.

Not a command of its own: ``intentmeta train`` hands over here when ``--encoder`` is given.
Options shared with head training (``--episodes``, ``--n-way`` ...) default to the shipped
encoder recipe (:class:`~intentmeta.research.encoder_training.EncoderTrainingConfig`).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

#: Shared options' defaults when training the encoder (the shipped recipe).
ENCODER_DEFAULTS = {
    "episodes": 30,
    "n_way": 48,
    "k_shot": 2,
    "queries": 2,
    "lr": 2e-5,
    "seed": 0,
    "validate_every": 10,
    "patience": 3,
}


def add_encoder_arguments(parser: argparse.ArgumentParser) -> None:
    """Options that only encoder training has."""
    group = parser.add_argument_group("encoder training (with --encoder)")
    add = group.add_argument
    add("--base", default="all-MiniLM-L6-v2", help="model to start from (off-the-shelf MiniLM)")
    add("--temperature", type=float, default=0.05, help="cosine logits are divided by it")
    add("--top-layers", type=int, help="transformer layers that train, from the top (all)")
    add("--train-embeddings", action="store_true", help="train the token embeddings too")
    add("--anchor-weight", type=float, default=0.0, help="L2-SP pull to the original weights")
    add(
        "--interpolations",
        type=float,
        nargs="+",
        default=[0.5, 0.75, 1.0],
        help="fractions of the way to the trained weights tried at the end (the probe picks)",
    )
    add("--max-minutes", type=float, default=0.0, help="wall-clock cap (0: none)")
    add("--scope", choices=["source", "domain"], default="source", help="episodes within")
    add("--probe-domains", type=int, default=2, help="domains held out (sets with domains)")
    add("--probe-fraction", type=float, default=0.2, help="intents held out (other sets)")
    add("--half", action="store_true", help="store float16 weights")


def run_train_encoder(args: argparse.Namespace) -> int:
    """Train, save the model directory, its JSONL log and learning curve; print a summary."""
    from intentmeta.research.encoder_export import load_base, plot_learning_curve, save_encoder
    from intentmeta.research.encoder_training import (
        EncoderTrainingConfig,
        HeldOutProbe,
        train_encoder,
    )
    from intentmeta.research.encoder_training_data import PoolConfig, training_data
    from intentmeta.shipped_encoders import OFF_THE_SHELF, shipped_encoder

    shared = {key: getattr(args, key) for key in ENCODER_DEFAULTS}
    shared = {k: ENCODER_DEFAULTS[k] if v is None else v for k, v in shared.items()}
    config = EncoderTrainingConfig(
        n_way=shared["n_way"],
        k_shot=shared["k_shot"],
        n_query=shared["queries"],
        episodes=shared["episodes"],
        lr=shared["lr"],
        temperature=args.temperature,
        top_layers=args.top_layers,
        train_embeddings=args.train_embeddings,
        anchor_weight=args.anchor_weight,
        interpolations=args.interpolations,
        validate_every=shared["validate_every"],
        patience=shared["patience"],
        max_minutes=args.max_minutes,
        seed=shared["seed"],
        progress=not args.quiet,
    )
    pools = PoolConfig(args.scope, args.probe_domains, args.probe_fraction, shared["seed"])
    data = training_data(args.data, pools)
    if not data.heldout_texts:
        raise ValueError("no held-out intents: early stopping needs some (--probe-*)")
    probe = HeldOutProbe(
        data.heldout_texts,
        data.heldout_labels,
        config.probe_shots,
        config.probe_queries,
        config.probe_seeds,
    )
    shipped = shipped_encoder(args.base)
    base = shipped.tokenizer if shipped and shipped.name == OFF_THE_SHELF else args.base
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
        "probe_start": round(history.probe_accuracy[0], 2),
        "probe_best": round(history.best_probe_accuracy, 2),
        "interpolation": history.interpolation,
        "seconds": history.seconds,
    }
    print(json.dumps(summary))
    return 0
