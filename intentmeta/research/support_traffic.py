"""A stand-in for support-bot traffic: tens of intents, terse messages, half of them out of scope.

Issue 18's real traffic (three live e-commerce and retail bots: 21–59 intents, 10–30 examples
each, test messages short and terse, about half of them out of scope) is not available here. Its
bar is to beat semantic-router's default rule and a commercial platform's default threshold
there. This module builds the nearest episodes the public data sets allow, so that the rule is
at least checked on traffic of that *shape* before anyone ships it:

- per seed, ``n_intents`` intents of the data set are known, ``shots`` examples each (examples
  keep their natural length: a team writes whole sentences);
- queries are only messages of at most ``max_words`` words: the known intents' (in scope) and an
  equal number of the other intents' and the data set's own out-of-scope messages (out of scope).

The other intents of BANKING77 and CLINC150 are the *same domain* as the known ones, which makes
this proxy harder than traffic where "out of scope" is often chit-chat.

Rules compared on the same embeddings, none fitted to these episodes:

- ``intentmeta``: ``IntentClassifier()`` as shipped, through its public API;
- ``semantic-router``: its rule re-implemented (version 0.3: the five nearest examples, summed
  per route; the best route answers if its best example's cosine exceeds the threshold, 0.5 by
  default for Hugging Face encoders);
- ``cosine 0.5``: the winning prototype's cosine against one fixed threshold (the issue's
  "single fixed cosine threshold of 0.5").

With ``val_pool`` (``traffic_cell``), each rule is also *tuned on the team's own labelled
traffic*: the same known intents' episode drawn from the validation split (same seed: same
intents) stands for a day of labelled messages. ``intentmeta`` is given them through
``calibrate(in_scope=..., out_of_scope=...)``; each baseline gets the threshold with the best MCC
on them (the issue's "platforms at their best threshold"). The test episode is then asked.

The issue's figure is the MCC of the in-scope / out-of-scope decision.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from intentmeta.research.evaluate_open import OPEN, OpenEpisode, OpenPool, draw_support
from intentmeta.research.evaluate_open_methods import Answers, Scored, intent_columns

#: semantic-router's default score threshold for Hugging Face encoders, and its ``top_k``.
ROUTER_THRESHOLD = 0.5
ROUTER_TOP_K = 5


@dataclass
class TrafficConfig:
    """What :func:`traffic_cell` measures.

    Attributes:
        intents: Numbers of known intents (the issue's bots had 21–59).
        shots: Examples per known intent.
        max_words: Longest query kept, in words (whitespace-separated).
        seeds: Episodes per cell.
        threshold: The fixed cosine threshold of both baselines.

    Example:
        >>> config = TrafficConfig(intents=[21], shots=30)
        >>> config.max_words, config.threshold
        (5, 0.5)
    """

    intents: list[int] = field(default_factory=lambda: [21, 40, 59])
    shots: int = 10
    max_words: int = 5
    seeds: int = 5
    threshold: float = ROUTER_THRESHOLD


def short(text: str, max_words: int) -> bool:
    """Whether ``text`` has at most ``max_words`` words.

    >>> short("Return order", 5), short("where is the parcel I ordered last week", 5)
    (True, False)
    """
    return len(text.split()) <= max_words


def sample_traffic_episode(
    pool: OpenPool, n_intents: int, shots: int, max_words: int, seed: int
) -> OpenEpisode:
    """Known intents with ``shots`` examples; short queries, half of them out of scope.

    Args:
        pool: Where to draw from (``intentmeta.research.evaluate_open.load_pool``).
        n_intents: Known intents (at most all but one of the pool's).
        shots: Examples per known intent.
        max_words: Longest query kept, in words.
        seed: Seeds every draw.

    Returns:
        The episode; its queries are shuffled, with as many out-of-scope messages (truth
        ``OPEN``) as in-scope ones: the smaller group is kept whole.

    Raises:
        ValueError: If ``n_intents`` leaves no intent out, or no short query is in scope or out.
    """
    intents = sorted(pool.support)
    if not 1 <= n_intents < len(intents):
        raise ValueError(f"n_intents must be 1 to {len(intents) - 1}, not {n_intents}")
    rng = random.Random(seed)
    known = sorted(rng.sample(intents, n_intents))
    support_texts, support_intents = draw_support(pool, known, shots, rng)
    known_set = set(known)
    in_scope = [
        (text, intent)
        for intent in known
        for text in pool.queries.get(intent, [])
        if short(text, max_words)
    ]
    out = [
        (text, OPEN)
        for intent in intents
        if intent not in known_set
        for text in pool.queries.get(intent, [])
        if short(text, max_words)
    ] + [(text, OPEN) for text in pool.oos if short(text, max_words)]
    if not in_scope or not out:
        raise ValueError(f"no query of at most {max_words} words is in scope, or none is out")
    rng.shuffle(in_scope)
    rng.shuffle(out)
    n = min(len(in_scope), len(out))
    queries = in_scope[:n] + out[:n]
    rng.shuffle(queries)
    return OpenEpisode(
        support_texts, support_intents, [t for t, _ in queries], [i for _, i in queries]
    )


def semantic_router_scores(
    support: torch.Tensor,
    support_intents: Sequence[str],
    queries: torch.Tensor,
    top_k: int = ROUTER_TOP_K,
) -> Scored:
    """semantic-router's choice and score (before its threshold).

    The ``top_k`` examples nearest to a message vote for their routes with their cosines
    (summed per route); the route with the largest sum wins, and its score is the best cosine
    among its voting examples (what semantic-router compares with its threshold).

    Args:
        support: ``(n_support, dim)`` embeddings of the examples.
        support_intents: Their intents.
        queries: ``(n_query, dim)`` embeddings of the messages.
        top_k: Nearest examples that vote.

    Two fair examples of "a" outvote the one nearest example, of "b":

    >>> support = torch.tensor([[0.6, 0.8], [0.8, 0.6], [0.0, 1.0]])
    >>> scored = semantic_router_scores(support, ["a", "a", "b"], torch.tensor([[0.1, 1.0]]))
    >>> scored.intent, round(scored.score.item(), 3)
    (['a'], 0.856)
    """
    names, column = intent_columns(support_intents)
    cosines = F.normalize(queries, dim=1) @ F.normalize(support, dim=1).T  # (n_query, n_support)
    top, nearest = cosines.topk(min(top_k, len(support_intents)), dim=1)  # (n_query, k)
    routes = column[nearest]  # (n_query, k)
    sums = torch.zeros(len(queries), len(names)).scatter_add_(1, routes, top)  # (n_query, n)
    winner = sums.argmax(dim=1)  # (n_query,)
    voted = torch.where(routes == winner[:, None], top, torch.full_like(top, -2.0))
    return Scored([names[w] for w in winner.tolist()], voted.max(dim=1).values, False)


def prototype_cosine_scores(
    support: torch.Tensor, support_intents: Sequence[str], queries: torch.Tensor
) -> Scored:
    """The nearest prototype (normalised mean of an intent's examples) and its cosine.

    >>> support = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> scored = prototype_cosine_scores(support, ["a", "b"], torch.tensor([[0.6, 0.8]]))
    >>> scored.intent, round(scored.score.item(), 2)
    (['b'], 0.8)
    """
    names, column = intent_columns(support_intents)
    unit = F.normalize(support, dim=1)  # (n_support, dim)
    sums = torch.zeros(len(names), support.shape[1]).index_add_(0, column, unit)
    cosines = F.normalize(queries, dim=1) @ F.normalize(sums, dim=1).T  # (n_query, n_intents)
    best, winner = cosines.max(dim=1)  # (n_query,)
    return Scored([names[w] for w in winner.tolist()], best, False)


def baseline_answers(
    support: torch.Tensor,
    support_intents: Sequence[str],
    queries: torch.Tensor,
    threshold: float = ROUTER_THRESHOLD,
) -> dict[str, Answers]:
    """Both fixed-threshold baselines' answers (``"semantic-router"``, ``"cosine 0.5"``)."""
    return {
        "semantic-router": semantic_router_scores(support, support_intents, queries).reject_below(
            threshold
        ),
        f"cosine {threshold:g}": prototype_cosine_scores(
            support, support_intents, queries
        ).reject_below(threshold),
    }


def best_mcc_threshold(scored: Scored, truth: Sequence[str | None]) -> float:
    """The threshold on ``scored.score`` whose rejections have the best MCC against ``truth``
    (candidates: every score, and minus infinity: reject nothing).

    >>> scored = Scored(["a", "a", "a"], torch.tensor([0.9, 0.4, 0.2]), False)
    >>> best_mcc_threshold(scored, ["a", None, None])
    0.8999999761581421
    """
    from sklearn.metrics import matthews_corrcoef

    is_oos = [t is OPEN for t in truth]
    candidates = [-math.inf, *sorted(set(scored.score.tolist()))]

    def mcc(threshold: float) -> float:
        return matthews_corrcoef(is_oos, (scored.score < threshold).tolist())

    return max(candidates, key=mcc)


def _labelled_traffic(episode: OpenEpisode) -> tuple[list[str], list[str]]:
    rows = list(zip(episode.query_texts, episode.query_truth, strict=True))
    return [t for t, i in rows if i is not OPEN], [t for t, i in rows if i is OPEN]


def traffic_cell(
    pool: OpenPool,
    encoders: dict[str, tuple[object, dict]],
    n_intents: int,
    config: TrafficConfig,
    val_pool: OpenPool | None = None,
) -> dict[str, list[dict[str, float]]]:
    """Every rule's metrics on ``config.seeds`` episodes of one cell, on each encoder.

    Args:
        pool: Where episodes draw from.
        encoders: ``{label: (encoder, classifier settings)}``; the settings go to
            ``IntentClassifier`` (``"rule"``: a rejection rule to use instead of the one the
            classifier picks by the encoder's name).
        n_intents: Known intents.
        config: Shots, query length, seeds and the baselines' threshold.
        val_pool: Also tune each rule on the same intents' validation episode (module
            docstring): methods ``"intentmeta, calibrated"``, ``"semantic-router, best
            threshold"`` and ``"cosine, best threshold"``.

    Returns:
        ``{"method (encoder label)": [metrics of each seed]}``, metrics as
        ``intentmeta.research.evaluate_open_methods.open_metrics``.
    """
    from intentmeta.research.evaluate_open_methods import classifier_answers, open_metrics

    results: dict[str, list[dict[str, float]]] = {}
    draw = (n_intents, config.shots, config.max_words)
    for seed in range(config.seeds):
        episode = sample_traffic_episode(pool, *draw, seed)
        labelled = sample_traffic_episode(val_pool, *draw, seed) if val_pool else None
        if labelled is not None and labelled.known != episode.known:
            raise ValueError("the validation pool's intents differ from the test pool's")
        for label, (encoder, settings) in encoders.items():
            ask = (episode.support_texts, episode.support_intents, episode.query_texts)
            answers = {"intentmeta": classifier_answers(encoder, *ask, **settings)}
            support = encoder.encode(episode.support_texts)  # (n_support, dim)
            queries = encoder.encode(episode.query_texts)  # (n_query, dim)
            answers |= baseline_answers(support, episode.support_intents, queries, config.threshold)
            if labelled is not None:
                answers |= _tuned_answers(encoder, settings, episode, labelled, support, queries)
            for method, answer in answers.items():
                results.setdefault(f"{method} ({label})", []).append(
                    open_metrics(answer, episode.query_truth)
                )
    return results


def _tuned_answers(
    encoder, settings: dict, episode: OpenEpisode, labelled: OpenEpisode, support, queries
) -> dict[str, Answers]:
    """Each rule tuned on ``labelled`` (the same intents' validation traffic), then asked."""
    from intentmeta.research.evaluate_open_methods import classifier_answers

    ask = (episode.support_texts, episode.support_intents, episode.query_texts)
    traffic = _labelled_traffic(labelled)
    answers = {
        "intentmeta, calibrated": classifier_answers(encoder, *ask, **settings, traffic=traffic)
    }
    seen = encoder.encode(labelled.query_texts)  # (n_labelled, dim)
    for name, scorer in (
        ("semantic-router", semantic_router_scores),
        ("cosine", prototype_cosine_scores),
    ):
        threshold = best_mcc_threshold(
            scorer(support, episode.support_intents, seen), labelled.query_truth
        )
        answers[f"{name}, best threshold"] = scorer(
            support, episode.support_intents, queries
        ).reject_below(threshold)
    return answers


def traffic_table(cells: Sequence[dict]) -> str:
    """Markdown rows (MCC, OOS recall, in-scope accuracy, macro-F1: mean ± 95 % CI over
    seeds) of :func:`traffic_cell` records ``{"data", "intents", "results"}``, then each
    method's mean over the cells."""
    from intentmeta.research.statistics import mean_ci

    metrics = [("mcc", 1.0, 3), ("oos_recall", 100.0, 1), ("in_scope_accuracy", 100.0, 1)]
    metrics.append(("macro_f1", 100.0, 1))
    lines = [
        "| data | intents | rule (encoder) | MCC | OOS recall | in-scope accuracy | macro-F1 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    means: dict[str, list[list[float]]] = {}
    for cell in cells:
        mean_mcc = {m: mean_ci([r["mcc"] for r in runs])[0] for m, runs in cell["results"].items()}
        best = max(mean_mcc, key=mean_mcc.get)
        for method, runs in cell["results"].items():
            shown = []
            for name, scale, digits in metrics:
                mean, half = mean_ci([r[name] * scale for r in runs])
                shown.append(f"{mean:.{digits}f} ± {half:.{digits}f}")
                means.setdefault(method, [[] for _ in metrics])[len(shown) - 1].append(mean)
            if method == best:
                shown[0] = f"**{shown[0]}**"
            lines.append(f"| {cell['data']} | {cell['intents']} | {method} | {' | '.join(shown)} |")
    lines += ["", "| rule (encoder) | mean MCC | mean OOS recall | mean in-scope accuracy |"]
    lines.append("| --- | --- | --- | --- |")
    for method, columns in means.items():
        mcc, recall, accuracy = (sum(c) / len(c) for c in columns[:3])
        lines.append(f"| {method} | {mcc:.3f} | {recall:.1f} | {accuracy:.1f} |")
    return "\n".join(lines)
