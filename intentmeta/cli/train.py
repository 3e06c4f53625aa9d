"""``intentmeta train``: meta-train a head on episodes, or with ``--encoder`` the encoder itself."""

from __future__ import annotations

import argparse

from intentmeta.cli.train_encoder import add_encoder_arguments, run_train_encoder

ORDER = 50


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``train``."""
    add_train_arguments(
        commands.add_parser("train", help="meta-train a head (or, with --encoder, the encoder)")
    )


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``intentmeta train``; defaults are those of ``TrainConfig``."""
    parser.add_argument(
        "--encoder",
        action="store_true",
        help="meta-train the sentence encoder itself and write a Hugging Face model directory",
    )
    parser.add_argument(
        "--data",
        action="append",
        required=True,
        help="training data set (its train split); repeatable with --encoder",
    )
    parser.add_argument("--out", required=True, help="directory for weights, log and curves")
    parser.add_argument("--head", choices=["prototypical", "matching"], default="prototypical")
    # Shared with --encoder, whose defaults differ: None means "the chosen mode's default".
    parser.add_argument("--episodes", type=int, help="maximum training episodes (1000)")
    parser.add_argument("--n-way", type=int, help="intents per episode (20)")
    parser.add_argument("--k-shot", type=int, help="support examples per intent (5)")
    parser.add_argument("--queries", type=int, help="queries per intent and episode (5)")
    parser.add_argument("--lr", type=float, help="Adam learning rate (1e-3)")
    parser.add_argument("--weight-decay", type=float, default=0.0, help="Adam weight decay")
    parser.add_argument(
        "--identity-weight", type=float, default=1.0, help="pull of the projection to identity"
    )
    parser.add_argument("--noise", type=float, default=0.0, help="embedding noise norm")
    parser.add_argument("--diagonal", action="store_true", help="train a diagonal projection")
    parser.add_argument("--context-steps", type=int, default=0, help="matching: context steps")
    parser.add_argument("--seed", type=int, help="seed of episodes and noise (0)")
    parser.add_argument("--validation-data", help="separate data set of validation intents")
    parser.add_argument(
        "--validation-domains", help="comma-separated CLINC150 domains that validate"
    )
    parser.add_argument(
        "--holdout-domains", help="comma-separated domains left out entirely (for testing)"
    )
    parser.add_argument(
        "--validation-fraction",
        type=float,
        default=0.2,
        help="share of intents held out to validate when no domains/data are given",
    )
    parser.add_argument("--validate-every", type=int, help="episodes per validation (50)")
    parser.add_argument("--patience", type=int, help="validations without progress (5)")
    parser.add_argument("--cache-dir", help="embedding cache (default: ~/.cache/intentmeta)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_encoder_arguments(parser)
    parser.set_defaults(func=run_train)


#: Defaults of the options shared with ``--encoder`` when a head is trained.
HEAD_DEFAULTS = {
    "episodes": 1000,
    "n_way": 20,
    "k_shot": 5,
    "queries": 5,
    "lr": 1e-3,
    "seed": 0,
    "validate_every": 50,
    "patience": 5,
}


def run_train(args: argparse.Namespace) -> int:
    """Encode (cached) data, meta-train, write the run directory."""
    if args.encoder:
        return run_train_encoder(args)
    if len(args.data) != 1:
        raise ValueError("a head trains on one --data set (several only with --encoder)")
    args.data = args.data[0]
    for key, default in HEAD_DEFAULTS.items():
        if getattr(args, key) is None:
            setattr(args, key, default)
    from intentmeta.research.meta_training import TrainConfig, train_head, write_run
    from intentmeta.research.meta_training_data import training_arrays

    config = TrainConfig(
        head=args.head,
        n_way=args.n_way,
        k_shot=args.k_shot,
        n_query=args.queries,
        episodes=args.episodes,
        lr=args.lr,
        weight_decay=args.weight_decay,
        identity_weight=args.identity_weight,
        embedding_noise=args.noise,
        diagonal=args.diagonal,
        context_steps=args.context_steps,
        validate_every=args.validate_every,
        patience=args.patience,
        seed=args.seed,
        progress=not args.quiet,
    )
    train, validation, facts = training_arrays(args)
    head, history = train_head(*train, config, validation=validation)
    out = write_run(head, history, config, args.out, **facts)
    print(
        f"kept episode {history.best_step} of {history.steps[-1] if history.steps else 0} "
        f"(validation accuracy {history.best_validation_accuracy:.4f}); wrote {out}"
    )
    return 0
