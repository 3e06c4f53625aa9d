"""Does a meta-trained head transfer? Full-class K-shot accuracy, trained versus untrained.

Uses the evaluation issue's protocol (:func:`intentmeta.research.episodes.sample_k_shot` support
sets, seeds ``0..seeds-1``, the whole evaluation split as queries, mean ± 95% Student-t interval) so
the figures line up with the "Few-shot accuracy" section of BENCHMARKS.md.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch

from intentmeta.heads import FewShotHead
from intentmeta.research.evaluate import logistic_regression
from intentmeta.research.meta_training import TrainConfig, fresh_copy
from intentmeta.research.statistics import summary


def head_predictions(
    head: FewShotHead, support: torch.Tensor, labels: torch.Tensor, queries: torch.Tensor
) -> torch.Tensor:
    """Labels a fresh copy of ``head`` predicts for ``queries`` given a support set."""
    fresh = fresh_copy(head)
    with torch.inference_mode():
        fresh.process_support_set(support, labels)
        return fresh.classes[fresh(queries).argmax(dim=1)]  # (n_query,)


def compare_heads(
    heads: dict[str, FewShotHead],
    pool: tuple[torch.Tensor, Sequence[str]],
    evaluation: tuple[torch.Tensor, Sequence[str]],
    shots: Sequence[int] = (5, 10),
    seeds: int = 5,
    logistic: bool = True,
) -> dict[str, dict[str, dict]]:
    """Full-class K-shot accuracy (%) of several heads and logistic regression.

    Args:
        heads: Name -> head (trained or parameter-free) to compare.
        pool: ``(embeddings (n, dim), intents)`` the K-shot support sets are drawn from.
        evaluation: ``(embeddings (m, dim), intents)`` classified in full.
        shots: Values of K.
        seeds: Support sets per K.
        logistic: Also report logistic regression on the same support sets.

    Returns:
        ``{str(K): {method: {"mean", "ci95", "values"}}}``.
    """
    from intentmeta.research.episodes import sample_k_shot

    pool_x, pool_intents = pool
    queries, query_intents = evaluation
    column = {intent: c for c, intent in enumerate(sorted(set(pool_intents)))}
    pool_y = torch.tensor([column[i] for i in pool_intents])  # (n,)
    keep = [j for j, intent in enumerate(query_intents) if intent in column]
    queries = queries[keep]  # (m, dim)
    truth = torch.tensor([column[query_intents[j]] for j in keep])  # (m,)
    results: dict[str, dict[str, dict]] = {}
    for k in shots:
        scores: dict[str, list[float]] = {}
        for seed in range(seeds):
            rows = torch.tensor(sample_k_shot(pool_intents, k, seed))
            support, labels = pool_x[rows], pool_y[rows]
            predicted = {n: head_predictions(h, support, labels, queries) for n, h in heads.items()}
            if logistic:
                predicted["logistic_regression"] = logistic_regression(
                    support, labels, queries, len(column)
                )
            for name, labels_out in predicted.items():
                accuracy = 100 * (labels_out == truth).float().mean().item()
                scores.setdefault(name, []).append(accuracy)
        results[str(k)] = {name: summary(values) for name, values in scores.items()}
    return results


def format_comparison(results: dict[str, dict[str, dict]], title: str) -> str:
    """A Markdown table: one row per method, one column per K, ``mean ± ci95``.

    When a meta-trained and a parameter-free head are both present, a last row gives their
    paired difference (same support sets), the figure that decides whether training helps.
    """
    shots = list(results)
    methods = list(results[shots[0]])
    lines = [
        f"| {title} | " + " | ".join(f"{k}-shot" for k in shots) + " |",
        "| --- | " + " | ".join("---" for _ in shots) + " |",
    ]
    for method in methods:
        cells = [_cell(results[k][method]) for k in shots]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    trained = [m for m in methods if m.endswith("meta-trained")]
    untrained = [m for m in methods if m.endswith("parameter-free")]
    if trained and untrained:
        differences = [
            paired_difference(results[k][trained[0]], results[k][untrained[0]]) for k in shots
        ]
        cells = [_cell(difference, "+") for difference in differences]
        lines.append("| difference (paired) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def paired_difference(a: dict, b: dict) -> dict:
    """Mean ± 95% CI of ``a - b`` over seeds, both measured on the same support sets.

    >>> paired_difference({"values": [80.0, 82.0]}, {"values": [79.0, 80.0]})["mean"]
    1.5
    """
    return summary([x - y for x, y in zip(a["values"], b["values"], strict=True)])


def _cell(values: dict, sign: str = "") -> str:
    half = values["ci95"]
    return f"{values['mean']:{sign}.2f}" + ("" if half is None else f" ± {half:.2f}")


def transfer_experiment(
    config: TrainConfig,
    data_dir: str | Path,
    out: str | Path,
    validation_domains: Sequence[str],
    holdout_domains: Sequence[str],
    seeds: int = 5,
    cache_dir: str | None = None,
) -> dict:
    """Meta-train on CLINC150, then measure transfer to BANKING77 and held-out CLINC150 domains.

    Training uses CLINC150's training intents minus ``validation_domains`` (early stopping) and
    ``holdout_domains`` (test). Writes the run to ``out`` (weights, log, curves) plus
    ``transfer.json`` and ``transfer.md``.

    Args:
        config: The training recipe.
        data_dir: Directory holding ``clinc150/`` and ``banking77/``.
        out: Output directory.
        validation_domains: CLINC150 domains that validate.
        holdout_domains: CLINC150 domains kept for the test.
        seeds: Support sets per K.
        cache_dir: Embedding cache.

    Returns:
        ``{"banking77": results, "clinc150_holdout": results, "history": ...}``.
    """
    from intentmeta.heads import HeadConfig, build_head
    from intentmeta.research.data import load_dataset
    from intentmeta.research.meta_training import train_head, write_run
    from intentmeta.research.meta_training_data import domain_intents, encode_dataset, split_intents

    data_dir, out = Path(data_dir), Path(out)
    clinc_dir, banking_dir = data_dir / "clinc150", data_dir / "banking77"
    clinc = load_dataset(clinc_dir, "train")
    train_intents, validation_intents = split_intents(
        clinc, str(clinc_dir), validation_domains, holdout_domains
    )
    train = encode_dataset(clinc.subset(intents=train_intents), cache_dir)
    validation = encode_dataset(clinc.subset(intents=validation_intents), cache_dir)
    head, history = train_head(*train, config, validation=validation)
    write_run(
        head,
        history,
        config,
        out,
        data=str(clinc_dir),
        validation_domains=list(validation_domains),
        holdout_domains=list(holdout_domains),
    )
    heads = {
        f"{config.head} meta-trained": head,
        f"{config.head} parameter-free": build_head(config.head, HeadConfig(dim=head.config.dim)),
    }
    holdout = domain_intents(str(clinc_dir), holdout_domains)
    sets = {
        "banking77": (load_dataset(banking_dir, "train"), load_dataset(banking_dir, "test")),
        "clinc150_holdout": (
            clinc.subset(intents=holdout),
            load_dataset(clinc_dir, "test").subset(intents=holdout),
        ),
    }
    last_step = history.steps[-1] if history.steps else 0
    report = {
        "kept_step": history.best_step if config.keep_best else last_step,
        "best_step": history.best_step,
        "stopped_early": history.stopped_early,
    }
    tables = []
    for name, (pool, evaluation) in sets.items():
        pool_x, evaluation_x = (
            encode_dataset(pool, cache_dir)[0],
            encode_dataset(evaluation, cache_dir)[0],
        )
        report[name] = compare_heads(
            heads, (pool_x, pool.labels), (evaluation_x, evaluation.labels), seeds=seeds
        )
        tables.append(format_comparison(report[name], name))
    (out / "transfer.json").write_text(json.dumps(report, indent=2))
    (out / "transfer.md").write_text("\n\n".join(tables) + "\n")
    return report


def recipe_main(
    recipes: dict[str, TrainConfig],
    validation_domains: Sequence[str],
    holdout_domains: Sequence[str],
    description: str,
) -> None:
    """Command line of a ``training/`` recipe script: ``--head``, ``--data``, ``--out``.

    Args:
        recipes: Head kind -> its training settings.
        validation_domains: CLINC150 domains for early stopping.
        holdout_domains: CLINC150 domains for the test.
        description: The script's one-line help.
    """
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--head", choices=sorted(recipes), required=True)
    parser.add_argument("--data", default="../shared/data", help="holds clinc150/ and banking77/")
    parser.add_argument("--out", help="run directory (default: results/meta_training/HEAD)")
    parser.add_argument("--cache-dir", help="embedding cache (default: ~/.cache/intentmeta)")
    args = parser.parse_args()
    out = args.out or f"results/meta_training/{args.head}"
    torch.set_num_threads(1)  # small matrices: one thread is as fast and leaves a core free
    report = transfer_experiment(
        recipes[args.head],
        args.data,
        out,
        validation_domains,
        holdout_domains,
        cache_dir=args.cache_dir,
    )
    print(f"kept episode {report['kept_step']} (0 = the untrained head); in {out}:")
    print((Path(out) / "transfer.md").read_text())


def sweep_table(reports: dict[str, dict]) -> str:
    """One Markdown row per training run: the trained head's accuracy on each test, mean ± CI.

    Args:
        reports: Run name -> the report of :func:`transfer_experiment`.
    """
    columns = [(s, k) for s in ("banking77", "clinc150_holdout") for k in ("5", "10")]
    header = " | ".join(f"{s} {k}-shot" for s, k in columns)
    lines = [f"| run | kept episode | {header} |", "| --- | --- |" + " --- |" * len(columns)]
    for name, report in reports.items():
        method = next(m for m in report["banking77"]["5"] if m.endswith("meta-trained"))
        cells = [report[s][k][method] for s, k in columns]
        row = " | ".join(f"{c['mean']:.2f} ± {c['ci95']:.2f}" for c in cells)
        lines.append(f"| {name} | {report['kept_step']} | {row} |")
    return "\n".join(lines)
