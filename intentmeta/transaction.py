"""All-or-nothing edits: change a classifier and save it, or leave memory and disk as they were.

A service that saves after every edit must never be left with an edit that is live in memory but
missing on disk (a restart would silently lose it) nor report a change it did not keep.
:func:`saved_together` snapshots the classifier, runs the caller's edits, saves; if an edit or the
save fails, the snapshot is put back and the error re-raised, so memory again equals the disk.
"""

from __future__ import annotations

import contextlib
import copy
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from intentmeta.editing import IntentEditing


@dataclass
class _Snapshot:
    """Deep copies of everything an edit may change (the registry's lock excepted)."""

    registry: dict[str, Any]
    head: Any
    oos: Any
    config: Any

    @classmethod
    def of(cls, clf: IntentEditing) -> _Snapshot:
        state = {key: value for key, value in vars(clf._registry).items() if key != "lock"}
        return cls(
            copy.deepcopy(state), copy.deepcopy(clf.head), copy.deepcopy(clf.oos),
            copy.deepcopy(clf.config),
        )  # fmt: skip

    def restore(self, clf: IntentEditing) -> None:
        vars(clf._registry).update(self.registry)
        clf.head, clf.oos, clf.config = self.head, self.oos, self.config


@contextlib.contextmanager
def saved_together(clf: IntentEditing, directory: str | os.PathLike) -> Iterator[None]:
    """Apply the edits of a ``with`` block and save them, or neither (see the module docstring).

    The classifier's lock is held for the whole block, so other threads' edits and
    classifications wait rather than see, or lose, a change that may still be undone. Copying
    the classifier costs about as much as saving it.

    Args:
        clf: The classifier to edit.
        directory: The registry directory to save to.

    Raises:
        RegistrySaveError: If the save fails (memory is put back first).
        Exception: Whatever an edit in the block raised (memory is put back first).
    """
    with clf._lock:
        before = _Snapshot.of(clf)
        try:
            yield
            clf.save(directory)  # type: ignore[attr-defined]  # IntentClassifier's
        except BaseException:
            before.restore(clf)
            raise
