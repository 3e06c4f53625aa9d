"""One registry directory on disk: atomic, checksummed, lock-protected files, never pickle.

A registry directory holds ``intentmeta.json`` (format version, configuration, intents and their
examples, the tensor file's name and SHA-256) and one ``tensors-<id>.safetensors``. Saving writes
the new tensor file first, then replaces the JSON in one atomic rename, then deletes the old
tensor file: a crash at any moment leaves a directory that loads as either the old or the new
registry, and a save that fails raises :class:`RegistrySaveError` with the directory as it was.
Where the platform has ``fcntl``, saving holds an exclusive lock on the directory and loading a
shared one, so processes on one machine never see a half-finished save; leftovers of a crashed
save are removed by the next one. Files are created with the umask's permissions.

Loading reads only the manifest and the tensor file it names, never through a symbolic link,
checks the file against the manifest's checksum (registries written before checksums load
without the check) and refuses non-finite tensors.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from safetensors import SafetensorError
from safetensors.torch import load as decode_safetensors  # bytes in, tensors out: no pickle

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one writer at a time is then up to the caller
    fcntl = None

MANIFEST = "intentmeta.json"
FORMAT_NAME = "intentmeta-registry"
FORMAT_VERSION = 1

#: The only tensor file names a manifest may give: no separators, no way out of the directory.
_TENSOR_FILE = re.compile(r"^tensors-[0-9a-f]{1,64}\.safetensors$")

#: Temporary files of a save that did not finish (killed, power lost): ours, then those of
#: earlier versions, which let safetensors write the file (``.tmp`` and six random characters).
_LEFTOVER = re.compile(
    r"^\.(tensors-[0-9a-f]+\.safetensors|intentmeta\.json)(\.\w+)?\.tmp$|^\.tmp[A-Za-z0-9]{6}$"
)

#: How the manifest records the SHA-256 of the tensor file (absent in registries written before).
CHECKSUM_KEY = "tensors_sha256"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class RegistryError(ValueError):
    """A registry directory is missing, damaged or from an incompatible version."""


class RegistrySaveError(OSError):
    """A save failed; the registry directory still holds what it held before.

    The message says why without naming any path, so a service may show it to its clients;
    the directory is in :attr:`directory` for logs, the original error in ``__cause__``.

    Attributes:
        directory: The registry directory that was not saved to.
        reason: Why, in a few words (``"Permission denied"``, ``"No space left on device"``).
    """

    def __init__(self, directory: str | os.PathLike, reason: str) -> None:
        super().__init__(f"registry not saved ({reason}); the copy on disk is unchanged")
        self.directory = str(directory)
        self.reason = reason


def _reason(error: BaseException) -> str:
    """Why a save failed, without the file names an ``OSError`` carries."""
    if isinstance(error, OSError):
        return error.strerror or type(error).__name__
    if isinstance(error, SafetensorError):
        return "safetensors could not serialise the tensors"
    return type(error).__name__


@contextlib.contextmanager
def _directory_lock(directory: Path, *, exclusive: bool) -> Iterator[None]:
    """Hold an advisory lock on the directory itself (so no lock file is left behind)."""
    if fcntl is None:
        yield
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _fsync_directory(directory: Path) -> None:
    """Flush a rename to disk where the platform allows; a failure here is not reported.

    It runs after the rename that commits a save: the new file is already the one every reader
    sees, so reporting the save as failed would make the caller's memory disagree with the disk.
    """
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # some platforms cannot open directories; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # see the docstring: the rename already took effect
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes, *, sync_directory: bool = True) -> None:
    """Write ``data`` to ``path`` through a temporary file, fsync and rename.

    The file is created with mode ``0o666`` less the umask, like any file a program writes,
    and never through a symbolic link.

    Args:
        path: Destination; its directory must exist.
        data: The whole content.
        sync_directory: Flush the rename to disk (a caller renaming several files into one
            directory may flush once, after the last).

    Raises:
        OSError: If the file cannot be written; no temporary file is left behind.
    """
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(temporary, flags, 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    if sync_directory:
        _fsync_directory(path.parent)


def save_registry(
    directory: str | os.PathLike, manifest: dict[str, Any], tensors: dict[str, torch.Tensor]
) -> Path:
    """Save a manifest and its tensors atomically.

    Args:
        directory: Registry directory; created if missing.
        manifest: JSON-serialisable description; ``format``, ``format_version``, ``tensors``
            and ``tensors_sha256`` keys are filled in here.
        tensors: Named tensors to store with safetensors.

    Returns:
        The directory's path.

    Raises:
        RegistryError: If ``directory`` is a file.
        RegistrySaveError: If anything else fails (permissions, a full disk, safetensors); the
            directory then still holds the registry it held before, and no new file.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise RegistryError(f"cannot save a registry to {str(directory)!r}: it is not a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with _directory_lock(directory, exclusive=True):
            old_tensor_file = _referenced_tensor_file(directory)
            _remove_leftovers(directory, keep=old_tensor_file)
            _save_locked(directory, manifest, tensors, old_tensor_file)
    except (OSError, SafetensorError) as error:
        raise RegistrySaveError(directory, _reason(error)) from error
    return directory


def _save_locked(
    directory: Path,
    manifest: dict[str, Any],
    tensors: dict[str, torch.Tensor],
    old_tensor_file: str | None,
) -> None:
    data = safetensors.torch.save(
        {name: t.detach().contiguous().cpu() for name, t in tensors.items()}
    )
    tensor_file = f"tensors-{uuid.uuid4().hex[:12]}.safetensors"
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        **manifest,
        "tensors": tensor_file,
        CHECKSUM_KEY: hashlib.sha256(data).hexdigest(),
    }
    text = json.dumps(manifest, indent=2, ensure_ascii=False).encode()
    write_atomically(directory / tensor_file, data, sync_directory=False)
    try:
        write_atomically(directory / MANIFEST, text)
    except BaseException:
        (directory / tensor_file).unlink(missing_ok=True)
        raise
    if old_tensor_file and old_tensor_file != tensor_file:
        # The new registry is committed: failing to tidy up must not report the save as failed.
        with contextlib.suppress(OSError):
            (directory / old_tensor_file).unlink(missing_ok=True)


def _referenced_tensor_file(directory: Path) -> str | None:
    try:
        name = json.loads(_read_regular_file(directory / MANIFEST)).get("tensors")
    except (OSError, ValueError, AttributeError, RecursionError):
        return None
    return name if isinstance(name, str) and _TENSOR_FILE.match(name) else None


def _remove_leftovers(directory: Path, keep: str | None) -> None:
    """Delete what a crashed save left: temporary files, and tensor files no manifest names.

    Unreferenced tensor files are only deleted when the manifest names one (a manifest that
    cannot be read is left for a person to look at, with every tensor file beside it).
    """
    for path in directory.iterdir():
        orphan = keep is not None and _TENSOR_FILE.match(path.name) and path.name != keep
        if (orphan or _LEFTOVER.match(path.name)) and path.is_file() and not path.is_symlink():
            with contextlib.suppress(OSError):
                path.unlink()


def _read_regular_file(path: Path) -> bytes:
    """The bytes of ``path``, refusing a symbolic link (which could point out of the directory).

    Raises:
        FileNotFoundError: If it is missing.
        RegistryError: If it is a symbolic link or not a regular file.
        OSError: If it cannot be read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as error:
        if path.is_symlink():
            raise RegistryError(
                f"{path} is a symbolic link; a registry holds no links, so nothing outside its "
                "directory is read"
            ) from None
        raise error
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise RegistryError(f"{path} is not a regular file")
        return file.read()


def _check_tensors(path: Path, data: bytes, expected: object) -> dict[str, torch.Tensor]:
    """Verify the checksum (when the manifest has one), decode, and refuse non-finite values."""
    if expected is not None:
        if not isinstance(expected, str) or not _SHA256.match(expected):
            raise RegistryError(
                f"{CHECKSUM_KEY} must be 64 lowercase hexadecimal digits, not {expected!r}"
            )
        if hashlib.sha256(data).hexdigest() != expected:
            raise RegistryError(
                f"{path} is damaged or not this registry's: its SHA-256 does not match the "
                f"checksum in {MANIFEST} (changed, truncated, or copied from another registry)"
            )
    try:
        tensors = decode_safetensors(data)
    except (SafetensorError, ValueError) as error:
        raise RegistryError(f"{path} is damaged (not valid safetensors): {error}") from None
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise RegistryError(f"{path}: tensor {name!r} holds non-finite values (NaN or inf)")
    return tensors


def load_registry(directory: str | os.PathLike) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read a registry directory written by :func:`save_registry`.

    Only ``intentmeta.json`` and the safetensors file it names are read; any other file in the
    directory (a planted pickle, say) is ignored.

    Args:
        directory: The registry directory.

    Returns:
        The manifest and its tensors.

    Raises:
        RegistryError: If the directory or a file is missing, truncated, or of another format.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise RegistryError(f"no registry directory at {str(directory)!r}")
    try:
        with _directory_lock(directory, exclusive=False):
            return _load_locked(directory)
    except PermissionError as error:
        raise RegistryError(f"cannot read the registry at {str(directory)!r}: {error}") from None


def _load_locked(directory: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    manifest_path = directory / MANIFEST
    try:
        manifest = json.loads(_read_regular_file(manifest_path).decode("utf-8"))
    except FileNotFoundError:
        raise RegistryError(f"{str(directory)!r} has no {MANIFEST}; is it a registry?") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise RegistryError(f"{manifest_path} is damaged (not valid JSON): {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise RegistryError(f"{manifest_path} is not an intentmeta registry manifest")
    version = manifest.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise RegistryError(
            f"{manifest_path} has format version {version!r}; this intentmeta reads version "
            f"{FORMAT_VERSION}"
        )
    tensor_name = manifest.get("tensors")
    if not isinstance(tensor_name, str) or not _TENSOR_FILE.match(tensor_name):
        raise RegistryError(
            f"{manifest_path} names no valid tensor file ({tensor_name!r}; expected "
            "'tensors-<hex id>.safetensors' inside the registry directory)"
        )
    tensor_path = directory / tensor_name
    try:
        data = _read_regular_file(tensor_path)
    except FileNotFoundError:
        raise RegistryError(f"{tensor_path} is missing") from None
    except OSError as error:
        raise RegistryError(f"cannot read {tensor_path}: {error.strerror or error}") from None
    return manifest, _check_tensors(tensor_path, data, manifest.get(CHECKSUM_KEY))
