"""Intent discovery measured with the TEXTOIR protocol: NMI, ARI and ACC on a whole split.

The evaluation split's messages (BANKING77 or CLINC150 test, in-scope only) are grouped and the
groups compared with the true intents:

* **unsupervised**: no known intent; the number of groups given (the true K) or estimated;
* **semi-supervised**: a share of the intents (25 / 50 / 75 %) known from 10 training examples
  each, through an :class:`~intentmeta.IntentClassifier`; ``discover()`` assigns the messages that
  clearly fit them and groups the rest into K - known new groups;
* **baselines** on the same embeddings: k-means with the true K, Ward agglomerative with the
  true K, HDBSCAN.

ACC matches groups to intents one-to-one with the Hungarian algorithm
(``scipy.optimize.linear_sum_assignment``). Every figure is a percentage, mean ± 95% CI over
seeds (the known intents and their examples change with the seed; deterministic methods run once).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from intentmeta.research.data import train_and_evaluation
from intentmeta.research.episodes import sample_k_shot
from intentmeta.research.statistics import mean_ci
from intentmeta.rule_provenance import warn_once_per_run


@dataclass
class DiscoveryEvalConfig:
    """What a discovery evaluation measures.

    Attributes:
        seeds: Seeds ``0..seeds-1`` (k-means initialisation, known intents and their examples).
        known_fractions: Shares of the intents known in the semi-supervised setting.
        shots: Training examples of each known intent.
        split: Evaluation split (``"test"``; ``"val"`` while choosing settings).
        validation: If set, evaluate on this fraction of each intent's training rows instead.
        estimators: Ways to estimate the number of groups that are compared.
        semi_estimated: Also run the semi-supervised setting with the number estimated.
    """

    seeds: int = 5  # the TEXTOIR protocol's
    known_fractions: list[float] = field(default_factory=lambda: [0.25, 0.5, 0.75])
    shots: int = 10
    split: str = "test"
    validation: float | None = None
    estimators: list[str] = field(default_factory=lambda: ["default"])
    semi_estimated: bool = False


# ------------------------------------------------------------------------------------- metrics
def hungarian_accuracy(truth: Sequence, predicted: Sequence) -> float:
    """Share of items whose group maps to their true class in the best one-to-one matching."""
    from scipy.optimize import linear_sum_assignment

    _, t = np.unique(np.asarray(truth, dtype=str), return_inverse=True)
    _, p = np.unique(np.asarray(predicted, dtype=str), return_inverse=True)
    counts = np.zeros((p.max() + 1, t.max() + 1))  # (groups, classes)
    np.add.at(counts, (p, t), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / len(t))


def clustering_scores(truth: Sequence, predicted: Sequence) -> dict[str, float]:
    """NMI, ARI and ACC (Hungarian), in percent."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    truth = [str(t) for t in truth]
    predicted = [str(p) for p in predicted]
    return {
        "NMI": 100 * normalized_mutual_info_score(truth, predicted),
        "ARI": 100 * adjusted_rand_score(truth, predicted),
        "ACC": 100 * hungarian_accuracy(truth, predicted),
    }


def safe_names(labels: Sequence[str]) -> list[str]:
    """Data-set labels as valid intent names (BANKING77 has ``reverted_card_payment?``)."""
    return [re.sub(r"[^A-Za-z0-9_.-]", "_", label) for label in labels]


class LookupEncoder:
    """An encoder that returns precomputed embeddings of known texts (so runs need no model)."""

    name = "precomputed-embeddings"

    def __init__(self, texts: Sequence[str], embeddings: torch.Tensor) -> None:
        self.rows = {text: i for i, text in enumerate(texts)}
        self.embeddings = embeddings  # (n_texts, dim)
        self.dim = embeddings.shape[1]

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> torch.Tensor:
        index = torch.tensor([self.rows[t] for t in texts], dtype=torch.long)
        return self.embeddings[index] if len(index) else torch.empty(0, self.dim)


# ------------------------------------------------------------------------------------- runs
def _summarise(runs: list[dict[str, float]], extra: dict | None = None) -> dict:
    out = {}
    for metric in ("NMI", "ARI", "ACC"):
        mean, half = (
            mean_ci([run[metric] for run in runs]) if len(runs) > 1 else (runs[0][metric], 0.0)
        )
        out[metric] = {
            "mean": round(mean, 2),
            "ci95": round(half, 2),
            "runs": [round(run[metric], 2) for run in runs],
        }
    return {**out, **(extra or {})}


def _baselines(x: torch.Tensor, truth: list[str], k: int, seeds: int) -> dict[str, dict]:
    from sklearn.cluster import HDBSCAN, AgglomerativeClustering, KMeans

    data = x.double().numpy()
    kmeans = [
        clustering_scores(truth, KMeans(n_clusters=k, n_init=1, random_state=s).fit_predict(data))
        for s in range(seeds)
    ]
    ward = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(data)
    hdbscan = HDBSCAN(min_cluster_size=5, copy=True).fit_predict(data)
    # HDBSCAN's noise points (-1) count as one more group, as in the literature's use of it.
    return {
        "k-means (true K)": _summarise(kmeans),
        "agglomerative Ward (true K)": _summarise([clustering_scores(truth, ward)]),
        "HDBSCAN (min cluster 5)": _summarise(
            [clustering_scores(truth, hdbscan)],
            {"groups": int(hdbscan.max() + 1), "noise": int((hdbscan < 0).sum())},
        ),
    }


def _unsupervised(texts, truth, encoder, k, estimators) -> dict[str, dict]:
    from intentmeta import IntentClassifier
    from intentmeta.discovery import DiscoveryConfig, discover

    clf = IntentClassifier(encoder=encoder, oos_threshold=None, name_as_example=False)
    rows = {}
    given = discover(clf, texts, n_groups=k)
    rows["ours, K given"] = _summarise([clustering_scores(truth, given.labels)])
    for estimator in estimators:
        config = (
            DiscoveryConfig()
            if estimator == "default"
            else DiscoveryConfig(**json.loads(estimator))
        )
        found = discover(clf, texts, config=config)
        label = "ours, K estimated" + ("" if estimator == "default" else f" {estimator}")
        rows[label] = _summarise(
            [clustering_scores(truth, found.labels)], {"groups": len(found.groups)}
        )
    return rows


def _semi_supervised(texts, truth, train, encoder, fraction, config) -> dict[str, dict]:
    """``discover()`` with a share of the intents known from ``config.shots`` examples each."""
    from intentmeta import IntentClassifier
    from intentmeta.discovery import discover

    intents = sorted(set(truth))
    given, estimated, n_groups = [], [], []
    for seed in range(config.seeds):
        known = sorted(random.Random(seed).sample(intents, round(fraction * len(intents))))
        part = train.subset(intents=known)
        rows = sample_k_shot(part.labels, config.shots, seed=seed)
        clf = IntentClassifier(encoder=encoder, name_as_example=False)  # automatic rejection
        clf.fit([part.texts[i] for i in rows], safe_names([part.labels[i] for i in rows]))
        found = discover(clf, texts, n_groups=len(intents) - len(known))
        given.append(clustering_scores(truth, found.labels))
        if config.semi_estimated:
            found = discover(clf, texts)
            estimated.append(clustering_scores(truth, found.labels))
            n_groups.append(len(found.groups))
    rows = {f"ours, {fraction:.0%} known, K given": _summarise(given)}
    if estimated:
        rows[f"ours, {fraction:.0%} known, K estimated"] = _summarise(
            estimated, {"groups": n_groups}
        )
    return rows


@warn_once_per_run()
def evaluate_discovery(
    source: str,
    config: DiscoveryEvalConfig | None = None,
    encoder: object | None = None,
    cache_dir: str | None = None,
    progress: bool = True,
) -> dict:
    """Every discovery figure on one data set (see the module docstring).

    Returns:
        A JSON-serialisable dict: data set, split, K, machine, date, and ``rows`` (method ->
        NMI / ARI / ACC summaries).
    """
    from intentmeta.research.embedding_cache import cached_encode

    config = config or DiscoveryEvalConfig()
    if encoder is None:
        from intentmeta.research.benchmark_encoders import off_the_shelf_encoder

        encoder = off_the_shelf_encoder()
    train, evaluation = train_and_evaluation(source, config.split, config.validation)
    started = time.time()
    all_texts = list(dict.fromkeys(train.texts + evaluation.texts))
    lookup = LookupEncoder(all_texts, cached_encode(encoder, all_texts, cache_dir, progress))
    truth, k = evaluation.labels, len(set(evaluation.labels))
    x = lookup.encode(evaluation.texts)  # (n_eval, dim)
    rows = _baselines(x, truth, k, config.seeds)
    rows.update(_unsupervised(evaluation.texts, truth, lookup, k, config.estimators))
    for fraction in config.known_fractions:
        rows.update(_semi_supervised(evaluation.texts, truth, train, lookup, fraction, config))
    return {
        "dataset": train.name or str(source),
        "split": evaluation.split,
        "n_messages": len(evaluation),
        "n_intents": k,
        "config": asdict(config),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "seconds": round(time.time() - started, 1),
        "rows": rows,
    }


def format_discovery_table(results: dict) -> str:
    """A Markdown table of one data set's rows."""
    lines = [
        f"{results['dataset']} ({results['split']}, {results['n_messages']} messages, "
        f"K = {results['n_intents']})",
        "",
        "| method | NMI | ARI | ACC | groups |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, row in results["rows"].items():
        cells = [
            f"{row[m]['mean']:.2f}" + (f" ± {row[m]['ci95']:.2f}" if row[m]["ci95"] else "")
            for m in ("NMI", "ARI", "ACC")
        ]
        groups = row.get("groups", "")
        lines.append(f"| {name} | {' | '.join(cells)} | {groups} |")
    return "\n".join(lines)


def write_json(results: dict, out: str | Path, stem: str) -> Path:
    """Write results to ``out/<stem>_<dataset>_<split>.json``; returns the path."""
    path = Path(out) / f"{stem}_{results['dataset']}_{results['split']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2))
    return path


def run_from_cli(args: argparse.Namespace) -> int:
    """``intentmeta eval --discovery``: print the table and write JSON under ``--out``."""
    config = DiscoveryEvalConfig(seeds=args.seeds, split=args.split, validation=args.validation)
    results = evaluate_discovery(args.data, config, None, args.cache_dir, not args.quiet)
    print(format_discovery_table(results))
    print(f"\nwrote {write_json(results, args.out, 'discovery')}")
    return 0
