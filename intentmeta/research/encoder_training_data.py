"""Where encoder meta-training episodes come from: pools per source or domain, and held-out intents.

A CLINC150 directory (it has ``domains.json``) holds out whole *domains*, so the stopping point is
chosen on a kind of intent never trained on; any other source holds out a fraction of its intents.
Only the ``train`` split is read: validation and test splits stay untouched.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from intentmeta.research.data import load_dataset, load_domains
from intentmeta.research.encoder_training import Pool


@dataclass
class PoolConfig:
    """How sources are cut into training pools and held-out intents.

    Attributes:
        scope: ``"source"`` (an episode mixes a source's intents) or ``"domain"`` (an episode
            stays within one CLINC150 domain; sources without domains stay whole).
        holdout_domains: Domains of a source with ``domains.json`` held out for the probe.
        holdout_fraction: Fraction of intents held out of a source without domains.
        seed: Which domains / intents are held out.
    """

    scope: str = "source"  # 48-way episodes need more intents than a CLINC150 domain has
    holdout_domains: int = 2  # 30 CLINC150 intents: a stable probe, 80% left to train on
    holdout_fraction: float = 0.2  # 15 of BANKING77's 77 intents
    seed: int = 0


@dataclass
class TrainingData:
    """Training pools and the held-out intents' messages."""

    pools: list[Pool]
    heldout_texts: list[str] = field(default_factory=list)
    heldout_labels: list[str] = field(default_factory=list)


def training_data(sources: Sequence[str | os.PathLike], config: PoolConfig) -> TrainingData:
    """Read the ``train`` split of each source and cut it into pools and held-out intents.

    Args:
        sources: Data set directories or files (anything :func:`~intentmeta.data.load_dataset`
            reads).
        config: Scope and hold-out settings.

    Returns:
        The pools and the held-out messages (labels prefixed with the source's name, so two
        sources' intents never merge).

    Raises:
        ValueError: If a source is unreadable or the scope unknown.
    """
    if config.scope not in ("source", "domain"):
        raise ValueError(f"scope must be 'source' or 'domain', not {config.scope!r}")
    data = TrainingData(pools=[])
    for source in sources:
        split = load_dataset(source, "train")
        name = split.name or Path(source).name
        domains = _domains(source)
        if domains:
            names = sorted(domains)
            held = set(random.Random(config.seed).sample(names, config.holdout_domains))
            heldout_intents = {i for d in held for i in domains[d]}
            groups = {d: domains[d] for d in names if d not in held}
        else:
            intents = split.intents
            n_held = round(config.holdout_fraction * len(intents))
            heldout_intents = set(random.Random(config.seed).sample(intents, n_held))
            groups = {name: [i for i in intents if i not in heldout_intents]}
        if config.scope == "source":
            groups = {name: [i for intents in groups.values() for i in intents]}
        for group, intents in groups.items():
            kept = split.subset(intents=intents)
            label = name if group == name else f"{name}/{group}"
            data.pools.append(Pool(label, kept.texts, [f"{name}:{x}" for x in kept.labels]))
        held_rows = split.subset(intents=sorted(heldout_intents))
        data.heldout_texts += held_rows.texts
        data.heldout_labels += [f"{name}:{x}" for x in held_rows.labels]
    return data


def _domains(source: str | os.PathLike) -> dict[str, list[str]] | None:
    try:
        return load_domains(source)
    except ValueError:
        return None
