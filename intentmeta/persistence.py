"""Saving and loading a classifier: JSON for what a person can read, safetensors for tensors.

Never pickle. :func:`write_classifier` and :func:`read_classifier` turn a :class:`SavedClassifier`
(configuration, intents, embeddings, head state) into a registry directory and back.

The directory format itself (atomic, checksummed, locked files) is
:mod:`intentmeta.registry_files`; its :func:`save_registry` and :func:`load_registry` are
re-exported here for code that stores other things the same way.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from intentmeta.config import ClassifierConfig
from intentmeta.heads import HeadConfig
from intentmeta.manifest_checks import (
    CLASSIFIER_RULES,
    HEAD_RULES,
    OUT_OF_SCOPE_RULES,
    ManifestFieldError,
    check_ranges,
    dataclass_from_json,
    finite_number,
    json_object,
)
from intentmeta.out_of_scope import OutOfScopeDetector
from intentmeta.registry_files import (
    CHECKSUM_KEY,
    MANIFEST,
    RegistryError,
    RegistrySaveError,
    load_registry,
    save_registry,
    write_atomically,
)
from intentmeta.rejection_rule import RejectionRule
from intentmeta.shipped_encoders import LEGACY_DEFAULT, shipped_encoder
from intentmeta.validation import check_examples, check_intent_name

__all__ = [
    "CHECKSUM_KEY",
    "MANIFEST",
    "RegistryError",
    "RegistrySaveError",
    "SavedClassifier",
    "load_registry",
    "read_classifier",
    "read_intents",
    "save_registry",
    "write_atomically",
    "write_classifier",
]

#: Rule fields of registries saved before the rule read the nearest example: it decides as then.
NO_NEAREST_EXAMPLE = {"nearest_weights": [0.0, 0.0], "nearest_offset": 0.0}


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
        head_buffers: The head's support state, classes numbered by intent position, so a
            reload scores exactly as the saved classifier, even where intents were added one at
            a time after an adaptation that a reload would redo jointly.
        name_vectors: ``(1, dim)`` embedding of each intent's name example (``name_as_example``)
            by intent position, so a reload need not encode the names again.
    """

    config: dict[str, Any]
    encoder: dict[str, Any]
    out_of_scope: dict[str, Any] | None
    intents: dict[str, list[str]]
    embeddings: torch.Tensor | None = None
    head_parameters: dict[str, torch.Tensor] = field(default_factory=dict)
    head_buffers: dict[str, torch.Tensor] = field(default_factory=dict)
    name_vectors: dict[int, torch.Tensor] = field(default_factory=dict)

    def support_for(
        self, encoder: Any, where: str | os.PathLike
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor] | None, dict[int, torch.Tensor] | None]:
        """The examples' embeddings for ``encoder``, and the head state and name vectors if
        still valid.

        The stored embeddings and head state are re-used when ``encoder`` (``name``, ``dim``,
        ``encode``) is the one that made them; otherwise the examples are encoded again and the
        head must process them anew (``None``).

        Returns:
            ``(n_examples, dim)`` float embeddings, rows following :attr:`intents`; the head
            buffers and the name vectors, or ``None`` for each.

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
        if not same_encoder:
            return embeddings.float(), None, None
        return embeddings.float(), self.head_buffers, self.name_vectors


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
    if saved.name_vectors:
        tensors["names.positions"] = torch.tensor(list(saved.name_vectors), dtype=torch.long)
        tensors["names.vectors"] = torch.cat(list(saved.name_vectors.values()))  # (n_named, dim)
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
    try:
        config = read_config(manifest.get("config"))
        encoder = json_object(manifest.get("encoder"), "encoder", {"name", "dim"})
        if not isinstance(encoder["name"], str) or type(encoder["dim"]) is not int:
            raise ManifestFieldError(f"encoder must be {{name: string, dim: integer}}: {encoder}")
        out_of_scope = read_out_of_scope_state(manifest.get("oos"))
    except ManifestFieldError as error:
        raise RegistryError(f"registry at {str(directory)!r} is inconsistent: {error}") from None
    return SavedClassifier(
        config=asdict(config),
        encoder=encoder,
        out_of_scope=out_of_scope,
        intents=intents,
        embeddings=tensors.get("embeddings"),
        head_parameters={k[5:]: v for k, v in tensors.items() if k.startswith("head.")},
        head_buffers={k[12:]: v for k, v in tensors.items() if k.startswith("head_buffer.")},
        name_vectors=_name_vectors(tensors, len(intents), directory),
    )


def _name_vectors(
    tensors: dict[str, torch.Tensor], n_intents: int, where: str | os.PathLike
) -> dict[int, torch.Tensor]:
    """The saved name examples by intent position (none in registries older than them)."""
    positions, vectors = tensors.get("names.positions"), tensors.get("names.vectors")
    if positions is None or vectors is None:
        return {}
    if len(positions) != len(vectors) or not all(0 <= p < n_intents for p in positions.tolist()):
        raise RegistryError(f"registry at {str(where)!r} has inconsistent name vectors")
    return {int(p): vectors[i : i + 1].float() for i, p in enumerate(positions.tolist())}


#: ClassifierConfig fields newer than some saved registries, with the behaviour those had.
ADDED_CONFIG_DEFAULTS = {"name_as_example": False}


def read_config(value: object) -> ClassifierConfig:
    """The manifest's ``config``, every field checked (see :mod:`intentmeta.manifest_checks`).

    Raises:
        ManifestFieldError: Naming the first field that is missing, unknown, mistyped or out of
            range.
    """
    if not isinstance(value, dict):
        raise ManifestFieldError(f"config must be an object, not {value!r}")
    # Settings added after a registry format was fixed default to their old behaviour.
    value = {**ADDED_CONFIG_DEFAULTS, **value}
    head_config = dataclass_from_json(HeadConfig, value.get("head_config"), "config.head_config")
    check_ranges(head_config, "config.head_config", HEAD_RULES)
    config = dataclass_from_json(ClassifierConfig, value, "config", head_config=head_config)
    check_ranges(config, "config", CLASSIFIER_RULES)
    return config


def read_out_of_scope_state(value: object) -> dict[str, Any] | None:
    """The manifest's ``oos`` (the detector's saved state), every field checked.

    Registries written before it was saved have none (``None``). Its keys are those
    :meth:`OutOfScopeDetector.state` writes.

    Raises:
        ManifestFieldError: Naming the first field that is missing, unknown, mistyped or out of
            range.
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ManifestFieldError(f"oos must be an object, not {value!r}")
    # "offset" and "config" were written before issue 18's rule (read, then ignored).
    known = {*OutOfScopeDetector(None).state(), "offset", "config"}
    unknown = sorted(set(value) - known)
    if unknown:
        raise ManifestFieldError(f"oos has unknown key(s) {unknown}")
    state = dict(value)
    if "rule" in state:
        rule_value = state["rule"]
        provenance = rule_value.get("provenance", {}) if isinstance(rule_value, dict) else None
        if not isinstance(provenance, dict):
            raise ManifestFieldError(f"oos.rule.provenance must be an object, not {provenance!r}")
        if isinstance(rule_value, dict):  # saved before the rule read the nearest example
            rule_value = {**NO_NEAREST_EXAMPLE, **rule_value}
        rule = dataclass_from_json(RejectionRule, rule_value, "oos.rule", provenance=provenance)
        check_ranges(rule, "oos.rule", OUT_OF_SCOPE_RULES)
        state["rule"] = rule.state()
    if "adjustment" in state:
        pair = state["adjustment"]
        if not isinstance(pair, list) or len(pair) != 2:
            raise ManifestFieldError(f"oos.adjustment must be [scale, offset], not {pair!r}")
        state["adjustment"] = [finite_number(x, "oos.adjustment") for x in pair]
    if "offset" in state:
        state["offset"] = finite_number(state["offset"], "oos.offset")
    if "config" in state and not isinstance(state["config"], dict):
        raise ManifestFieldError(f"oos.config must be an object, not {state['config']!r}")
    threshold = state.get("threshold")
    if not (threshold is None or threshold == "auto"):
        finite_number(threshold, "oos.threshold")
    return state


def saved_encoder(name: str, where: str | os.PathLike) -> str:
    """The encoder a registry may load by itself: only a shipped one, which needs no network.

    Raises:
        RegistryError: If the registry names any other encoder.
    """
    if name == "default":  # saved before the meta-learned encoder shipped: the off-the-shelf one
        return LEGACY_DEFAULT
    shipped = shipped_encoder(name)
    if shipped is not None:
        return shipped.name  # one of the encoders in the package, loaded offline
    raise RegistryError(
        f"registry at {str(where)!r} was made with the encoder {name!r}; loading never reads an "
        "encoder a registry names (it could be any file or download), so pass it yourself: "
        "IntentClassifier.load(path, encoder=...) or --encoder on the command line"
    )
