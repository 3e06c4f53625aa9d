"""An on-disk embedding cache per (encoder, text), so a second evaluation run skips encoding.

Vectors are float32 blobs in one SQLite file (no pickle), keyed by the encoder's identity and the
SHA-256 of the text. SQLite makes concurrent readers and writers safe.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

#: Environment variable overriding the default cache directory.
CACHE_ENV = "INTENTMETA_CACHE"

_LOOKUP_CHUNK = 500  # below SQLite's oldest limit of 999 bound variables per statement


class TextEncoder(Protocol):
    """What the cache needs: an encoder's ``name``, ``dim`` and ``encode``."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> torch.Tensor:
        """``len(texts)`` texts -> ``(len(texts), dim)`` vectors."""


def default_cache_dir() -> Path:
    """``$INTENTMETA_CACHE`` if set, else ``~/.cache/intentmeta/embeddings``."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    return Path.home() / ".cache" / "intentmeta" / "embeddings"


def encoder_key(encoder: TextEncoder) -> str:
    """The identity under which an encoder's vectors are stored.

    Name, dimension, token limit, backend and ONNX export: the same model truncating
    differently, or run in int8, or exported by another recipe, gives other vectors. A local model
    directory also adds the SHA-256 of its weights, so retraining into the same directory, or two
    directories of one name, never read each other's vectors.
    """
    max_length = getattr(encoder, "max_length", None)
    key = f"{encoder.name}|dim={encoder.dim}|max_length={max_length}"
    weights = Path(str(encoder.name)) / "model.safetensors"
    if weights.is_file():
        key += f"|weights={_file_sha256(str(weights), weights.stat().st_mtime_ns)}"
    # An int8 backend gives other vectors for the same model: keep them apart.
    backend = getattr(getattr(encoder, "config", None), "backend", "torch")
    if backend != "torch":
        key += f"|backend={backend}"
    # An ONNX export is named by the hash of its model and recipe: a new recipe, new vectors.
    export = getattr(getattr(encoder, "model", None), "export_key", None)
    return key if export is None else f"{key}|export={export}"


@functools.lru_cache(maxsize=32)
def _file_sha256(path: str, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def _text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Embeddings on disk, one SQLite file in a directory.

    Args:
        cache_dir: The directory; ``None`` uses :func:`default_cache_dir`.

    Example:
        >>> import tempfile
        >>> cache = EmbeddingCache(tempfile.mkdtemp())
        >>> cache.put("model", ["hi"], torch.ones(1, 3))
        >>> cache.get("model", ["hi", "bye"])["hi"].shape
        torch.Size([3])
    """

    def __init__(self, cache_dir: str | os.PathLike | None = None) -> None:
        self.directory = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / "embeddings.sqlite"
        connection = self._connect()
        with connection:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS embeddings (model TEXT NOT NULL, text_hash TEXT NOT "
                "NULL, dim INTEGER NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (model, text_hash))"
            )
        connection.close()

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=60)

    def get(self, model: str, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """The cached vectors of those texts that have one.

        Args:
            model: The encoder key (see :func:`encoder_key`).
            texts: Texts to look up.

        Returns:
            ``text -> (dim,)`` float32 vector, for the texts found.
        """
        by_hash = {_text_key(text): text for text in texts}
        hashes = list(by_hash)
        found: dict[str, torch.Tensor] = {}
        connection = self._connect()
        try:
            for start in range(0, len(hashes), _LOOKUP_CHUNK):
                chunk = hashes[start : start + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = connection.execute(
                    "SELECT text_hash, dim, vector FROM embeddings "
                    f"WHERE model = ? AND text_hash IN ({marks})",
                    [model, *chunk],
                )
                for text_hash, dim, blob in rows:
                    vector = np.frombuffer(blob, dtype=np.float32)
                    if vector.size == dim:  # a damaged row is treated as missing
                        found[by_hash[text_hash]] = torch.from_numpy(vector.copy())
        finally:
            connection.close()
        return found

    def put(self, model: str, texts: Sequence[str], vectors: torch.Tensor) -> None:
        """Store one vector per text.

        Args:
            model: The encoder key.
            texts: The texts.
            vectors: ``(len(texts), dim)`` embeddings.
        """
        array = vectors.detach().to(torch.float32).cpu().numpy()  # (n, dim)
        rows = [
            (model, _text_key(text), array.shape[1], array[i].tobytes())
            for i, text in enumerate(texts)
        ]
        connection = self._connect()
        with connection:
            connection.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?)", rows)
        connection.close()


def cached_encode(
    encoder: TextEncoder,
    texts: Sequence[str],
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> torch.Tensor:
    """Embed texts, reading what is cached on disk and encoding (then storing) only the rest.

    Args:
        encoder: An object with ``name``, ``dim`` and ``encode(texts, progress=...)``.
        texts: The texts to embed.
        cache_dir: Cache directory; ``None`` uses ``$INTENTMETA_CACHE`` or
            ``~/.cache/intentmeta/embeddings``.
        progress: Show a progress bar while encoding the missing texts.

    Returns:
        ``(len(texts), dim)`` float32 embeddings in the order of ``texts``.
    """
    texts = list(texts)
    if not texts:
        return torch.empty(0, encoder.dim)
    cache = EmbeddingCache(cache_dir)
    model = encoder_key(encoder)
    found = cache.get(model, texts)
    missing = [text for text in dict.fromkeys(texts) if text not in found]
    if missing:
        vectors = encoder.encode(missing, progress=progress).float()  # (n_missing, dim)
        cache.put(model, missing, vectors)
        found.update(zip(missing, vectors, strict=True))
    return torch.stack([found[text] for text in texts])  # (n_texts, dim)


class CachedEncoder:
    """An encoder whose ``encode`` goes through the on-disk cache (:func:`cached_encode`).

    For code that takes an encoder object (``IntentClassifier(encoder=...)``) rather than texts.

    Args:
        encoder: The encoder to wrap (``name``, ``dim``, ``encode``).
        cache_dir: Cache directory; ``None`` uses :func:`default_cache_dir`.

    Example:
        >>> from intentmeta.encoder import shared_encoder
        >>> encoder = CachedEncoder(shared_encoder())  # doctest: +SKIP
    """

    def __init__(self, encoder: TextEncoder, cache_dir: str | os.PathLike | None = None) -> None:
        self.encoder = encoder
        self.name = encoder.name
        self.dim = encoder.dim
        self.max_length = getattr(encoder, "max_length", None)  # part of the cache key
        self.cache_dir = cache_dir

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> torch.Tensor:
        """``(len(texts), dim)`` embeddings, encoding only the texts not cached yet."""
        return cached_encode(self.encoder, texts, self.cache_dir, progress)
