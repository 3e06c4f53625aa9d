"""Registry files on disk: JSON for what a person can read, safetensors for tensors, never pickle.

A registry directory holds ``intentmeta.json`` (format version, configuration, intents and their
examples) and one ``tensors-<id>.safetensors`` that the JSON names. Saving writes the new tensor
file first, then replaces the JSON in one atomic rename, then deletes the old tensor file: a crash
at any moment leaves a directory that loads as either the old or the new registry.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

MANIFEST = "intentmeta.json"
FORMAT_NAME = "intentmeta-registry"
FORMAT_VERSION = 1


class RegistryError(ValueError):
    """A registry directory is missing, damaged or from an incompatible version."""


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # some platforms cannot open directories; the rename is still atomic
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, fsync and rename.

    Args:
        path: Destination; its directory must exist.
        data: The whole content.
    """
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def save_registry(
    directory: str | os.PathLike, manifest: dict[str, Any], tensors: dict[str, torch.Tensor]
) -> Path:
    """Save a manifest and its tensors atomically.

    Args:
        directory: Registry directory; created if missing.
        manifest: JSON-serialisable description; ``format``, ``format_version`` and ``tensors``
            keys are filled in here.
        tensors: Named tensors to store with safetensors.

    Returns:
        The directory's path.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    old_tensor_file = _referenced_tensor_file(directory)
    tensor_file = f"tensors-{uuid.uuid4().hex[:12]}.safetensors"
    temporary = directory / f".{tensor_file}.tmp"
    try:
        save_file(
            {name: t.detach().contiguous().cpu() for name, t in tensors.items()}, str(temporary)
        )
        with open(temporary, "rb+") as file:
            os.fsync(file.fileno())
        os.replace(temporary, directory / tensor_file)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        **manifest,
        "tensors": tensor_file,
    }
    try:
        write_atomically(
            directory / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False).encode()
        )
    except BaseException:
        (directory / tensor_file).unlink(missing_ok=True)
        raise
    if old_tensor_file and old_tensor_file != tensor_file:
        (directory / old_tensor_file).unlink(missing_ok=True)
    return directory


def _referenced_tensor_file(directory: Path) -> str | None:
    try:
        return json.loads((directory / MANIFEST).read_text()).get("tensors")
    except (OSError, ValueError, AttributeError):
        return None


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
    manifest_path = directory / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RegistryError(f"{str(directory)!r} has no {MANIFEST}; is it a registry?") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RegistryError(f"{manifest_path} is damaged (not valid JSON): {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise RegistryError(f"{manifest_path} is not an intentmeta registry manifest")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise RegistryError(
            f"{manifest_path} has format version {version!r}; this intentmeta reads version "
            f"{FORMAT_VERSION}"
        )
    tensor_name = manifest.get("tensors")
    if not isinstance(tensor_name, str) or Path(tensor_name).name != tensor_name:
        raise RegistryError(f"{manifest_path} names no valid tensor file")
    tensor_path = directory / tensor_name
    try:
        tensors = load_file(str(tensor_path))
    except FileNotFoundError:
        raise RegistryError(f"{tensor_path} is missing") from None
    except (SafetensorError, OSError, ValueError) as error:
        raise RegistryError(f"{tensor_path} is damaged (not valid safetensors): {error}") from None
    return manifest, tensors
