"""Encoders of the open-intent benchmark: cached tables, and a second encoder to check on.

``LayerEncoder`` cuts all-MiniLM-L6-v2 after a few layers: an encoder whose cosine similarities
live in another range, available offline, for checking that the out-of-scope rule holds on more
than the encoder it was fitted for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from intentmeta.encoder import SentenceEncoder, mean_pool
from intentmeta.research.embedding_cache import EmbeddingCache, encoder_key


class LayerEncoder:
    """A second encoder for robustness checks: all-MiniLM-L6-v2 cut after ``layer`` layers.

    The intermediate layer's tokens are mean-pooled and L2-normalised like the final ones; its
    cosine similarities sit in another range (higher, less spread), which is what a rejection
    rule must not depend on.

    Args:
        layer: How many transformer layers to keep (1-6).
        base: The loaded full encoder whose model and tokenizer are shared.

    Example:
        >>> encoder = LayerEncoder(3, SentenceEncoder())  # doctest: +SKIP
    """

    def __init__(self, layer: int, base: SentenceEncoder) -> None:
        self.layer = layer
        self.base = base
        self.name = f"{base.name}@layer{layer}"
        self.dim = base.dim
        self.max_length = base.max_length

    @torch.inference_mode()
    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        """``(n, dim)`` unit vectors of one batch, running only the first ``layer`` layers."""
        batch = self.base.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )
        model = self.base.model
        kept = model.encoder.layer
        model.encoder.layer = kept[: self.layer]  # the first layers only; restored below
        try:
            hidden = model(**batch).last_hidden_state  # (n, seq, dim)
        finally:
            model.encoder.layer = kept
        return F.normalize(mean_pool(hidden, batch["attention_mask"]), dim=-1).float()

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> torch.Tensor:
        """``(len(texts), dim)`` layer-``layer`` unit vectors, batched by length."""
        texts = list(texts)
        if not texts:
            return torch.empty(0, self.dim)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        batches = [order[i : i + 64] for i in range(0, len(order), 64)]
        if progress:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc="encoding", unit="batch")
        out = torch.empty(len(texts), self.dim)
        for rows in batches:
            out[rows] = self.forward([texts[i] for i in rows])
        return out


class TableEncoder:
    """An encoder that looks texts up in a table of precomputed embeddings.

    Example:
        >>> encoder = TableEncoder("toy", {"hi": torch.ones(2)})
        >>> encoder.encode(["hi"]).shape
        torch.Size([1, 2])
    """

    def __init__(self, name: str, table: dict[str, torch.Tensor]) -> None:
        self.name = name
        self.table = table
        self.dim = len(next(iter(table.values())))

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> torch.Tensor:
        """``(len(texts), dim)`` stored rows; ``KeyError`` for a text never embedded."""
        if not texts:
            return torch.empty(0, self.dim)
        return torch.stack([self.table[text] for text in texts])


def cached_table_encoder(
    encoder, texts: Sequence[str], cache_dir: str | Path | None = None
) -> TableEncoder:
    """Embed ``texts`` through the on-disk cache (encoding only the missing ones)."""
    from intentmeta.research.embedding_cache import cached_encode

    texts = list(dict.fromkeys(texts))
    cache = EmbeddingCache(cache_dir)
    found = cache.get(encoder_key(encoder), texts)
    if len(found) < len(texts):
        rows = cached_encode(encoder, texts, cache_dir=cache_dir)
        found = dict(zip(texts, rows, strict=True))
    return TableEncoder(encoder.name, found)


def off_the_shelf_encoder():
    """The published all-MiniLM-L6-v2, which never saw BANKING77 or CLINC150: what research
    figures on those data sets use (the shipped meta-learned encoder trained on both)."""
    from intentmeta.encoder import EncoderConfig, shared_encoder
    from intentmeta.shipped_encoders import OFF_THE_SHELF

    return shared_encoder(EncoderConfig(model=OFF_THE_SHELF))


def load_encoder(name: str):
    """The encoder of ``OpenConfig.encoder``: ``"default"`` (the off-the-shelf MiniLM, see
    :func:`off_the_shelf_encoder`), ``"layerN"`` (its first N layers), or any other Hugging Face
    model name or local path."""
    from intentmeta.encoder import EncoderConfig, shared_encoder

    if name == "default":
        return off_the_shelf_encoder()
    if name.startswith("layer") and name[5:].isdigit():
        return LayerEncoder(int(name[5:]), off_the_shelf_encoder())
    return shared_encoder(EncoderConfig(model=name))


def check_never_seen(run: str | Path, dataset: str) -> None:
    """Refuse a figure on ``dataset`` from an encoder trained on it.

    A model directory with a ``training.json`` (``intentmeta train --encoder``) must not list the
    data set among its ``sources``; the shipped meta-learned encoder trained on every data set
    here, so it is refused by name. ``"default"`` is the research scripts' name for the
    off-the-shelf MiniLM (:func:`load_encoder`), which saw neither.

    Raises:
        SystemExit: If the encoder saw ``dataset``.

    >>> check_never_seen("default", "clinc150")  # the off-the-shelf MiniLM: allowed
    >>> check_never_seen("intentmeta/minilm-intents-v1", "clinc150")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    SystemExit: intentmeta/minilm-intents-v1 was trained on clinc150: ... would be unfair
    """
    import json

    from intentmeta.shipped_encoders import META_LEARNED, shipped_encoder

    if str(run) == "default":
        return
    shipped = shipped_encoder(str(run)) if not Path(str(run)).is_dir() else None
    if shipped is not None and shipped.name == META_LEARNED:
        raise SystemExit(f"{run} was trained on {dataset}: its {dataset} figures would be unfair")
    record = Path(str(run)) / "training.json"
    sources = json.loads(record.read_text())["sources"] if record.is_file() else []
    if any(Path(source).name == dataset for source in sources):
        raise SystemExit(f"{run} was trained on {dataset}: its {dataset} figures would be unfair")


def encoders_per_dataset(pairs: Sequence[str]) -> dict[str, str]:
    """``["banking77=DIR", ...]`` (``--encoder-for``) -> ``{"banking77": "DIR"}``, each checked
    with :func:`check_never_seen`.

    >>> encoders_per_dataset(["clinc150=all-MiniLM-L6-v2"])
    {'clinc150': 'all-MiniLM-L6-v2'}
    """
    chosen: dict[str, str] = {}
    for pair in pairs:
        dataset, separator, encoder = pair.partition("=")
        if not separator or not dataset or not encoder:
            raise SystemExit(f"--encoder-for takes DATA=ENCODER, not {pair!r}")
        check_never_seen(encoder, dataset)
        chosen[dataset] = encoder
    return chosen
