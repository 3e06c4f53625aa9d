"""Warnings that the out-of-scope rule decides outside what it was fitted on, once per reason.

A classifier under ``oos_threshold="auto"`` warns once per kind of reason (too few examples per
intent, a cosine spread far from the fitted one, a statistic too small to measure) for as long
as it keeps its rule: an edit that only moves the figures in the message does not warn again.
Code that fits many classifiers in one run (the evaluations of :mod:`intentmeta.research`,
``intentmeta eval``) wraps the run in :func:`warn_once_per_run`, so that each kind is shown once
in all rather than once per classifier.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

# The kinds already warned of in the current run; None outside warn_once_per_run().
_RUN_WARNED: ContextVar[set[str] | None] = ContextVar("rule_provenance_warned", default=None)


@contextmanager
def warn_once_per_run() -> Iterator[None]:
    """Within the block, each kind of provenance warning is shown once, however many
    classifiers warn of it; usable as a decorator. A nested block shares the outer one's record.

    Example:
        >>> with warn_once_per_run():
        ...     pass  # fit and evaluate many classifiers
    """
    if _RUN_WARNED.get() is not None:
        yield
        return
    token = _RUN_WARNED.set(set())
    try:
        yield
    finally:
        _RUN_WARNED.reset(token)


def warn_outside_provenance(
    reasons: Mapping[str, str], warned: set[str], stacklevel: int = 1
) -> None:
    """Warn of each reason whose kind neither this caller nor the current run has warned of.

    Args:
        reasons: ``{kind: reason}`` (:meth:`~intentmeta.rejection_rule.RejectionRule.
            outside_provenance`).
        warned: The kinds this caller (one classifier's detector) has warned of; updated.
        stacklevel: As for :func:`warnings.warn`, counted from the caller of this function.
    """
    run = _RUN_WARNED.get()
    for kind, reason in reasons.items():
        if kind in warned or (run is not None and kind in run):
            continue
        warned.add(kind)
        if run is not None:
            run.add(kind)
        warnings.warn(
            f"out-of-scope rule outside what it was fitted on: {reason}. Decisions may be less "
            "reliable: calibrate() on labelled traffic, or refit the rule for this encoder "
            "(training/fit_rejection_rule.py).",
            stacklevel=stacklevel + 1,
        )
