"""Suggest new intents from unlabelled messages: group them, name each group, pick examples.

Messages that clearly fit a known intent are assigned to it (the semi-supervised setting); the
others are grouped (Ward agglomerative clustering of their embeddings, the number of groups
estimated unless given), each group named from its most distinctive words (c-TF-IDF) and
represented by the messages nearest its centre. A suggestion becomes an intent with one call.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from intentmeta.validation import check_texts


@dataclass
class DiscoveryConfig:
    """How messages are grouped.

    Attributes:
        estimator: How the number of groups is estimated when not given (one of
            :data:`intentmeta.clustering.ESTIMATORS`).
        threshold: Distance cut of the ``"average_linkage"`` estimator.
        min_group_size: Smallest group the estimators count.
        assignment: How messages are matched to known intents. ``"joint"``: the registry's
            examples are clustered together with the messages, and a group holding at least
            ``known_share`` of an intent's examples is that intent. ``"classifier"``: a message
            goes to the intent the classifier accepts it for with at least ``assign_confidence``.
        known_share: See ``assignment="joint"``.
        repeat_similarity: With ``"joint"``, a message at least this similar (cosine) to an
            example repeats it and goes to that example's intent.
        assign_confidence: See ``assignment="classifier"``.
        n_representative: Representative messages listed per group.
        n_name_words: Keywords joined into a suggested name.
        max_ward: Above this many messages, k-means replaces Ward clustering.
        seed: Seed of k-means.
    """

    estimator: str = "average_linkage"  # chosen on CLINC150 val and BANKING77 held-out train
    threshold: float = 0.5
    min_group_size: int = 5
    assignment: str = "joint"  # chosen on validation data, see BENCHMARKS.md
    known_share: float = 0.4  # best of 0.1 / 0.2 / 0.4 on both validation sets
    repeat_similarity: float = 0.95  # as the report's near duplicates
    assign_confidence: float = 0.5
    n_representative: int = 5
    n_name_words: int = 2
    max_ward: int = 12_000  # Ward holds n^2 / 2 distances: 12,000 rows is 0.6 GB
    seed: int = 0


@dataclass(frozen=True)
class Group:
    """One suggested intent.

    Attributes:
        id: The group's id (groups are numbered by size, largest first).
        name: A suggested intent name from its most distinctive words.
        size: How many messages it holds.
        representative: Its messages nearest the group's centre, nearest first.
        keywords: Its most distinctive words, best first.
        members: Indices of its messages in the input, nearest the centre first.
    """

    id: int
    name: str
    size: int
    representative: list[str]
    keywords: list[str]
    members: list[int] = field(repr=False)
    texts: list[str] = field(repr=False)  # the members' messages, same order

    def as_intent(self, n_examples: int = 10) -> tuple[str, list[str]]:
        """``(name, examples)`` for ``IntentClassifier.add_intent``: its most central messages."""
        return self.name, self.texts[:n_examples]


@dataclass
class Discovery:
    """What :func:`discover` found: a label per message and the suggested new intents.

    Attributes:
        texts: The input messages.
        labels: Per message, in input order: a known intent's name (``str``) or the id of the
            new group it falls in (``int``).
        groups: The suggested new intents, largest first.

    Example:
        >>> result = clf.discover(messages)  # doctest: +SKIP
        >>> result.add_to(clf, result.groups[0].id)  # doctest: +SKIP
        'card_arrive'
    """

    texts: list[str]
    labels: list[str | int]
    groups: list[Group]

    def group(self, group_id: int) -> Group:
        """The group with this id.

        Raises:
            KeyError: If there is none.
        """
        for group in self.groups:
            if group.id == group_id:
                return group
        raise KeyError(f"no group with id {group_id!r}")

    def add_to(self, clf, group_id: int, name: str | None = None, n_examples: int = 10) -> str:
        """Turn a group into an intent of ``clf``; returns the intent's name.

        Args:
            clf: The :class:`~intentmeta.IntentClassifier` to extend.
            group_id: Which group.
            name: The intent's name; the suggested one by default.
            n_examples: How many of its most central messages become examples.
        """
        suggested, examples = self.group(group_id).as_intent(n_examples)
        clf.add_intent(name or suggested, examples)
        return name or suggested

    def to_dict(self) -> dict:
        """Labels and groups, JSON-serialisable."""
        return {
            "labels": self.labels,
            "groups": [{k: v for k, v in asdict(g).items() if k != "texts"} for g in self.groups],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The result as JSON (see :meth:`to_dict`)."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def __str__(self) -> str:
        from intentmeta.rendering import discovery_text

        return discovery_text(self)

    def to_html(self) -> str:
        """A standalone HTML page listing the groups."""
        from intentmeta.rendering import discovery_html

        return discovery_html(self)


def discover(
    clf,
    texts: Sequence[str],
    *,
    only_out_of_scope: bool = False,
    n_groups: int | None = None,
    config: DiscoveryConfig | None = None,
) -> Discovery:
    """Group messages into suggested new intents, assigning those that fit a known one.

    Args:
        clf: An :class:`~intentmeta.IntentClassifier` (its encoder embeds the messages; its
            intents, if any, take the messages that clearly fit them).
        texts: Unlabelled messages.
        only_out_of_scope: Group only the messages the classifier rejects as out of scope; every
            accepted message keeps its predicted intent. Otherwise a message is assigned to a known
            intent only when accepted with at least ``config.assign_confidence``.
        n_groups: Number of new groups; estimated when ``None``.
        config: Settings; ``None`` uses the defaults.

    Returns:
        The :class:`Discovery`.

    Raises:
        TypeError: If ``texts`` is not a list of strings.
        ValueError: If a text is blank or ``n_groups`` is not a positive integer.
    """
    from intentmeta import clustering

    config = config or DiscoveryConfig()
    texts = check_texts(texts)
    if n_groups is not None and (
        isinstance(n_groups, bool) or not isinstance(n_groups, int) or n_groups < 1
    ):
        raise ValueError(f"n_groups must be a positive integer or None, not {n_groups!r}")
    if config.estimator not in clustering.ESTIMATORS:
        raise ValueError(f"unknown estimator {config.estimator!r}")
    if not texts:
        return Discovery([], [], [])
    embeddings = F.normalize(clf.encoder.encode(texts).float(), dim=-1)  # (n, dim)
    labels: list[str | int | None] = [None] * len(texts)
    if len(clf) > 0 and (only_out_of_scope or config.assignment == "classifier"):
        floor = 0.0 if only_out_of_scope else config.assign_confidence
        for i, p in enumerate(clf.classify_batch(texts)):
            if p.intent is not None and p.confidence >= floor:
                labels[i] = p.intent
        rest = [i for i, label in enumerate(labels) if label is None]
        x = embeddings[rest]  # (n_rest, dim)
        k = n_groups or _estimate(x, config)
        assignment = clustering.cluster(x, k, max_ward=config.max_ward, seed=config.seed)
    elif len(clf) > 0:
        rest, assignment = _cluster_with_examples(clf, embeddings, labels, n_groups, config)
    else:
        rest = list(range(len(texts)))
        k = n_groups or _estimate(embeddings, config)
        assignment = clustering.cluster(embeddings, k, max_ward=config.max_ward, seed=config.seed)
    groups: list[Group] = []
    if rest:
        groups = _make_groups(
            [texts[i] for i in rest], rest, embeddings[rest], assignment, clf, config
        )
        for group in groups:
            for i in group.members:
                labels[i] = group.id
    return Discovery(texts, labels, groups)


def _estimate(x: torch.Tensor, config: DiscoveryConfig) -> int:
    from intentmeta import clustering

    return clustering.estimate_n_groups(
        x, config.estimator, threshold=config.threshold, min_group_size=config.min_group_size
    )


def _cluster_with_examples(clf, embeddings, labels, n_groups, config):
    """Cluster messages and the registry's examples together; label groups holding examples.

    Returns:
        ``(rest, assignment)``: the messages left for new groups and their cluster indices.
        ``labels`` is filled in place for the messages whose group is a known intent's.
    """
    from intentmeta import clustering

    names, examples, example_labels = clf.support()  # (n_ex, dim), (n_ex,)
    n = len(embeddings)
    joint = torch.cat([embeddings, F.normalize(examples.float(), dim=-1)])  # (n + n_ex, dim)
    if n_groups:
        k = len(names) + n_groups
    elif n >= len(examples):
        k = _estimate(joint, config)
    else:  # the examples would dominate the estimate: count the messages' own groups
        k = len(names) + _estimate(embeddings, config)
    assignment = torch.as_tensor(
        clustering.cluster(joint, k, max_ward=config.max_ward, seed=config.seed)
    )
    n_clusters = int(assignment.max()) + 1
    counts = torch.zeros(n_clusters, len(names))  # (clusters, intents): examples in each
    counts.index_put_((assignment[n:], example_labels), torch.ones(len(example_labels)), True)
    share = counts / counts.sum(dim=0).clamp(min=1)  # (clusters, intents)
    best_share, best_intent = share.max(dim=1)  # (clusters,)
    known = (best_share >= config.known_share) & (best_share > 0)  # (clusters,)
    # A message that repeats an example belongs to its intent, whatever group it fell in.
    closest, nearest = (embeddings @ joint[n:].T).max(dim=1)  # (n,), (n,)
    rest = []
    for i, c in enumerate(assignment[:n].tolist()):
        if closest[i] >= config.repeat_similarity:
            labels[i] = names[example_labels[nearest[i]]]
        elif known[c]:
            labels[i] = names[best_intent[c]]
        else:
            rest.append(i)
    return rest, assignment[rest].numpy()


def _make_groups(texts, indices, x, assignment, clf, config) -> list[Group]:
    """Groups numbered by size, each with its name, keywords and most central messages."""
    from intentmeta import clustering

    assignment = np.unique(assignment, return_inverse=True)[1].reshape(-1)  # compact ids
    n_found = int(assignment.max()) + 1
    sizes = torch.bincount(torch.as_tensor(assignment), minlength=n_found)  # (n_found,)
    order = sorted(range(n_found), key=lambda g: (-int(sizes[g]), g))  # largest first
    renumber = torch.empty(n_found, dtype=torch.long)
    renumber[order] = torch.arange(n_found)
    assignment = renumber[torch.as_tensor(assignment)].numpy()  # (n_rest,) new ids
    names, keywords = clustering.group_names(
        texts, assignment, n_found, n_words=config.n_name_words, taken=[*clf.intents, "oos"]
    )
    groups = []
    for g in range(n_found):
        rows = torch.as_tensor((assignment == g).nonzero()[0])  # (size,)
        centre = F.normalize(x[rows].mean(dim=0), dim=-1)  # (dim,)
        rows = rows[(x[rows] @ centre).argsort(descending=True)]  # nearest the centre first
        members = [texts[r] for r in rows.tolist()]
        groups.append(
            Group(
                id=g,
                name=names[g],
                size=len(members),
                representative=members[: config.n_representative],
                keywords=keywords[g],
                members=[indices[r] for r in rows.tolist()],
                texts=members,
            )
        )
    return groups
