"""Damaged, foreign or hostile registry directories: a clear RegistryError, never code execution."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import pytest
import torch
from conftest import FakeEncoder
from safetensors.torch import load_file, save_file

from intentmeta import IntentClassifier, RegistryError
from intentmeta.persistence import MANIFEST


@pytest.fixture
def registry(toy_classifier, tmp_path) -> Path:
    """A healthy saved registry of the three toy intents."""
    toy_classifier.save(tmp_path / "registry")
    return tmp_path / "registry"


def manifest_of(directory: Path) -> dict:
    return json.loads((directory / MANIFEST).read_text(encoding="utf-8"))


def tensor_path(directory: Path) -> Path:
    return directory / manifest_of(directory)["tensors"]


def edit_manifest(directory: Path, change) -> None:
    manifest = manifest_of(directory)
    change(manifest)
    (directory / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")


def load_fails(directory: Path, message: str, encoder=None) -> RegistryError:
    """Load and expect a RegistryError matching ``message``, raised with no chained traceback."""
    with pytest.raises(RegistryError, match=message) as caught:
        IntentClassifier.load(directory, encoder=encoder or FakeEncoder())
    error = caught.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    return error


def test_a_healthy_registry_loads(registry):
    assert IntentClassifier.load(registry, encoder=FakeEncoder()).intents == [
        "track_order",
        "refund",
        "greeting",
    ]


def test_a_missing_directory_is_named(tmp_path):
    load_fails(tmp_path / "nowhere", "no registry directory")


def test_a_file_instead_of_a_directory_is_refused(tmp_path):
    (tmp_path / "file").write_text("hello")
    load_fails(tmp_path / "file", "no registry directory")


def test_a_directory_without_a_manifest_is_not_a_registry(tmp_path):
    load_fails(tmp_path, "has no intentmeta.json")


@pytest.mark.parametrize("keep", [0, 1, 10, 100, 0.5, 0.9])
def test_a_truncated_manifest_is_damaged(registry, keep):
    data = (registry / MANIFEST).read_bytes()
    cut = keep if isinstance(keep, int) else int(len(data) * keep)
    (registry / MANIFEST).write_bytes(data[:cut])
    load_fails(registry, "damaged|not an intentmeta registry")


def test_a_manifest_of_binary_garbage_is_damaged(registry):
    (registry / MANIFEST).write_bytes(b"\xff\xfe\x00garbage\x80")
    load_fails(registry, "damaged")


def test_absurdly_nested_json_is_damaged_not_a_recursion_crash(registry):
    (registry / MANIFEST).write_text("[" * 200_000 + "]" * 200_000)
    load_fails(registry, "damaged")


@pytest.mark.parametrize("keep", [0, 7, 100, 0.5, 0.99])
def test_a_truncated_tensor_file_is_damaged(registry, keep):
    path = tensor_path(registry)
    data = path.read_bytes()
    cut = keep if isinstance(keep, int) else int(len(data) * keep)
    path.write_bytes(data[:cut])
    load_fails(registry, "damaged")


@pytest.mark.parametrize("version", [0, 2, 999, "1", None, True, 1.5])
def test_another_format_version_is_refused(registry, version):
    edit_manifest(registry, lambda m: m.update(format_version=version))
    load_fails(registry, "format version")


def test_a_json_file_of_another_program_is_refused(registry):
    (registry / MANIFEST).write_text(json.dumps({"format": "something-else", "intents": []}))
    load_fails(registry, "not an intentmeta registry")


@pytest.mark.parametrize(
    "name",
    [
        "../x.safetensors",
        "../../etc/passwd",
        "/etc/passwd",
        "sub/tensors-abc.safetensors",
        "..\\tensors-abc.safetensors",
        "..",
        ".",
        "",
        None,
        42,
        "intentmeta.json",
        "tensors-abc.safetensors\x00.txt",
    ],
)
def test_a_tensor_file_name_that_could_leave_the_directory_is_refused(registry, name):
    edit_manifest(registry, lambda m: m.update(tensors=name))
    load_fails(registry, "names no valid tensor file")


def test_a_path_traversal_target_outside_the_directory_is_never_read(registry, tmp_path):
    outside = tmp_path / "x.safetensors"
    save_file({"embeddings": torch.zeros(9, 32)}, str(outside))
    edit_manifest(registry, lambda m: m.update(tensors="../x.safetensors"))
    load_fails(registry, "names no valid tensor file")


def test_a_missing_tensor_file_is_named(registry):
    tensor_path(registry).unlink()
    load_fails(registry, "is missing")


def test_a_wrong_but_well_formed_tensor_file_name_is_missing(registry):
    edit_manifest(registry, lambda m: m.update(tensors="tensors-0123abcd.safetensors"))
    load_fails(registry, "tensors-0123abcd.safetensors is missing")


def test_embeddings_of_another_encoder_are_a_dimension_mismatch(registry):
    path = tensor_path(registry)
    tensors = load_file(str(path))
    tensors["embeddings"] = torch.randn(9, 16)  # (n_examples, another encoder's dim)
    save_file(tensors, str(path))
    edit_manifest(registry, lambda m: m.pop("tensors_sha256"))  # as a registry saved before
    error = load_fails(registry, "another encoder")
    assert "(9, 32)" in str(error)


def test_a_registry_of_another_encoder_is_re_encoded_by_the_new_one(registry):
    loaded = IntentClassifier.load(registry, encoder=FakeEncoder(dim=16))
    assert loaded.predict(["where is my parcel"]) == ["track_order"]


def test_a_projection_head_of_another_dimension_is_refused(fake_encoder, toy_intents, tmp_path):
    from intentmeta import HeadConfig

    clf = IntentClassifier(
        encoder=fake_encoder, oos_threshold=None, head_config=HeadConfig(projection=True)
    )
    clf.add_intent("refund", toy_intents["refund"])
    clf.save(tmp_path / "registry")
    load_fails(tmp_path / "registry", "projection.weight", encoder=FakeEncoder(dim=16))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.update(intents="refund"), "'intents' must be a list"),
        (lambda m: m.update(intents={"refund": ["x"]}), "'intents' must be a list"),
        (lambda m: m["intents"].append("refund"), r"intents\[3\] must be an object"),
        (lambda m: m["intents"][0].pop("examples"), r"intents\[0\] must be an object"),
        (lambda m: m["intents"][0].update(name=7), "intent name must be a string"),
        (lambda m: m["intents"][0].update(name="line\nbreak"), "control or format"),
        (lambda m: m["intents"][0].update(name="oos"), "reserved"),
        (lambda m: m["intents"][1].update(name="track_order"), "appears twice"),
        (lambda m: m["intents"][0].update(examples="where is my parcel"), "list of strings"),
        (lambda m: m["intents"][0].update(examples=[]), "at least one example"),
        (lambda m: m["intents"][0].update(examples=[1, 2, 3]), "must be a string"),
        (lambda m: m["intents"][0].update(examples=["a b", "a b", "c"]), "repeats an example"),
        (lambda m: m["intents"][0].update(examples=["a", " ", "c"]), "empty or blank"),
        (lambda m: m.update(config="default"), "inconsistent"),
        (lambda m: m["config"].update(head="svm"), "inconsistent"),
        (lambda m: m["config"].update(top_k=-3), "inconsistent"),
        (lambda m: m["config"].update(oos_threshold="sometimes"), "inconsistent"),
        (lambda m: m["config"]["head_config"].update(surprise=1), "inconsistent"),
        (lambda m: m.pop("encoder"), "inconsistent"),
    ],
)
def test_a_manifest_with_wrong_types_or_values_is_refused_before_any_work(
    registry, change, message
):
    edit_manifest(registry, change)
    encoder = FakeEncoder(dim=16)  # another encoder: a bad manifest must fail before re-encoding
    load_fails(registry, message, encoder=encoder)
    assert encoder.calls == 0


def test_a_failed_load_leaves_the_classifier_in_hand_untouched(toy_classifier, registry):
    edit_manifest(registry, lambda m: m["intents"][0].update(examples=[]))
    before = {name: toy_classifier.examples(name) for name in toy_classifier.intents}
    with pytest.raises(RegistryError):
        toy_classifier = IntentClassifier.load(registry, encoder=FakeEncoder())
    assert {name: toy_classifier.examples(name) for name in toy_classifier.intents} == before


class _WritesMarker:
    """Unpickling this object writes a marker file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran on load"))


def test_a_planted_pickle_file_is_never_unpickled(registry, tmp_path):
    marker = tmp_path / "PWNED"
    payload = pickle.dumps(_WritesMarker(marker))
    for name in ["model.pkl", "pytorch_model.bin", "tensors.pt", "intents.pickle", "head.pt"]:
        (registry / name).write_bytes(payload)
    pickle.loads(pickle.dumps(_WritesMarker(tmp_path / "control")))  # the payload does work
    assert (tmp_path / "control").exists()
    loaded = IntentClassifier.load(registry, encoder=FakeEncoder())
    assert loaded.intents == ["track_order", "refund", "greeting"]
    assert not marker.exists()


def test_a_pickle_renamed_as_the_tensor_file_is_refused_without_running(registry, tmp_path):
    marker = tmp_path / "PWNED"
    tensor_path(registry).write_bytes(pickle.dumps(_WritesMarker(marker)))
    load_fails(registry, "damaged")
    assert not marker.exists()


def test_a_pickle_renamed_as_the_manifest_is_refused_without_running(registry, tmp_path):
    marker = tmp_path / "PWNED"
    (registry / MANIFEST).write_bytes(pickle.dumps(_WritesMarker(marker)))
    load_fails(registry, "damaged|not an intentmeta registry")
    assert not marker.exists()


def test_the_package_source_never_unpickles_or_torch_loads():
    package = Path(__file__).resolve().parent.parent / "intentmeta"
    forbidden = re.compile(
        r"\b(import (c?pickle|dill|joblib|marshal|shelve)|from (c?pickle|dill|joblib|marshal)\b"
        r"|pickle\.(loads?|Unpickler)\b|torch\.load\b|np\.load\(.*allow_pickle=True)"
    )
    sources = sorted(package.rglob("*.py"))
    assert len(sources) > 5
    offenders = [
        f"{path.relative_to(package)}:{number}"
        for path in sources
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if forbidden.search(line)
    ]
    assert offenders == []
