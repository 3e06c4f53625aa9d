"""Meta-learn the out-of-scope rule over open-intent episodes of validation splits.

Each episode keeps some intents known (K examples each) and asks messages of all intents (and a
data set's own out-of-scope messages): those of unknown intents must be rejected. For every
message the features of :mod:`intentmeta.rejection_rule` are computed exactly as the classifier
computes them, with the default head picking the winner; two logistic regressions are fitted:
out of scope or not (messages weighted to an out-of-scope share ``prior``), and whether the
winner is right (in-scope messages). Fitting refuses any test split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import torch
import torch.nn.functional as F

from intentmeta.rejection_rule import (
    RejectionRule,
    expected_similarity,
    registry_scale,
    registry_statistics,
)
from intentmeta.research.benchmark_encoders import TableEncoder
from intentmeta.research.evaluate_open import OpenEpisode, OpenPool, sample_episode


@dataclass
class FitConfig:
    """Which validation episodes the rule is fitted on."""

    ratios: list[float] = field(default_factory=lambda: [0.25, 0.5, 0.75, 1.0])
    shots: list[int] = field(default_factory=lambda: [3, 5, 10, 20])
    seeds: int = 5
    prior: float = 0.4  # out-of-scope share: between CLINC150's 18 % and support traffic's ~50 %
    head: str = "prototypical"


def episode_features(
    episode: OpenEpisode, table: TableEncoder, rule: RejectionRule, head: str = "prototypical"
) -> dict[str, torch.Tensor]:
    """Feature inputs and truths of every message of one episode.

    Returns:
        ``chosen, runner_up, nearest, expected, examples`` (``(n,)`` each; ``nearest``: the
        cosine to the winner's closest example), ``spread`` / ``cross`` / ``mean_expected``
        (repeated per message), ``is_oos`` and ``correct`` (``(n,)`` bool).
    """
    from intentmeta.config import default_head_config
    from intentmeta.heads import HeadConfig, build_head

    names = episode.known
    column = {name: i for i, name in enumerate(names)}
    support = table.encode(episode.support_texts)  # (n_support, dim)
    labels = torch.tensor([column[n] for n in episode.support_intents])  # (n_support,)
    queries = table.encode(episode.query_texts)  # (n_query, dim)
    config = HeadConfig(**{**vars(default_head_config(head)), "dim": support.shape[1]})
    model = build_head(head, config).eval()
    with torch.inference_mode():
        model.process_support_set(support, labels)
        best = model.classes[model(queries).argmax(dim=1)]  # (n_query,) intent index
    sums, counts, nearest_other = registry_statistics(support, labels, len(names))
    expected, fell_back = expected_similarity(sums, counts, rule.shrinkage, rule.fallback_pairwise)
    scale = registry_scale(expected, nearest_other, sums, counts, rule.fallback_spread, fell_back)
    unit_queries = F.normalize(queries, dim=1)  # (n_query, dim)
    similarity = unit_queries @ F.normalize(sums, dim=1).T  # (n_query, n_intents)
    chosen = similarity.gather(1, best[:, None])[:, 0]
    others = similarity.scatter(1, best[:, None], -math.inf)
    runner_up = others.max(dim=1).values if len(names) > 1 else torch.full_like(chosen, scale.cross)
    to_examples = unit_queries @ F.normalize(support, dim=1).T  # (n_query, n_support)
    own = labels[None, :] == best[:, None]  # (n_query, n_support) the winner's examples
    nearest = to_examples.masked_fill(~own, -math.inf).max(dim=1).values  # (n_query,)
    truth = torch.tensor([column.get(t, -1) if t is not None else -1 for t in episode.query_truth])
    n = len(chosen)
    pairs = counts.float() * (counts.float() - 1) / 2
    within = ((sums * sums).sum(dim=1) - counts.float()) / 2
    pooled = float(within.sum() / pairs.sum()) if pairs.sum() > 0 else math.nan
    return {
        "pooled_pairwise": torch.full((n,), pooled),
        "chosen": chosen,
        "runner_up": runner_up,
        "nearest": nearest,
        "expected": expected[best],
        "examples": counts[best].float(),
        "spread": torch.full((n,), scale.spread),
        "cross": torch.full((n,), scale.cross),
        "mean_expected": torch.full((n,), scale.mean_expected),
        "is_oos": truth == -1,
        "correct": best == truth,
    }


def _design(rows: dict[str, torch.Tensor], offset: float) -> tuple[np.ndarray, np.ndarray]:
    """``p_oos`` features (the rule's five, then nearness less ``offset`` and its product with
    log examples) and ``q``'s."""
    x_oos, x_intent = RejectionRule.features(
        rows["chosen"],
        rows["runner_up"],
        rows["expected"],
        rows["examples"],
        rows["cross"],
        rows["mean_expected"],
        rows["spread"],
    )
    nearness = RejectionRule.nearness(rows["chosen"], rows["nearest"], rows["spread"], offset)
    log_examples = rows["examples"].float().clamp(min=1).log()  # (n,)
    near = torch.stack([nearness, nearness * log_examples], dim=1)  # (n, 2)
    return torch.cat([x_oos, near], dim=1).numpy(), x_intent.numpy()


def fit_rule(
    pools: dict[str, OpenPool],
    tables: dict[str, TableEncoder],
    config: FitConfig,
    encoder: str,
    progress: bool = True,
) -> RejectionRule:
    """Fit both logistic models on every validation episode of every pool.

    Args:
        pools: Data set name -> its *validation* pool.
        tables: Data set name -> embeddings of its texts by the encoder being fitted for.
        config: Ratios, shots, seeds, out-of-scope share, head.
        encoder: The encoder's name, recorded in the provenance.
    """
    from sklearn.linear_model import LogisticRegression
    from tqdm.auto import tqdm

    rule = RejectionRule()
    jobs = [
        (name, ratio, shots, seed)
        for name in pools
        for ratio in config.ratios
        for shots in config.shots
        for seed in range(config.seeds)
        if ratio < 1 or pools[name].oos
    ]
    parts = []
    for name, ratio, shots, seed in tqdm(jobs, desc="episodes", disable=not progress):
        episode = sample_episode(pools[name], ratio, shots, 2000 + seed, with_oos=ratio >= 1)
        parts.append(episode_features(episode, tables[name], rule, config.head))
    rows = {key: torch.cat([p[key] for p in parts]) for key in parts[0]}
    offset = float(RejectionRule.nearness(rows["chosen"], rows["nearest"], rows["spread"]).mean())
    x_oos, x_intent = _design(rows, offset)
    is_oos = rows["is_oos"].numpy()
    weight = np.where(is_oos, config.prior / is_oos.mean(), (1 - config.prior) / (~is_oos).mean())
    oos_model = LogisticRegression(C=1.0, max_iter=1000).fit(x_oos, is_oos, sample_weight=weight)
    in_scope = ~is_oos
    intent_model = LogisticRegression(C=1.0, max_iter=1000).fit(
        x_intent[in_scope], rows["correct"].numpy()[in_scope]
    )
    spread = rows["spread"].numpy()
    *weights, w_near, w_near_log = (round(float(w), 4) for w in oos_model.coef_[0])
    rule.oos_weights = (*weights, round(float(oos_model.intercept_[0]), 4))
    rule.nearest_weights, rule.nearest_offset = (w_near, w_near_log), round(offset, 4)
    rule.intent_weights = tuple(
        round(float(w), 4) for w in [*intent_model.coef_[0], intent_model.intercept_[0]]
    )
    rule.fallback_spread = round(float(np.median(spread)), 4)
    rule.fallback_pairwise = round(float(np.nanmedian(rows["pooled_pairwise"].numpy())), 4)
    rule.provenance = {
        "encoder": encoder,
        "head": config.head,
        "data": sorted(pools),
        "split": "val (CLINC150 val + oos_val; BANKING77 30% of train held out)",
        "known_ratios": config.ratios,
        "shots": [min(config.shots), max(config.shots)],
        "spread": [round(float(np.quantile(spread, q)), 4) for q in (0.05, 0.95)],
        "out_of_scope_prior": config.prior,
        "episodes": len(jobs),
        "messages": len(is_oos),
        "date": date.today().isoformat(),
    }
    return rule
