"""Few-shot heads: one file per method, one contract (support set in, logits out)."""

from __future__ import annotations

from intentmeta.heads.adaptation import AdaptationConfig, PrototypeAdaptation
from intentmeta.heads.base import FewShotHead, HeadStep, TopClasses
from intentmeta.heads.composed import PrototypicalHead
from intentmeta.heads.config import HeadConfig
from intentmeta.heads.full_context import FullContextConfig, FullContextEmbedding
from intentmeta.heads.matching import MatchingHead
from intentmeta.heads.nearest import NearestExampleConfig, NearestExamples
from intentmeta.heads.prototypical import PlainPrototypicalHead
from intentmeta.heads.whitening import SupportWhitening, WhiteningConfig

HEADS: dict[str, type[FewShotHead]] = {
    "prototypical": PrototypicalHead,
    "matching": MatchingHead,
}


def build_head(name: str, config: HeadConfig) -> FewShotHead:
    """Create a head by name.

    Args:
        name: ``"prototypical"`` or ``"matching"``.
        config: The head's settings.

    Raises:
        ValueError: If the name is not a known head.
    """
    if name not in HEADS:
        raise ValueError(f"head must be one of {sorted(HEADS)}, not {name!r}")
    return HEADS[name](config)


__all__ = [
    "HEADS",
    "AdaptationConfig",
    "FewShotHead",
    "FullContextConfig",
    "FullContextEmbedding",
    "HeadConfig",
    "HeadStep",
    "MatchingHead",
    "NearestExampleConfig",
    "NearestExamples",
    "PlainPrototypicalHead",
    "PrototypeAdaptation",
    "PrototypicalHead",
    "SupportWhitening",
    "TopClasses",
    "WhiteningConfig",
    "build_head",
]
