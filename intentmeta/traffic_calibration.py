"""Tuning the out-of-scope probability on a team's own labelled traffic.

``IntentClassifier.calibrate`` lands here: embed the labelled messages, read what the rule reads
for each, re-fit the out-of-scope log-odds (:meth:`OutOfScopeDetector.calibrate`), and report the
figures on those messages before and after. Without in-scope messages the intents' own examples
stand in, each scored against the prototype of the other examples of its intent.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from intentmeta.validation import check_texts

#: Fewer labelled messages of either kind than this, and the fitted map is mostly noise.
FEW_MESSAGES = 20

#: An :class:`~intentmeta.IntentClassifier` (not imported: the classifier imports this module).
IntentClassifier = Any


def _leave_one_out_evidence(
    clf: IntentClassifier,
) -> tuple[torch.Tensor, torch.Tensor, list[int], list[str], torch.Tensor]:
    """Every stored example as an in-scope message of its own intent, scored leave-one-out."""
    registry = clf._registry
    prototypes = registry.columns.prototypes  # (n_intents, dim)
    column = {label: i for i, label in enumerate(registry.column_labels)}
    chosen, runner_up, labels, names, nearest = [], [], [], [], []
    for name, intent in registry.items():
        if len(intent.examples) < 2:
            continue  # no other example to compare with
        units = intent.units  # (n, dim) unit-length examples
        similarity = units @ prototypes.T  # (n, n_intents)
        similarity[:, column[intent.label]] = -math.inf
        chosen.append(clf.oos.leave_one_out(intent.label, intent.embeddings))
        runner_up.append(similarity.max(dim=1).values)
        own = (units @ units.T).fill_diagonal_(-math.inf)  # (n, n) the other examples
        nearest.append(own.max(dim=1).values)
        labels += [intent.label] * len(units)
        names += [name] * len(units)
    if not labels:
        raise ValueError("calibrate() needs in-scope messages, or an intent with 2+ examples")
    return torch.cat(chosen), torch.cat(runner_up), labels, names, torch.cat(nearest)


def _evidence(clf: IntentClassifier, texts: list[str]) -> tuple[torch.Tensor, ...]:
    """``chosen, runner_up``, chosen labels, the head's winning intent names, and the cosines
    to the winners' nearest examples."""
    queries = clf.encoder.encode(texts)  # (n, dim)
    with clf._lock, torch.inference_mode():
        best = clf.head(queries).argmax(dim=1)  # (n,)
        chosen, runner_up, labels, nearest = clf._registry.prototype_evidence(queries, best, True)
        names = [clf._registry.column_names[c] for c in best.tolist()]
    return chosen, runner_up, labels, names, nearest


def _figures(
    clf: IntentClassifier,
    evidence: tuple,
    is_oos: torch.Tensor,
    truth: Sequence[str | None] | None,
) -> dict[str, float]:
    """What the current detector does on the labelled messages."""
    chosen, runner_up, labels, names, nearest = evidence
    with torch.inference_mode():
        decisions = clf.oos.decide(chosen, runner_up, labels, nearest=nearest)
        p_oos = clf.oos.evidence(chosen, runner_up, labels, nearest=nearest)[1].double()
    rejected = decisions.rejected
    figures = {
        "in_scope_accepted": float((~rejected[~is_oos]).float().mean()),
        "out_of_scope_recall": float(rejected[is_oos].float().mean()),
        "out_of_scope_precision": float(is_oos[rejected].float().mean())
        if rejected.any()
        else math.nan,
        "log_loss": float(F.binary_cross_entropy(p_oos.clamp(1e-12, 1 - 1e-12), is_oos.double())),
    }
    if truth is not None:
        right = [
            not r and n == t
            for r, n, t, o in zip(rejected.tolist(), names, truth, is_oos.tolist(), strict=True)
            if not o
        ]
        figures["in_scope_accuracy"] = sum(right) / len(right)
    return figures


def _warn_if_few(n_in_scope: int, n_out_of_scope: int) -> None:
    """Warn when a map is about to be fitted on too few labelled messages to trust."""
    if min(n_in_scope, n_out_of_scope) < FEW_MESSAGES:
        warnings.warn(
            f"calibrating on {n_in_scope} in-scope and {n_out_of_scope} out-of-scope messages: "
            f"with fewer than {FEW_MESSAGES} of either the fitted map is mostly noise; label "
            "more, or state the expected share instead (out_of_scope_share=...)",
            UserWarning,
            stacklevel=4,
        )


def calibrate_on_traffic(
    clf: IntentClassifier,
    in_scope: Sequence[str] | None,
    out_of_scope: Sequence[str] | None,
    in_scope_intents: Sequence[str] | None = None,
    out_of_scope_share: float | None = None,
) -> dict:
    """Fit the out-of-scope map of ``clf`` to labelled messages; figures before and after.

    Args:
        clf: The classifier (its ``oos_threshold`` is ``"auto"``).
        in_scope: Messages that belong to some intent, or ``None`` for the examples.
        out_of_scope: Messages that fit none (at least one).
        in_scope_intents: The intent of each ``in_scope`` message, for the accuracy figure.
        out_of_scope_share: Instead of labelled messages, the share of the traffic expected to
            be out of scope (:meth:`OutOfScopeDetector.expect_share`).

    Returns:
        ``{"scale", "offset", "before", "after"}``; only the map for a share.

    Raises:
        ValueError: If ``out_of_scope`` is empty (and no share is given), a share comes with
            labelled messages, or the intents do not match the messages.
        RuntimeError: If the classifier has no intents.
    """
    if out_of_scope_share is not None:
        if in_scope is not None or out_of_scope is not None:
            raise ValueError(
                "give calibrate() labelled messages or an out-of-scope share, not both"
            )
        clf._check_not_empty()
        with clf._lock:
            return clf.oos.expect_share(out_of_scope_share)
    out_texts = check_texts(list(out_of_scope or []), "out_of_scope")
    if not out_texts:
        raise ValueError(
            "calibrate() needs labelled out-of-scope messages (out_of_scope=[...]), or the "
            "share of traffic you expect to be out of scope (out_of_scope_share=0.5)"
        )
    clf._check_not_empty()
    if (
        in_scope is not None
        and in_scope_intents is not None
        and len(in_scope_intents) != len(in_scope)
    ):
        raise ValueError("in_scope_intents must give one intent per in_scope message")
    outside = _evidence(clf, out_texts)
    if in_scope is None:
        with clf._lock:
            inside = _leave_one_out_evidence(clf)
        truth = list(inside[3])
    else:
        inside = _evidence(clf, check_texts(list(in_scope), "in_scope"))
        truth = None if in_scope_intents is None else list(in_scope_intents)
    evidence = tuple(
        torch.cat([a, b]) if isinstance(a, torch.Tensor) else [*a, *b]
        for a, b in zip(inside, outside, strict=True)
    )
    is_oos = torch.cat(
        [
            torch.zeros(len(inside[2]), dtype=torch.bool),
            torch.ones(len(out_texts), dtype=torch.bool),
        ]
    )
    _warn_if_few(len(inside[2]), len(out_texts))
    full_truth = None if truth is None else [*truth, *[None] * len(out_texts)]
    with clf._lock:
        before = _figures(clf, evidence, is_oos, full_truth)
        chosen, runner_up, labels, _, nearest = evidence
        logits = clf.oos.out_of_scope_logits(chosen, runner_up, labels, nearest)  # (n,)
        fitted = clf.oos.calibrate(logits[~is_oos], logits[is_oos])
        after = _figures(clf, evidence, is_oos, full_truth)
    return {**fitted, "before": before, "after": after}
