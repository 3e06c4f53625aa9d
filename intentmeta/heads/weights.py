"""Meta-trained head weights on disk: ``head.json`` (kind and config) + ``head.safetensors``."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, fields
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from intentmeta.heads import HEADS, FewShotHead, HeadConfig, build_head

HEAD_FORMAT_VERSION = 1


def head_parameters(head: FewShotHead) -> dict[str, torch.Tensor]:
    """The learned parameters of a head (not its support set)."""
    return {name: value.detach().clone() for name, value in head.named_parameters()}


def save_head_weights(head: FewShotHead, directory: str | os.PathLike, **extra: object) -> Path:
    """Write a head's kind, config and learned parameters.

    Args:
        head: A (meta-trained) head.
        directory: Output directory; created if missing.
        **extra: More JSON-serialisable facts to record (encoder name, training settings).

    Returns:
        The directory's path.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    kind = next(name for name, cls in HEADS.items() if type(head) is cls)
    meta = {
        "format_version": HEAD_FORMAT_VERSION,
        "head": kind,
        "config": asdict(head.config),
        **extra,
    }
    save_file(
        {k: v.contiguous() for k, v in head_parameters(head).items()},
        str(directory / "head.safetensors"),
    )
    (directory / "head.json").write_text(json.dumps(meta, indent=2))
    return directory


def load_head_weights(
    directory: str | os.PathLike, kind: str | None = None, dim: int | None = None
) -> FewShotHead:
    """Build a head from weights written by :func:`save_head_weights`.

    Args:
        directory: A weights directory.
        kind: The head kind expected (``"prototypical"``/``"matching"``); checked if given.
        dim: The encoder dimension expected; checked if given.

    Returns:
        The head, with its learned parameters and an empty support set.

    Raises:
        ValueError: If the files are missing, damaged, or for another head kind or dimension.
    """
    directory = Path(directory)
    try:
        meta = json.loads((directory / "head.json").read_text())
        state = load_file(str(directory / "head.safetensors"))
    except FileNotFoundError as error:
        raise ValueError(f"head weights not found in {str(directory)!r}: {error}") from None
    except (OSError, json.JSONDecodeError, SafetensorError) as error:
        raise ValueError(f"head weights in {str(directory)!r} are damaged: {error}") from None
    if meta.get("format_version") != HEAD_FORMAT_VERSION:
        raise ValueError(f"{directory}/head.json has an unknown format version")
    if kind is not None and meta.get("head") != kind:
        raise ValueError(
            f"weights in {str(directory)!r} are for a {meta.get('head')!r} head, not {kind!r}"
        )
    known = {field.name for field in fields(HeadConfig)}
    config = HeadConfig(**{k: v for k, v in meta.get("config", {}).items() if k in known})
    if dim is not None and config.dim != dim:
        raise ValueError(
            f"weights in {str(directory)!r} expect {config.dim}-d embeddings, "
            f"the encoder gives {dim}"
        )
    head = build_head(meta["head"], config)
    load_parameters(head, state)
    return head


def load_parameters(head: FewShotHead, state: dict[str, torch.Tensor]) -> None:
    """Copy learned parameters into a head, checking names and shapes.

    Names saved by earlier versions of the head are mapped (``head.renamed_state``).

    Raises:
        ValueError: If a parameter is missing, unexpected or misshapen.
    """
    state = {head.renamed_state.get(name, name): value for name, value in state.items()}
    own = dict(head.named_parameters())
    if set(own) != set(state):
        raise ValueError(f"head parameters differ: expected {sorted(own)}, got {sorted(state)}")
    with torch.no_grad():
        for name, value in state.items():
            if own[name].shape != value.shape:
                raise ValueError(
                    f"head parameter {name!r} has shape {tuple(value.shape)}, "
                    f"expected {tuple(own[name].shape)}"
                )
            own[name].copy_(value)
