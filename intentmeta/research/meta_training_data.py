"""Training and validation embeddings for meta-training: class-disjoint, domain-aware, cached.

Validation intents must never be trained on: they come from a separate data set, from whole
held-out CLINC150 domains (the honest test of transfer), or from a class-disjoint split of the
training intents.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import torch

from intentmeta.research.data import IntentDataset, load_dataset, load_domains
from intentmeta.research.episodes import class_disjoint_split

Arrays = tuple[torch.Tensor, torch.Tensor]  # (n, dim) embeddings, (n,) integer intent labels


def domain_intents(source: str, domains: Sequence[str]) -> list[str]:
    """The intents of some CLINC150 domains.

    Raises:
        ValueError: If a domain is unknown.
    """
    known = load_domains(source)
    unknown = sorted(set(domains) - set(known))
    if unknown:
        raise ValueError(f"unknown domains {unknown}; the data set has {sorted(known)}")
    return [intent for domain in domains for intent in known[domain]]


def split_intents(
    data: IntentDataset,
    source: str,
    validation_domains: Sequence[str] = (),
    holdout_domains: Sequence[str] = (),
    validation_fraction: float = 0.2,
    seed: int = 0,
) -> tuple[list[str], list[str]]:
    """Training and validation intents, class-disjoint.

    Args:
        data: The training data set.
        source: Its path (for ``domains.json``).
        validation_domains: Domains whose intents validate; if empty, a random
            ``validation_fraction`` of the intents does.
        holdout_domains: Domains left out of both (kept for the final test).
        validation_fraction: Share of intents held out when no validation domain is given
            (0: no validation intents).
        seed: Seed of the random intent split.

    Returns:
        ``(training_intents, validation_intents)``.
    """
    held_out = set(domain_intents(source, holdout_domains)) if holdout_domains else set()
    intents = [intent for intent in data.intents if intent not in held_out]
    if validation_domains:
        validation = set(domain_intents(source, validation_domains))
        return [i for i in intents if i not in validation], [i for i in intents if i in validation]
    if validation_fraction <= 0:
        return intents, []
    train, validation = class_disjoint_split(
        intents, [1 - validation_fraction, validation_fraction], seed
    )
    return list(train), list(validation)


def encode_dataset(data: IntentDataset, cache_dir: str | None = None) -> Arrays:
    """Cached frozen-encoder embeddings of a data set, with its intents as integer labels."""
    from intentmeta.research.benchmark_encoders import off_the_shelf_encoder
    from intentmeta.research.embedding_cache import cached_encode

    embeddings = cached_encode(off_the_shelf_encoder(), data.texts, cache_dir)  # (n, dim)
    column = {intent: c for c, intent in enumerate(sorted(set(data.labels)))}
    return embeddings, torch.tensor([column[label] for label in data.labels])


def training_arrays(args: argparse.Namespace) -> tuple[Arrays, Arrays | None, dict]:
    """Training and validation arrays for ``intentmeta train``, and facts to record.

    Args:
        args: ``--data``, ``--validation-data``, ``--validation-domains``,
            ``--holdout-domains``, ``--validation-fraction``, ``--seed``, ``--cache-dir``.

    Returns:
        ``(train, validation or None, facts)``.
    """
    data = load_dataset(args.data, "train")
    validation_domains = _names(args.validation_domains)
    holdout_domains = _names(args.holdout_domains)
    if args.validation_data:
        train_intents = [i for i in data.intents if i not in set(_holdout(args, holdout_domains))]
        validation_data = load_dataset(args.validation_data, "train")
    else:
        train_intents, validation_intents = split_intents(
            data,
            args.data,
            validation_domains,
            holdout_domains,
            args.validation_fraction,
            args.seed,
        )
        validation_data = data.subset(intents=validation_intents) if validation_intents else None
    train = encode_dataset(data.subset(intents=train_intents), args.cache_dir)
    validation = (
        encode_dataset(validation_data, args.cache_dir) if validation_data is not None else None
    )
    facts = {
        "encoder": _encoder_name(),
        "data": str(args.data),
        "training_intents": len(train_intents),
        "validation_intents": 0 if validation is None else int(validation[1].max()) + 1,
        "validation_domains": validation_domains,
        "holdout_domains": holdout_domains,
    }
    return train, validation, facts


def _holdout(args: argparse.Namespace, domains: list[str]) -> list[str]:
    return domain_intents(args.data, domains) if domains else []


def _names(text: str | None) -> list[str]:
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def _encoder_name() -> str:
    from intentmeta.research.benchmark_encoders import off_the_shelf_encoder

    return off_the_shelf_encoder().name
