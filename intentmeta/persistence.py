"""Saving and loading a classifier: JSON for what a person can read, safetensors for tensors.

Never pickle. :func:`write_classifier` and :func:`read_classifier` turn a :class:`SavedClassifier`
(configuration, intents, embeddings, head state) into a registry directory and back.

A registry directory holds ``intentmeta.json`` (format version, configuration, intents and their
examples) and one ``tensors-<id>.safetensors`` that the JSON names. Saving writes the new tensor
file first, then replaces the JSON in one atomic rename, then deletes the old tensor file: a crash
at any moment leaves a directory that loads as either the old or the new registry. Where the
platform has ``fcntl``, saving holds an exclusive lock on the directory and loading a shared one,
so processes on one machine never see a half-finished save; leftovers of a crashed save are
removed by the next one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from intentmeta.validation import check_examples, check_intent_name

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one writer at a time is then up to the caller
    fcntl = None

MANIFEST = "intentmeta.json"
FORMAT_NAME = "intentmeta-registry"
FORMAT_VERSION = 1

#: The only tensor file names a manifest may give: no separators, no way out of the directory.
_TENSOR_FILE = re.compile(r"^tensors-[0-9a-f]{1,64}\.safetensors$")

#: Temporary files of a save that did not finish (killed, power lost).
_LEFTOVER = re.compile(r"^\.(tensors-[0-9a-f]+\.safetensors|intentmeta\.json\.\w+)\.tmp$")


class RegistryError(ValueError):
    """A registry directory is missing, damaged or from an incompatible version."""


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
    if directory.exists() and not directory.is_dir():
        raise RegistryError(f"cannot save a registry to {str(directory)!r}: it is not a directory")
    directory.mkdir(parents=True, exist_ok=True)
    with _directory_lock(directory, exclusive=True):
        old_tensor_file = _referenced_tensor_file(directory)
        _remove_leftovers(directory, keep=old_tensor_file)
        _save_locked(directory, manifest, tensors, old_tensor_file)
    return directory


def _save_locked(
    directory: Path,
    manifest: dict[str, Any],
    tensors: dict[str, torch.Tensor],
    old_tensor_file: str | None,
) -> None:
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
        # The new registry is committed: failing to tidy up must not report the save as failed.
        with contextlib.suppress(OSError):
            (directory / old_tensor_file).unlink(missing_ok=True)


def _referenced_tensor_file(directory: Path) -> str | None:
    try:
        name = json.loads((directory / MANIFEST).read_text(encoding="utf-8")).get("tensors")
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
        if (orphan or _LEFTOVER.match(path.name)) and path.is_file():
            with contextlib.suppress(OSError):
                path.unlink()


def read_intents(
    manifest: dict[str, Any], where: str | os.PathLike, reserved: Iterable[str] = ()
) -> dict[str, list[str]]:
    """The intents of a loaded manifest, checked as strictly as the ``add_intent`` input.

    Args:
        manifest: What :func:`load_registry` returned.
        where: The registry's path, for error messages.
        reserved: Names no intent may have.

    Returns:
        Each intent's name and its examples, in the saved order.

    Raises:
        RegistryError: If the intents are not a list of ``{"name", "examples"}`` objects with
            valid, distinct names and distinct, non-blank string examples.
    """
    items = manifest.get("intents")
    if not isinstance(items, list):
        raise RegistryError(f"registry at {str(where)!r}: 'intents' must be a list")
    intents: dict[str, list[str]] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not {"name", "examples"} <= set(item):
            raise RegistryError(
                f"registry at {str(where)!r}: intents[{index}] must be an object with "
                "'name' and 'examples'"
            )
        try:
            name = check_intent_name(item["name"], reserved=reserved)
            examples = check_examples(item["examples"], name)
        except (TypeError, ValueError) as error:
            raise RegistryError(f"registry at {str(where)!r}: intents[{index}]: {error}") from None
        if name in intents:
            raise RegistryError(f"registry at {str(where)!r}: intent {name!r} appears twice")
        if len(examples) != len(item["examples"]):
            raise RegistryError(f"registry at {str(where)!r}: intent {name!r} repeats an example")
        intents[name] = examples
    return intents


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
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
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
        tensors = load_file(str(tensor_path))
    except FileNotFoundError:
        raise RegistryError(f"{tensor_path} is missing") from None
    except (SafetensorError, OSError, ValueError) as error:
        raise RegistryError(f"{tensor_path} is damaged (not valid safetensors): {error}") from None
    return manifest, tensors


@dataclass
class SavedClassifier:
    """What a registry directory holds, in memory.

    Attributes:
        config: The classifier's settings (``asdict(ClassifierConfig)``).
        encoder: ``{"name", "dim"}`` of the encoder that made ``embeddings``.
        out_of_scope: The out-of-scope detector's state (threshold, offset, config).
        intents: Each intent's examples, in the order added.
        embeddings: ``(n_examples, dim)`` rows following ``intents``; ``None`` if absent.
        head_parameters: The head's learned parameters.
        head_buffers: The head's support state, classes numbered by intent position.
    """

    config: dict[str, Any]
    encoder: dict[str, Any]
    out_of_scope: dict[str, Any] | None
    intents: dict[str, list[str]]
    embeddings: torch.Tensor | None = None
    head_parameters: dict[str, torch.Tensor] = field(default_factory=dict)
    head_buffers: dict[str, torch.Tensor] = field(default_factory=dict)

    def support_for(
        self, encoder: Any, where: str | os.PathLike
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor] | None]:
        """The examples' embeddings for ``encoder``, and the head state if still valid.

        The stored embeddings and head state are re-used when ``encoder`` (``name``, ``dim``,
        ``encode``) is the one that made them; otherwise the examples are encoded again and the
        head must process them anew (``None``).

        Returns:
            ``(n_examples, dim)`` float embeddings, rows following :attr:`intents`, and the
            head buffers or ``None``.

        Raises:
            RegistryError: If the stored embeddings do not fit the examples and the encoder.
        """
        same_encoder = self.encoder.get("name") == encoder.name and (
            self.encoder.get("dim") == encoder.dim
        )
        embeddings = self.embeddings
        n_examples = sum(len(group) for group in self.intents.values())
        if not same_encoder or embeddings is None:
            embeddings = encoder.encode([t for group in self.intents.values() for t in group])
        if embeddings.shape != (n_examples, encoder.dim):
            raise RegistryError(
                f"registry at {str(where)!r} stores embeddings of shape "
                f"{tuple(embeddings.shape)}, expected ({n_examples}, {encoder.dim}): it belongs "
                "to another encoder"
            )
        return embeddings.float(), self.head_buffers if same_encoder else None


def write_classifier(directory: str | os.PathLike, saved: SavedClassifier) -> Path:
    """Save a classifier atomically (see the module docstring); returns the directory."""
    manifest = {
        "config": saved.config,
        "encoder": saved.encoder,
        "oos": saved.out_of_scope,
        "intents": [{"name": n, "examples": e} for n, e in saved.intents.items()],
    }
    tensors = {f"head.{k}": v for k, v in saved.head_parameters.items()}
    if saved.intents:
        tensors["embeddings"] = saved.embeddings
        tensors.update({f"head_buffer.{k}": v for k, v in saved.head_buffers.items()})
    return save_registry(directory, manifest, tensors)


def read_classifier(directory: str | os.PathLike, reserved: Iterable[str] = ()) -> SavedClassifier:
    """Read what :func:`write_classifier` wrote, checking the intents as strictly as new input.

    Args:
        directory: The registry directory.
        reserved: Names no intent may have.

    Raises:
        RegistryError: If the directory is missing, damaged, incompatible or inconsistent.
    """
    manifest, tensors = load_registry(directory)
    intents = read_intents(manifest, directory, reserved=reserved)
    config, encoder = manifest.get("config"), manifest.get("encoder")
    if not isinstance(config, dict) or not isinstance(encoder, dict):
        raise RegistryError(
            f"registry at {str(directory)!r} is inconsistent: 'config' and 'encoder' must be "
            "objects"
        )
    return SavedClassifier(
        config=config,
        encoder=encoder,
        out_of_scope=manifest.get("oos"),
        intents=intents,
        embeddings=tensors.get("embeddings"),
        head_parameters={k[5:]: v for k, v in tensors.items() if k.startswith("head.")},
        head_buffers={k[12:]: v for k, v in tensors.items() if k.startswith("head_buffer.")},
    )
