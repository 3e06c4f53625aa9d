"""A data-quality report on an intent registry: confusable intents and suspect examples.

Everything is read from the stored example embeddings (no encoding, no training) with a few
matrix products, so a 150-intent x 10-example registry reports in well under a second:

* **leave-one-out** (LOO): each example is compared with its own intent's prototype computed
  without it, and with every other intent's prototype (cosine); the example "fits" its intent when
  its own LOO prototype is the nearest;
* **suspects**: examples whose best other intent beats their own LOO prototype by at least
  ``ReportConfig.suspect_margin`` — likely filed under the wrong intent;
* **confusable pairs**: intents whose prototypes are most similar;
* **near duplicates**: two examples of different intents that are almost the same message.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F


@dataclass
class ReportConfig:
    """What the report flags.

    Attributes:
        suspect_margin: An example is a suspect when another intent's prototype is more similar
            to it than its own (leave-one-out) prototype by at least this cosine margin.
        min_examples: Intents with fewer examples are flagged "too few examples".
        duplicate_similarity: Examples of different intents at least this similar (cosine) are
            listed as near duplicates.
        max_pairs: Confusable intent pairs listed.
        max_duplicates: Near-duplicate example pairs listed.
    """

    suspect_margin: float = 0.2  # best F1 on CLINC150 validation registries (BENCHMARKS.md)
    min_examples: int = 5  # 5-shot accuracy trails 10-shot by 4-5 points (BENCHMARKS.md)
    duplicate_similarity: float = 0.95  # paraphrases sit near 0.8-0.9; 0.95 is a repeat
    max_pairs: int = 20
    max_duplicates: int = 50


@dataclass(frozen=True)
class Suspect:
    """An example that fits another intent better than its own."""

    intent: str
    example: str
    better_intent: str
    margin: float  # cosine to ``better_intent`` minus cosine to its own LOO prototype
    action: str


@dataclass(frozen=True)
class ConfusablePair:
    """Two intents whose prototypes are close."""

    intent: str
    other: str
    similarity: float
    action: str


@dataclass(frozen=True)
class NearDuplicate:
    """Two almost identical examples filed under different intents."""

    intent: str
    example: str
    other: str
    other_example: str
    similarity: float


@dataclass(frozen=True)
class IntentFigures:
    """Per-intent figures."""

    intent: str
    n_examples: int
    loo_accuracy: float | None  # share of its examples nearest their own LOO prototype
    nearest_intent: str | None
    nearest_similarity: float | None
    too_few_examples: bool


@dataclass
class Report:
    """What :func:`build_report` finds in a registry; renders as text (``str``) and HTML.

    Example:
        >>> report = clf.report()  # doctest: +SKIP
        >>> report.suspects[0].better_intent  # doctest: +SKIP
        'refund'
    """

    intents: list[IntentFigures]
    suspects: list[Suspect]
    confusable: list[ConfusablePair]
    near_duplicates: list[NearDuplicate]
    similarity: torch.Tensor = field(repr=False)  # (n_intents, n_intents) prototype cosines
    config: ReportConfig = field(default_factory=ReportConfig, repr=False)

    @property
    def names(self) -> list[str]:
        """Intent names, in the order of the similarity matrix."""
        return [figures.intent for figures in self.intents]

    def to_dict(self) -> dict:
        """Everything but the similarity matrix, JSON-serialisable."""
        return {
            "intents": [asdict(f) for f in self.intents],
            "suspects": [asdict(s) for s in self.suspects],
            "confusable": [asdict(p) for p in self.confusable],
            "near_duplicates": [asdict(d) for d in self.near_duplicates],
            "config": asdict(self.config),
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The report as JSON (see :meth:`to_dict`)."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def __str__(self) -> str:
        from intentmeta.rendering import report_text

        return report_text(self)

    def to_html(self) -> str:
        """A standalone HTML page; the heatmap needs matplotlib (``intentmeta[eval]``)."""
        from intentmeta.rendering import report_html

        return report_html(self)


def build_report(clf, config: ReportConfig | None = None) -> Report:
    """Examine a classifier's registry: suspects, confusable pairs, near duplicates, figures.

    Args:
        clf: An :class:`~intentmeta.IntentClassifier` (anything with ``support()`` and
            ``examples(name)``).
        config: Thresholds; ``None`` uses the defaults.

    Returns:
        The :class:`Report`, every list best first.
    """
    config = config or ReportConfig()
    names, embeddings, labels = clf.support()  # (n, dim), (n,)
    examples = [text for name in names for text in clf.examples(name)]
    if len(examples) != len(labels):  # the registry changed between the two reads
        names, embeddings, labels = clf.support()
        examples = [text for name in names for text in clf.examples(name)]
    n_intents = len(names)
    if n_intents == 0:
        return Report([], [], [], [], torch.empty(0, 0), config)
    embeddings = F.normalize(embeddings.float(), dim=-1)
    counts = torch.bincount(labels, minlength=n_intents)  # (n_intents,)
    sums = torch.zeros(n_intents, embeddings.shape[1]).index_add_(0, labels, embeddings)
    prototypes = F.normalize(sums, dim=-1)  # (n_intents, dim)
    similarity = prototypes @ prototypes.T  # (n_intents, n_intents)

    own_loo, other_best, other_index = _leave_one_out(embeddings, labels, sums, counts)
    figures = _intent_figures(names, counts, labels, own_loo, other_best, similarity, config)
    margin = other_best - own_loo  # (n,), NaN for single-example intents
    flagged = torch.nonzero(margin >= config.suspect_margin).flatten()
    flagged = flagged[margin[flagged].argsort(descending=True)]
    suspects = [
        Suspect(
            intent=names[labels[i]],
            example=examples[i],
            better_intent=names[other_index[i]],
            margin=round(float(margin[i]), 4),
            action=f"move it to {names[other_index[i]]!r}, or reword it to fit "
            f"{names[labels[i]]!r}",
        )
        for i in flagged.tolist()
    ]
    return Report(
        intents=figures,
        suspects=suspects,
        confusable=_confusable(names, similarity, config.max_pairs),
        near_duplicates=_near_duplicates(names, examples, embeddings, labels, config),
        similarity=similarity,
        config=config,
    )


def _leave_one_out(
    embeddings: torch.Tensor, labels: torch.Tensor, sums: torch.Tensor, counts: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each example's cosine to its own prototype without it, and to the best other prototype.

    Returns:
        ``own`` (n,) (NaN for an intent's only example), ``best_other`` (n,) and its intent
        index (n,); ``best_other`` is -inf when there is no other intent.
    """
    dots = embeddings @ sums.T  # (n, n_intents): e_i . sum_c
    norms = sums.norm(dim=-1).clamp(min=1e-9)  # (n_intents,)
    cosines = dots / norms  # (n, n_intents), cosine to every full prototype
    own_dot = dots.gather(1, labels[:, None]).squeeze(1)  # (n,)
    # |sum_c - e_i|^2 = |sum_c|^2 - 2 e_i.sum_c + 1 for unit e_i
    loo_norm = (norms[labels] ** 2 - 2 * own_dot + 1).clamp(min=0).sqrt()  # (n,)
    own = torch.where(counts[labels] > 1, (own_dot - 1) / loo_norm.clamp(min=1e-9), torch.nan)
    cosines = cosines.scatter(1, labels[:, None], -torch.inf)  # hide the own intent
    best_other, other_index = cosines.max(dim=1)  # (n,), (n,)
    return own, best_other, other_index


def _intent_figures(names, counts, labels, own, best_other, similarity, config):
    n_intents = len(names)
    fits = (own > best_other).float()  # (n,); NaN comparisons are False
    valid = ~own.isnan()
    correct = torch.zeros(n_intents).index_add_(0, labels, fits * valid)
    scored = torch.zeros(n_intents).index_add_(0, labels, valid.float())
    others = similarity.clone().fill_diagonal_(-torch.inf)
    nearest_sim, nearest = others.max(dim=1)  # (n_intents,)
    return [
        IntentFigures(
            intent=name,
            n_examples=int(counts[c]),
            loo_accuracy=round(float(correct[c] / scored[c]), 4) if scored[c] > 0 else None,
            nearest_intent=names[nearest[c]] if n_intents > 1 else None,
            nearest_similarity=round(float(nearest_sim[c]), 4) if n_intents > 1 else None,
            too_few_examples=int(counts[c]) < config.min_examples,
        )
        for c, name in enumerate(names)
    ]


def _confusable(names: list[str], similarity: torch.Tensor, limit: int) -> list[ConfusablePair]:
    upper = torch.triu_indices(len(names), len(names), offset=1)  # (2, n_pairs)
    values = similarity[upper[0], upper[1]]  # (n_pairs,)
    top = values.topk(min(limit, len(values)))
    return [
        ConfusablePair(
            names[upper[0, k]],
            names[upper[1, k]],
            round(float(v), 4),
            f"merge {names[upper[0, k]]!r} and {names[upper[1, k]]!r}, or add examples "
            "that tell them apart",
        )
        for v, k in zip(top.values.tolist(), top.indices.tolist(), strict=True)
    ]


def _near_duplicates(names, examples, embeddings, labels, config) -> list[NearDuplicate]:
    similarity = embeddings @ embeddings.T  # (n, n)
    different = labels[:, None] != labels[None, :]  # (n, n)
    close = torch.triu(different & (similarity >= config.duplicate_similarity), diagonal=1)
    pairs = torch.nonzero(close)  # (n_close, 2)
    values = similarity[pairs[:, 0], pairs[:, 1]]
    pairs = pairs[values.argsort(descending=True)][: config.max_duplicates]
    return [
        NearDuplicate(
            names[labels[i]], examples[i], names[labels[j]], examples[j], round(float(s), 4)
        )
        for (i, j), s in zip(
            pairs.tolist(), similarity[pairs[:, 0], pairs[:, 1]].tolist(), strict=True
        )
    ]
