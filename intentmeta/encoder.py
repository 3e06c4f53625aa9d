"""The frozen sentence encoder: text in, one L2-normalised vector per text out."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F
from transformers import AutoModel, AutoTokenizer
from transformers.utils import logging as transformers_logging

from intentmeta.encoder_backends import check_backend, prepare_model
from intentmeta.shipped_encoders import OFF_THE_SHELF, bundled_model_dir, shipped_encoder

#: The name under which the off-the-shelf all-MiniLM-L6-v2 is recorded in saved registries.
BUNDLED_ENCODER = OFF_THE_SHELF
__all__ = ["BUNDLED_ENCODER", "EncoderConfig", "SentenceEncoder", "bundled_model_dir"]

#: Texts on which the one-text tokenizer must agree with the tokenizer before it is used.
_PROBES = ("Where is my parcel?", "  Ünïcödé, émojis 🙂 and CAPS  ", "", "refund " * 600)


def _looks_like_a_path(source: str) -> bool:
    """Whether ``source`` names a folder rather than a Hugging Face model (``org/name``)."""
    return source.startswith(("./", "../", "/", "~", ".\\")) or source.count("/") > 1


def check_model_source(source: str) -> None:
    """Raise a clear ``ValueError`` for a model path that does not exist."""
    if _looks_like_a_path(source) and not os.path.exists(os.path.expanduser(source)):
        raise ValueError(
            f"no model folder at {source!r}: pass a folder holding a saved model, or a Hugging "
            "Face model name such as 'sentence-transformers/all-MiniLM-L6-v2'"
        )


@contextmanager
def _quiet_loading() -> Iterator[None]:
    """Hide transformers' weight-loading bar (one per classifier), then restore the setting."""
    was_enabled = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            transformers_logging.enable_progress_bar()


class Encoder(Protocol):
    """What the classifier needs from an encoder (the real one, or a fake in tests)."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> torch.Tensor:
        """``len(texts)`` texts -> ``(len(texts), dim)`` unit vectors."""


@dataclass
class EncoderConfig:
    """How texts become vectors.

    Attributes:
        model: A Hugging Face model name, a local path, ``"default"`` for the meta-learned
            MiniLM that ships with intentmeta, or ``"all-MiniLM-L6-v2"`` for the off-the-shelf
            one (both load offline; :mod:`intentmeta.shipped_encoders`).
        max_length: Token limit; longer texts are truncated, as the encoder was trained on.
        batch_size: Texts per forward pass when encoding many.
        cache_size: Texts whose embeddings are kept in memory (LRU), so re-adding or
            re-classifying the same text costs nothing.
        device: Torch device the model runs on.
        backend: ``"torch"`` runs the published float32 weights; ``"quantized"`` runs int8
            dynamically quantised linear layers on the CPU: about 2x faster per message, with
            embeddings that differ slightly (see BENCHMARKS.md, Performance); ``"onnx-int8"``
            runs an int8 ONNX export on ONNX Runtime (extra ``intentmeta[onnx]``; exported on
            first use and cached in ``~/.cache/intentmeta/onnx``).
    """

    model: str = "default"  # the shipped meta-learned MiniLM (off-the-shelf if not installed)
    max_length: int = 256  # all-MiniLM-L6-v2 was trained on 256-token inputs
    batch_size: int = 64  # a good throughput / memory trade-off on CPU
    cache_size: int = 100_000  # ~150 MB of float32 384-d vectors at most
    device: str = "cpu"
    backend: str = "torch"  # the faithful path; "quantized" is opt-in until it is as accurate


def mean_pool(token_embeddings: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average the token vectors of each text, ignoring padding.

    Args:
        token_embeddings: ``(batch, seq, dim)`` last hidden states.
        attention_mask: ``(batch, seq)`` with 1 for real tokens, 0 for padding.

    Returns:
        ``(batch, dim)`` mean of the real tokens.
    """
    mask = attention_mask.unsqueeze(-1).to(token_embeddings.dtype)  # (batch, seq, 1)
    summed = (token_embeddings * mask).sum(dim=1)  # (batch, dim)
    counts = mask.sum(dim=1).clamp(min=1e-9)  # (batch, 1); an all-padding row must not divide by 0
    return summed / counts


def tokenize(tokenizer, texts: list[str], max_length: int) -> dict[str, torch.Tensor]:
    """``texts`` as the encoder feeds them: padded to the longest, truncated to ``max_length``.

    Returns:
        ``{name: (len(texts), seq) tensor}`` for each of the tokenizer's model inputs.
    """
    return tokenizer(
        texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
    )


def one_text_tokenizer(tokenizer, max_length: int) -> Callable[[str], dict] | None:
    """A faster stand-in for :func:`tokenize` on one text.

    One message needs no padding, so the fast tokenizer's Rust backend can encode it alone: the
    Python wrapper's per-call work costs ~0.3 ms, as much as a fifth of an int8 forward pass.
    The stand-in is checked against the tokenizer on a few texts (a long one among them) and
    not used where they disagree.

    Args:
        tokenizer: A Hugging Face tokenizer.
        max_length: The token limit the encoder truncates to.

    Returns:
        ``text -> {name: (1, seq) int64 tensor}`` with the tokenizer's ``model_input_names``,
        or ``None`` for a tokenizer without a Rust backend or one the stand-in does not match.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if not getattr(tokenizer, "is_fast", False) or backend is None:
        return None
    from tokenizers import Tokenizer

    own = Tokenizer.from_str(backend.to_str())  # a copy: the wrapper resets its backend per call
    own.no_padding()
    side = getattr(tokenizer, "truncation_side", "right")
    own.enable_truncation(max_length, strategy="longest_first", direction=side)
    names = list(tokenizer.model_input_names)

    def encode(text: str) -> dict[str, torch.Tensor]:
        encoding = own.encode(text)
        columns = {
            "input_ids": encoding.ids,
            "token_type_ids": encoding.type_ids,
            "attention_mask": encoding.attention_mask,
        }
        return {name: torch.tensor([columns[name]], dtype=torch.long) for name in names}

    try:
        for text in _PROBES:
            expected, found = tokenize(tokenizer, [text], max_length), encode(text)
            if set(found) != set(expected) or any(
                not torch.equal(found[name], expected[name]) for name in expected
            ):
                return None
    except Exception:  # an input name the backend does not produce, a tokenizer quirk
        return None
    return encode


class SentenceEncoder:
    """A frozen transformer that maps texts to L2-normalised sentence embeddings.

    Any Hugging Face model name or local path works through ``AutoTokenizer`` / ``AutoModel``;
    the default is the bundled all-MiniLM-L6-v2, which needs no network. Embeddings are
    mean-pooled over real tokens, L2-normalised, computed under ``torch.inference_mode``, and
    cached per text. The encoder is safe to call from several threads.

    Args:
        config: Model name and encoding settings; ``None`` uses the defaults.

    Example:
        >>> encoder = SentenceEncoder()
        >>> encoder.encode(["where is my parcel", "hello"]).shape
        torch.Size([2, 384])
    """

    def __init__(self, config: EncoderConfig | None = None) -> None:
        self.config = config or EncoderConfig()
        shipped = shipped_encoder(self.config.model)
        source = shipped.weights if shipped else self.config.model
        self.name = shipped.name if shipped else self.config.model
        check_model_source(source)
        local_only = os.path.isdir(source) or os.environ.get("HF_HUB_OFFLINE") == "1"
        try:
            with _quiet_loading():
                self.tokenizer = AutoTokenizer.from_pretrained(
                    shipped.tokenizer if shipped else source, local_files_only=local_only
                )
                # float32 whatever the file stores: float16 weights (half the download) would
                # run slowly, or not at all, on a CPU.
                self.model = AutoModel.from_pretrained(
                    source, local_files_only=local_only, dtype=torch.float32
                )
        except (OSError, ValueError) as error:  # ValueError: a malformed model name
            raise ValueError(
                f"Cannot load encoder {self.config.model!r}: {error}. Pass a local path, or a "
                "Hugging Face model name on a machine with internet access."
            ) from error
        self.model.eval().requires_grad_(False).to(self.config.device)
        if check_backend(self.config.backend) != "torch":
            if self.config.device != "cpu":
                raise ValueError(f"the {self.config.backend} encoder backend runs on the CPU only")
            self.model = prepare_model(self.model, self.config.backend, self.tokenizer)
        model_limit = getattr(self.tokenizer, "model_max_length", self.config.max_length)
        self.max_length = min(self.config.max_length, model_limit)
        self._one_text = one_text_tokenizer(self.tokenizer, self.max_length)
        self.dim: int = self.model.config.hidden_size
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._cache_lock = threading.Lock()

    @torch.inference_mode()
    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        """Encode one batch with no cache: tokenise, run the model, pool, normalise.

        Args:
            texts: The texts of one batch.

        Returns:
            ``(len(texts), dim)`` float32 unit vectors on the CPU.
        """
        # A token is rarely over 32 characters: cutting first spares tokenising megabytes of text
        # whose tail truncation would drop anyway.
        limit = self.max_length * 32
        texts = [text[:limit] for text in texts]
        if len(texts) == 1 and self._one_text is not None:
            batch = self._one_text(texts[0])  # the same tensors, without the wrapper's overhead
        else:
            batch = tokenize(self.tokenizer, texts, self.max_length)
        batch = {key: value.to(self.config.device) for key, value in batch.items()}
        hidden = self.model(**batch).last_hidden_state  # (batch, seq, dim)
        pooled = mean_pool(hidden, batch["attention_mask"])  # (batch, dim)
        return F.normalize(pooled, dim=-1).float().cpu()

    def encode(
        self, texts: Sequence[str], *, progress: bool = False, use_cache: bool = True
    ) -> torch.Tensor:
        """Embed texts, re-using cached vectors and batching the rest by length.

        Args:
            texts: Texts to embed; repeats are encoded once.
            progress: Show a tqdm bar over batches.
            use_cache: Look up and store embeddings in the in-memory cache.

        Returns:
            ``(len(texts), dim)`` float32 unit vectors, in the order of ``texts``.
        """
        texts = list(texts)
        found: dict[str, torch.Tensor] = self._cached(texts) if use_cache else {}
        if len(texts) == 1 and not found:  # one new message (classify): no batching to do
            vectors = self.forward(texts)  # (1, dim)
            if use_cache:
                self._store({texts[0]: vectors[0]})
            return vectors
        missing = list(dict.fromkeys(text for text in texts if text not in found))
        # Sorting by length keeps texts of similar length in one batch, so little padding is run.
        missing.sort(key=len)
        batches = [
            missing[start : start + self.config.batch_size]
            for start in range(0, len(missing), self.config.batch_size)
        ]
        if progress and batches:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc="encoding", unit="batch")
        for batch in batches:
            vectors = self.forward(batch)  # (batch, dim)
            found.update(zip(batch, vectors, strict=True))
        if use_cache:
            self._store({text: found[text] for text in missing})
        if not texts:
            return torch.empty(0, self.dim)
        return torch.stack([found[text] for text in texts])  # (n_texts, dim)

    def _cached(self, texts: list[str]) -> dict[str, torch.Tensor]:
        with self._cache_lock:
            found = {}
            for text in texts:
                vector = self._cache.get(text)
                if vector is not None:
                    self._cache.move_to_end(text)
                    found[text] = vector
            return found

    def _store(self, vectors: dict[str, torch.Tensor]) -> None:
        if self.config.cache_size <= 0:
            return
        with self._cache_lock:
            for text, vector in vectors.items():
                # clone() so a cached row does not keep its whole batch tensor alive
                self._cache[text] = vector.clone()
            while len(self._cache) > self.config.cache_size:
                self._cache.popitem(last=False)

    def clear_cache(self) -> None:
        """Forget every cached embedding."""
        with self._cache_lock:
            self._cache.clear()


_SHARED: dict[tuple, SentenceEncoder] = {}
_SHARED_LOCK = threading.Lock()


def shared_encoder(config: EncoderConfig | None = None) -> SentenceEncoder:
    """One encoder per configuration per process, so many classifiers share one model in memory.

    Args:
        config: The encoder settings; ``None`` uses the defaults.

    Returns:
        A loaded encoder, created on first use.
    """
    config = config or EncoderConfig()
    shipped = shipped_encoder(config.model)  # "default" and its own name share one model
    key = (
        shipped.name if shipped else config.model,
        config.max_length,
        config.batch_size,
        config.cache_size,
        config.device,
        config.backend,
    )
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = SentenceEncoder(config)
        return _SHARED[key]
