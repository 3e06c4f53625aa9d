"""A registry's history: every saved change kept as a version that can be listed, loaded or undone.

Versions live beside the registry, in ``<registry>/history/v000001/`` and up, each one a complete
registry directory written by :func:`intentmeta.persistence.save_registry` (so any version loads
with ``IntentClassifier.load(dir, version=n)``) plus a ``version.json`` saying when and what
changed.

Crash safety, with the same atomic saves as the registry itself:

- a version is written into ``history/.tmp-<id>/`` and renamed into place in one step, so a
  version directory is either complete or absent;
- :func:`undo` first writes an ``.undo`` marker naming its target, then restores that version into
  the registry, then drops the newer versions; a kill at any moment is finished by the next call;
- every call first makes the registry itself the newest version (a kill between a save and
  :func:`record` leaves the newest change unrecorded, never lost).

Only the ``keep`` newest versions are kept; the history never drops a version among them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from intentmeta.persistence import (
    MANIFEST,
    RegistryError,
    load_registry,
    save_registry,
    write_atomically,
)


class Saveable(Protocol):
    """What :func:`save` needs: an ``IntentClassifier`` (not imported here: it imports this)."""

    def save(self, path: str | os.PathLike) -> None: ...


try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one writer at a time is up to the caller
    fcntl = None

HISTORY_DIR = "history"
VERSION_FILE = "version.json"
UNDO_MARKER = ".undo"
DEFAULT_KEEP = 20  # a long afternoon of edits; each version is one copy of the registry
_VERSION_DIR = re.compile(r"^v(\d{6,})$")
#: Manifest keys that describe the files rather than the registry's content.
_BOOKKEEPING = {"format", "format_version", "tensors", "checksum", "tensors_sha256"}


class HistoryError(RegistryError):
    """There is no such version, or nothing to undo."""


@dataclass(frozen=True)
class Version:
    """One kept state of a registry.

    Attributes:
        number: Increases with every recorded change (an undone number may be reused).
        saved_at: When it was recorded, ISO 8601 in UTC.
        note: What changed, as the caller described it (e.g. "deleted intent 'refund'").
        intents: Number of intents in this version.
        examples: Number of examples in this version.
        fingerprint: SHA-256 of the registry's content (settings and intents), for comparing.

    Example:
        >>> Version(3, "2026-01-01T00:00:00+00:00", "added intent 'x'", 21, 190, "ab12").number
        3
    """

    number: int
    saved_at: str
    note: str
    intents: int
    examples: int
    fingerprint: str


def history_dir(directory: str | os.PathLike) -> Path:
    """Where the versions of the registry in ``directory`` are kept."""
    return Path(directory) / HISTORY_DIR


def version_path(directory: str | os.PathLike, number: int) -> Path:
    """The registry directory of one kept version.

    Raises:
        HistoryError: If that version is not kept (never recorded, undone, or dropped by the cap).
    """
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise HistoryError(f"a version is a positive whole number, not {number!r}")
    path = history_dir(directory) / f"v{number:06d}"
    if not (path / VERSION_FILE).is_file():
        kept = [v.number for v in versions(directory)]
        raise HistoryError(f"version {number} is not kept; kept versions: {kept or 'none'}")
    return path


def versions(directory: str | os.PathLike) -> list[Version]:
    """The kept versions, oldest first (nothing is repaired; :func:`record` and :func:`undo` do)."""
    root = history_dir(directory)
    if not root.is_dir():
        return []
    found = []
    for path in sorted(root.iterdir()):
        if _VERSION_DIR.match(path.name) and (path / VERSION_FILE).is_file():
            with contextlib.suppress(OSError, ValueError, TypeError):
                found.append(Version(**json.loads((path / VERSION_FILE).read_text("utf-8"))))
    return sorted(found, key=lambda version: version.number)


def record(directory: str | os.PathLike, note: str = "", keep: int = DEFAULT_KEEP) -> Version:
    """Keep the registry now saved in ``directory`` as its newest version.

    Nothing new is written when the registry equals the newest version already.

    Args:
        directory: A registry directory (saved by ``IntentClassifier.save``).
        note: What changed, shown in the history.
        keep: How many versions to keep (at least 2, so the last change can be undone).

    Returns:
        The newest version, which now equals the registry.

    Raises:
        RegistryError: If ``directory`` holds no readable registry.
    """
    if not isinstance(keep, int) or keep < 2:
        raise ValueError(f"keep must be a whole number of at least 2, not {keep!r}")
    directory = Path(directory)
    with _history_lock(directory) as root:
        _recover(directory, root)
        newest = _snapshot_if_changed(directory, root, note)
        for old in versions(directory)[:-keep]:
            _discard(root / f"v{old.number:06d}")
        return newest


def undo(directory: str | os.PathLike) -> Version:
    """Put the registry in ``directory`` back to the version before the newest, and drop that one.

    Returns:
        The version the registry now equals. Load it with ``IntentClassifier.load(directory)``.

    Raises:
        HistoryError: If fewer than two versions are kept (nothing to undo).
    """
    directory = Path(directory)
    with _history_lock(directory) as root:
        _recover(directory, root)
        _snapshot_if_changed(directory, root, "unrecorded change")
        kept = versions(directory)
        if len(kept) < 2:
            raise HistoryError("there is no earlier version to go back to")
        target = kept[-2]
        write_atomically(root / UNDO_MARKER, str(target.number).encode())
        _finish_undo(directory, root, target.number)
        return target


def save(
    classifier: Saveable,
    directory: str | os.PathLike,
    note: str = "",
    keep: int = DEFAULT_KEEP,
) -> Version:
    """Save ``classifier`` to ``directory`` and record it as the newest version.

    >>> save(clf, "my_intents/", note="added intent 'gift_card'")  # doctest: +SKIP
    """
    classifier.save(directory)
    return record(directory, note=note, keep=keep)


# --------------------------------------------------------------------------------- internals
@contextlib.contextmanager
def _history_lock(directory: Path) -> Iterator[Path]:
    """Hold an advisory lock on ``<directory>/history`` (created if missing)."""
    if not (directory / MANIFEST).is_file():
        raise RegistryError(f"no registry at {str(directory)!r}; save one first")
    root = history_dir(directory)
    root.mkdir(exist_ok=True)
    if fcntl is None:
        yield root
        return
    fd = os.open(root, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield root
    finally:
        os.close(fd)


def fingerprint(manifest: dict[str, Any]) -> str:
    """SHA-256 of a manifest's content, ignoring which files hold it."""
    content = {k: v for k, v in manifest.items() if k not in _BOOKKEEPING}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _recover(directory: Path, root: Path) -> None:
    """Finish an interrupted undo and drop the half-written leftovers of a killed call."""
    for path in root.iterdir():
        if path.name.startswith((".tmp-", ".trash-")):
            shutil.rmtree(path, ignore_errors=True)
    marker = root / UNDO_MARKER
    if marker.is_file():
        try:
            target = int(marker.read_text("ascii"))
        except (OSError, ValueError):
            marker.unlink(missing_ok=True)  # written atomically, so never half: not ours
            return
        _finish_undo(directory, root, target)


def _finish_undo(directory: Path, root: Path, target: int) -> None:
    source = root / f"v{target:06d}"
    if (source / VERSION_FILE).is_file():
        manifest, tensors = load_registry(source)
        save_registry(directory, _content(manifest), tensors)
        for newer in versions(directory):
            if newer.number > target:
                _discard(root / f"v{newer.number:06d}")
    (root / UNDO_MARKER).unlink(missing_ok=True)


def _snapshot_if_changed(directory: Path, root: Path, note: str) -> Version:
    manifest, tensors = load_registry(directory)
    kept = versions(directory)
    current = fingerprint(manifest)
    if kept and kept[-1].fingerprint == current:
        return kept[-1]
    intents = manifest.get("intents") or []
    version = Version(
        number=(kept[-1].number + 1) if kept else 1,
        saved_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        note=str(note)[:200],
        intents=len(intents),
        examples=sum(len(item.get("examples", [])) for item in intents if isinstance(item, dict)),
        fingerprint=current,
    )
    temporary = root / f".tmp-{uuid.uuid4().hex[:12]}"
    try:
        save_registry(temporary, _content(manifest), tensors)
        write_atomically(temporary / VERSION_FILE, json.dumps(asdict(version)).encode())
        os.rename(temporary, root / f"v{version.number:06d}")
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    _fsync(root)
    return version


def _content(manifest: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in manifest.items() if k not in _BOOKKEEPING}


def _discard(path: Path) -> None:
    """Remove a version directory: renamed away first, so it is never seen half-deleted."""
    trash = path.with_name(f".trash-{uuid.uuid4().hex[:12]}")
    try:
        os.rename(path, trash)
    except FileNotFoundError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def _fsync(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
