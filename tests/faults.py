"""Ways to make a save fail for real: a read-only directory, a full disk, a failing safetensors.

Shared by the save-failure tests and the registry state machine. Each is a context manager that
holds the fault for the duration of the ``with`` block only.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import safetensors.torch
from safetensors import SafetensorError

#: A user with no rights on the test's files; root ignores file modes, so it acts as this user.
NOBODY = 65534


def world_readable_temporary_directory(prefix: str = "intentmeta-fault-") -> Path:
    """A fresh directory that an unprivileged user may traverse (pytest's ``tmp_path`` is 0700).

    :func:`read_only` runs the save as ``nobody`` when the tests run as root, so the registry
    must live where ``nobody`` can reach it.
    """
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    directory.chmod(0o755)
    return directory


@contextlib.contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """Make ``directory`` unwritable. Root writes through file modes, so as root the block runs
    with the effective user id of ``nobody`` (the directory must be reachable by it: see
    :func:`world_readable_temporary_directory`)."""
    mode = directory.stat().st_mode & 0o7777
    directory.chmod(0o555)
    as_root = os.geteuid() == 0
    try:
        if as_root:
            os.seteuid(NOBODY)
        yield
    finally:
        if as_root:
            os.seteuid(0)
        directory.chmod(mode)


@contextlib.contextmanager
def disk_full(limit_bytes: int = 512) -> Iterator[None]:
    """Make every write past ``limit_bytes`` of a file fail with an OS error (``EFBIG``).

    The kernel enforces the file-size limit (``RLIMIT_FSIZE``) for root too, for Python's writes
    and safetensors' Rust writes alike: the same failure a full disk gives, at a chosen size.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills us
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def _safetensors_fails(*args: object, **kwargs: object) -> None:
    raise SafetensorError("Error while serializing: simulated failure inside safetensors")


@contextlib.contextmanager
def safetensors_fails() -> Iterator[None]:
    """Make safetensors' serialisers raise its own ``SafetensorError`` (not an ``OSError``).

    Patched in ``safetensors.torch`` and wherever an intentmeta module imported them by name.
    """
    targets = [safetensors.torch] + [
        module
        for name, module in list(sys.modules.items())
        if name.startswith("intentmeta") and module is not None
    ]
    originals = {name: getattr(safetensors.torch, name) for name in ("save_file", "save")}
    saved = []
    for target in targets:
        for attribute, original in originals.items():
            current = getattr(target, attribute, None)
            if current is original:
                saved.append((target, attribute, current))
                setattr(target, attribute, _safetensors_fails)
    try:
        yield
    finally:
        for target, attribute, current in saved:
            setattr(target, attribute, current)


FAULTS = {"read_only": read_only, "disk_full": disk_full, "safetensors_fails": safetensors_fails}


@contextlib.contextmanager
def fault(kind: str, directory: Path) -> Iterator[None]:
    """Hold the fault named ``kind`` (one of :data:`FAULTS`) on ``directory``."""
    if kind == "read_only":
        with read_only(directory):
            yield
    else:
        with FAULTS[kind]():
            yield
