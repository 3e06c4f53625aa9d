"""``intentmeta eval``: few-shot accuracy on a data set, or out-of-scope rejection on CLINC150."""

from __future__ import annotations

import argparse
from pathlib import Path

from intentmeta.rule_provenance import warn_once_per_run

ORDER = 40


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``eval``."""
    add_eval_arguments(commands.add_parser("eval", help="few-shot accuracy on a data set"))


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``intentmeta eval``."""
    parser.add_argument("--data", required=True, help="data set directory, file or Hub name")
    parser.add_argument("--out", default="results", help="directory for JSON and plots")
    parser.add_argument(
        "--shots", type=int, nargs="+", default=[1, 5, 10, 20], help="K per intent (full-class)"
    )
    parser.add_argument("--seeds", type=int, default=5, help="support sets drawn per K")
    parser.add_argument("--episodes", type=int, default=600, help="episodes per episodic setting")
    parser.add_argument("--ways", type=int, default=5, help="classes per episode")
    parser.add_argument(
        "--episode-shots", type=int, nargs="*", default=[1, 5], help="K of the episodes"
    )
    parser.add_argument("--queries", type=int, default=15, help="queries per class and episode")
    parser.add_argument(
        "--methods",
        nargs="+",
        default=[
            *("nearest_neighbour", "logistic_regression", "prototypical", "matching"),
            *("default", "default+names"),
        ],
        help="methods compared (<method>+names: with each intent's name as one more example)",
    )
    parser.add_argument("--split", default="test", help="evaluation split (test, val)")
    parser.add_argument(
        "--validation",
        type=float,
        metavar="FRACTION",
        help="evaluate on this fraction of train held out (for choosing settings)",
    )
    parser.add_argument("--encoder", default="default", help="encoder model name or path")
    parser.add_argument("--cache-dir", help="embedding cache (default: ~/.cache/intentmeta)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "--oos",
        action="store_true",
        help="CLINC150 out-of-scope rejection and calibration instead (one --shots K, default 10)",
    )
    parser.add_argument(
        "--discovery",
        action="store_true",
        help="intent discovery instead: NMI / ARI / ACC of the groups (TEXTOIR protocol)",
    )
    parser.add_argument(
        "--mislabels",
        action="store_true",
        help="mislabel detection instead: flip 10%% of a 10-shot registry's intents",
    )
    parser.add_argument(
        "--fit-confidence",
        action="store_true",
        help="with --oos: also refit the out-of-scope rule on val (refused with --split test)",
    )
    parser.add_argument(
        "--open",
        action="store_true",
        help="open-intent benchmark: some intents known, the others out of scope, vs baselines",
    )
    parser.add_argument(
        "--ratios",
        type=float,
        nargs="+",
        default=[0.25, 0.5, 0.75],
        help="with --open: shares of intents known",
    )
    parser.add_argument("--no-baselines", action="store_true", help="with --open: ours only")
    parser.set_defaults(func=run_eval)


@warn_once_per_run()
def run_eval(args: argparse.Namespace) -> int:
    """Dispatch to the few-shot, out-of-scope, open-intent, discovery or mislabel evaluation."""
    from intentmeta.research.evaluate_open import refuse_fitting_on_test

    refuse_fitting_on_test(args.split, args.fit_confidence)
    if args.open:
        return run_open(args)
    if args.oos:
        return run_out_of_scope(args)
    if args.discovery:
        from intentmeta.research.evaluate_discovery import run_from_cli

        return run_from_cli(args)
    if args.mislabels:
        from intentmeta.research.evaluate_mislabels import run_from_cli

        return run_from_cli(args)
    from intentmeta.research.evaluate import EvalConfig, evaluate
    from intentmeta.research.evaluate_report import format_table, plot_accuracy, save_results

    config = EvalConfig(
        shots=args.shots,
        seeds=args.seeds,
        episodes=args.episodes,
        n_way=args.ways,
        episode_shots=args.episode_shots,
        n_query=args.queries,
        methods=args.methods,
        split=args.split,
        validation=args.validation,
    )
    encoder = None
    if args.encoder != "default":
        from intentmeta.encoder import EncoderConfig, shared_encoder

        encoder = shared_encoder(EncoderConfig(model=args.encoder))
    results = evaluate(args.data, config, encoder, args.cache_dir, progress=not args.quiet)
    print(format_table(results))
    json_path = save_results(results, args.out)
    plot_path = plot_accuracy([results], json_path.with_suffix(".png"))
    print(f"\nwrote {json_path} and {plot_path}")
    return 0


def run_out_of_scope(args: argparse.Namespace) -> int:
    """``intentmeta eval --oos``: one K (``--shots K``, default 10) on CLINC150."""
    from intentmeta.research.evaluate_oos import OosConfig, evaluate_out_of_scope, format_record

    shots = args.shots[0] if len(args.shots) == 1 else OosConfig.shots
    config = OosConfig(args.split, shots, args.seeds)
    cache = Path(args.cache_dir) / "clinc150_oos" if args.cache_dir else None
    record = evaluate_out_of_scope(args.data, config, cache, args.out, fit=args.fit_confidence)
    print(format_record(record))
    return 0


def run_open(args: argparse.Namespace) -> int:
    """``intentmeta eval --open``: the open-intent grid on one data set folder."""
    import json

    from intentmeta.research.evaluate_open import OpenConfig, evaluate_open
    from intentmeta.research.evaluate_open_report import format_open_table

    shots = [3, 5, 10, 20] if args.shots == [1, 5, 10, 20] else args.shots
    config = OpenConfig(
        split=args.split,
        ratios=args.ratios,
        shots=shots,
        seeds=args.seeds,
        baselines=not args.no_baselines,
        encoder=args.encoder,
    )
    record = evaluate_open(args.data, config, args.cache_dir, progress=not args.quiet)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"open_{record['data']}_{args.encoder}_{args.split}.json"
    path.write_text(json.dumps(record, indent=2))
    print(format_open_table(record))
    print(f"\nwrote {path}")
    return 0
