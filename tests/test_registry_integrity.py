"""What a registry directory may make ``load`` do: every malformed manifest field is a
``RegistryError``; nothing outside the directory, nor the network, is touched unless the caller
names the encoder; the tensor file is checksummed, finite and no symlink; files follow the umask;
a classifier made with meta-trained head weights saves and loads."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path

import pytest
import torch
from conftest import FakeEncoder
from safetensors.torch import load_file, save_file
from test_damaged_files import edit_manifest, manifest_of, tensor_path

import intentmeta.encoder
from intentmeta import HeadConfig, IntentClassifier, RegistryError
from intentmeta.heads import build_head
from intentmeta.heads.weights import save_head_weights

MANIFEST = "intentmeta.json"


@pytest.fixture
def registry(toy_classifier, tmp_path) -> Path:
    toy_classifier.save(tmp_path / "registry")
    return tmp_path / "registry"


def rewrite_tensors(directory: Path, change) -> None:
    """Change the stored tensors and record the new file's checksum, as a careful forger would."""
    path = tensor_path(directory)
    tensors = load_file(str(path))
    change(tensors)
    save_file(tensors, str(path))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    edit_manifest(directory, lambda m: m.update(tensors_sha256=digest))


def load_fails(directory: Path, message: str | None, **kwargs) -> RegistryError:
    kwargs.setdefault("encoder", FakeEncoder())
    with pytest.raises(RegistryError, match=message) as caught:
        IntentClassifier.load(directory, **kwargs)
    return caught.value


# ------------------------------------------------------------------------- item 4: field checks
@pytest.mark.parametrize(
    "change",
    [
        lambda m: m.update(oos="x"),
        lambda m: m.update(oos=[]),
        lambda m: m.update(encoder="x"),
        lambda m: m.update(encoder={"name": 3, "dim": 32}),
        lambda m: m["encoder"].update(dim="32"),
        lambda m: m["oos"]["rule"].update(surprise=1),
        lambda m: m["oos"]["rule"].update(fallback_spread=-5),
        lambda m: m["oos"]["rule"].update(shrinkage=float("nan")),
        lambda m: m["oos"]["rule"].update(shrinkage="0.1"),
        lambda m: m["oos"]["rule"].update(oos_weights=[1.0]),
        lambda m: m["oos"]["rule"].update(intent_weights="ab"),
        lambda m: m["oos"]["rule"].update(provenance="x"),
        lambda m: m["oos"].update(rule="x"),
        lambda m: m["oos"].update(adjustment=[1.0]),
        lambda m: m["oos"].update(adjustment=[1.0, float("inf")]),
        lambda m: m["oos"].update(config="x"),
        lambda m: m["oos"].update(offset="x"),
        lambda m: m["oos"].update(offset=float("inf")),
        lambda m: m["config"].update(surprise=1),
        lambda m: m["config"].update(top_k=True),
        lambda m: m["config"].update(top_k=2.5),
        lambda m: m["config"].update(oos_threshold=float("nan")),
        lambda m: m["config"].update(oos_threshold=[0.5]),
        lambda m: m["config"].update(encoder=7),
        lambda m: m["config"].update(head_weights=7),
        lambda m: m["config"].update(head_config=None),
        lambda m: m["config"]["head_config"].update(temperature=-1),
        lambda m: m["config"]["head_config"].update(temperature="hot"),
        lambda m: m["config"]["head_config"].update(adapt_steps=-5),
        lambda m: m["config"]["head_config"].update(adapt_steps=1.5),
        lambda m: m["config"]["head_config"].update(metric="manhattan"),
        lambda m: m["config"]["head_config"].update(projection="yes"),
        lambda m: m["config"]["head_config"].update(dim=-1),
        lambda m: m.update(tensors_sha256=12),
    ],
)
def test_every_malformed_manifest_field_is_a_registry_error(registry, change):
    edit_manifest(registry, change)
    load_fails(registry, None)  # not AttributeError, TypeError or RuntimeError


def test_a_registry_error_for_a_field_names_the_field(registry):
    edit_manifest(registry, lambda m: m["oos"]["rule"].update(fallback_spread=-5))
    error = load_fails(registry, "fallback_spread")
    assert "5" in str(error)


# ------------------------------------------------------------------------- item 4: the encoder
@pytest.fixture
def encoder_loads(monkeypatch):
    """Every model source the library asks transformers for (none is actually loaded)."""
    sources: list[str] = []

    def refuse(source, *args, **kwargs):
        sources.append(str(source))
        raise OSError(f"test: refusing to load {source}")

    monkeypatch.setattr(intentmeta.encoder.AutoTokenizer, "from_pretrained", refuse)
    monkeypatch.setattr(intentmeta.encoder.AutoModel, "from_pretrained", refuse)
    monkeypatch.setattr(intentmeta.encoder, "_SHARED", {})
    return sources


def plant_model(directory: Path) -> Path:
    """A local model folder whose weights are a pickle: reading it would be the attack."""
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (directory / "pytorch_model.bin").write_bytes(pickle.dumps({"planted": True}))
    return directory


@pytest.mark.parametrize("where", ["outside", "hub"])
def test_a_manifest_naming_another_encoder_is_refused_without_reading_it(
    registry, tmp_path, encoder_loads, where
):
    name = str(plant_model(tmp_path / "planted")) if where == "outside" else "someone/model"
    edit_manifest(registry, lambda m: m["config"].update(encoder=name))
    edit_manifest(registry, lambda m: m["encoder"].update(name=name))
    error = load_fails(registry, "encoder", encoder=None)
    assert "encoder=" in str(error)  # says how to load it on purpose
    assert encoder_loads == []  # neither the planted folder nor the Hub was asked


def test_the_callers_own_encoder_loads_a_registry_of_a_named_encoder(registry):
    edit_manifest(registry, lambda m: m["config"].update(encoder="someone/model"))
    loaded = IntentClassifier.load(registry, encoder=FakeEncoder())
    assert loaded.predict(["where is my parcel"]) == ["track_order"]


@pytest.mark.integration
def test_the_bundled_encoder_registry_loads_offline_without_an_encoder(real_encoder, tmp_path):
    clf = IntentClassifier(encoder="default", oos_threshold=None)
    clf.add_intent("refund", ["I want my money back"])
    clf.save(tmp_path / "registry")
    assert manifest_of(tmp_path / "registry")["encoder"]["name"] == real_encoder.name
    loaded = IntentClassifier.load(tmp_path / "registry")
    assert loaded.encoder is real_encoder and loaded.intents == ["refund"]


# ------------------------------------------------------------------------- item 4: integrity
def test_the_manifest_records_the_sha256_of_the_tensor_file(registry):
    digest = hashlib.sha256(tensor_path(registry).read_bytes()).hexdigest()
    assert manifest_of(registry)["tensors_sha256"] == digest


def test_a_tensor_file_copied_from_another_registry_is_refused(registry, toy_classifier, tmp_path):
    toy_classifier.add_examples("refund", ["give me a refund"])
    toy_classifier.remove_examples("refund", ["money back refund"])
    toy_classifier.save(tmp_path / "other")  # same shapes, other values
    tensor_path(registry).write_bytes(tensor_path(tmp_path / "other").read_bytes())
    load_fails(registry, "checksum")


def test_a_registry_without_a_checksum_still_loads(registry):
    edit_manifest(registry, lambda m: m.pop("tensors_sha256", None))
    assert IntentClassifier.load(registry, encoder=FakeEncoder()).intents == [
        "track_order",
        "refund",
        "greeting",
    ]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("tensor", ["embeddings", "head.log_temperature"])
def test_non_finite_tensors_are_refused(registry, value, tensor):
    def poison(tensors):
        tensors[tensor] = tensors[tensor].clone()
        tensors[tensor].view(-1)[0] = value

    rewrite_tensors(registry, poison)
    load_fails(registry, "finite")


def test_a_symlinked_tensor_file_is_refused(registry, tmp_path):
    path = tensor_path(registry)
    outside = tmp_path / "outside.safetensors"
    path.rename(outside)
    path.symlink_to(outside)
    load_fails(registry, "symbolic link")


def test_a_symlinked_manifest_is_refused(registry, tmp_path):
    outside = tmp_path / "outside.json"
    (registry / MANIFEST).rename(outside)
    (registry / MANIFEST).symlink_to(outside)
    load_fails(registry, "symbolic link")


# ------------------------------------------------------------------------- item 8: the umask
@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_saved_files_follow_the_umask(toy_classifier, tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        toy_classifier.save(tmp_path / "registry")
    finally:
        os.umask(previous)
    for path in (tmp_path / "registry").iterdir():
        assert path.stat().st_mode & 0o777 == mode, path.name


# ------------------------------------------------------------------------- item 1: head weights
def test_a_classifier_with_meta_trained_head_weights_saves_and_loads(fake_encoder, tmp_path):
    head = build_head("prototypical", HeadConfig(dim=fake_encoder.dim, projection=True))
    with torch.no_grad():
        head.projection.weight.mul_(0.5).add_(torch.randn_like(head.projection.weight) * 0.1)
    save_head_weights(head, tmp_path / "weights")
    clf = IntentClassifier(encoder=fake_encoder, head_weights=tmp_path / "weights")
    clf.add_intent("refund", ["i want my money back", "refund my money"])
    clf.add_intent("track", ["where is my parcel", "track my parcel"])
    clf.save(tmp_path / "registry")
    loaded = IntentClassifier.load(tmp_path / "registry", encoder=fake_encoder)
    assert loaded.head.projection is not None
    assert torch.equal(loaded.head.projection.weight, clf.head.projection.weight)
    texts = ["money back please", "parcel status", "something else entirely"]
    for mine, theirs in zip(clf.classify_batch(texts), loaded.classify_batch(texts), strict=True):
        assert mine.intent == theirs.intent
        assert mine.confidence == pytest.approx(theirs.confidence, abs=1e-5)
