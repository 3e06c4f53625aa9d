"""Command-line errors the second reliability pass found: a failed save, ``--registry ""``, a
port out of range, a progress bar before an error, and the intent name rules."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from faults import fault, world_readable_temporary_directory
from test_cli import FakeClassifier

import intentmeta
import intentmeta.cli.demo
from intentmeta.cli import main


@pytest.fixture
def fake_classifier(monkeypatch):
    monkeypatch.setattr(intentmeta, "IntentClassifier", FakeClassifier)


@pytest.fixture
def registry(fake_classifier):
    parent = world_readable_temporary_directory()
    directory = parent / "registry"
    assert main(["add-intent", "refund", "money back", "--registry", str(directory),
                 "--empty"]) == 0  # fmt: skip
    yield directory
    shutil.rmtree(parent, ignore_errors=True)


def fake_demo_app(launched: list):
    """Stands in for ``intentmeta.cli.demo.demo_app``: records launches instead of serving."""
    app = SimpleNamespace(launch=lambda **kwargs: launched.append(kwargs))
    return lambda: app


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` (its history included) by relative path."""
    files = sorted(path for path in directory.rglob("*") if path.is_file())
    return {str(path.relative_to(directory)): path.read_bytes() for path in files}


@pytest.mark.parametrize("kind", ["read_only", "disk_full", "safetensors_fails"])
def test_a_failed_save_is_one_error_line_saying_nothing_was_added(registry, capsys, kind):
    before = snapshot(registry)
    capsys.readouterr()
    with fault(kind, registry):
        status = main(["add-intent", "track", "where is my parcel", "--registry", str(registry)])
    assert status == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("intentmeta add-intent: error: ")
    assert "not saved" in lines[0] and "'track' was not added" in lines[0]
    assert snapshot(registry) == before
    assert main(["list", "--registry", str(registry)]) == 0
    assert [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()] == ["refund"]


@pytest.mark.parametrize(
    "argv",
    [
        ["add-intent", "n", "x", "--registry", ""],
        ["add-intent", "n", "x", "--empty", "--registry", "  "],
        ["classify", "hello", "--registry", ""],
        ["list", "--registry", ""],
        ["demo", "--registry", ""],
    ],
)
def test_an_empty_registry_path_is_a_usage_error(fake_classifier, tmp_path, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(intentmeta.cli.demo, "demo_app", fake_demo_app([]))  # never serve
    assert main(argv) == 2
    assert list(tmp_path.iterdir()) == []  # nothing saved into the current directory


@pytest.mark.parametrize(
    ("argv", "encoder"),
    [([], None), (["--encoder", "my-org/my-encoder"], "my-org/my-encoder")],
)
def test_demo_passes_encoder_to_the_demo_it_launches(monkeypatch, tmp_path, argv, encoder):
    launched = []
    monkeypatch.setattr(intentmeta.cli.demo, "demo_app", fake_demo_app(launched))  # never serve
    assert main(["demo", "--registry", str(tmp_path / "registry"), *argv]) == 0
    assert [(run["registry"], run["encoder"]) for run in launched] == [
        (str(tmp_path / "registry"), encoder)
    ]


@pytest.mark.parametrize("port", ["99999", "-1", "65536", "http"])
def test_a_port_out_of_range_is_a_usage_error(capsys, monkeypatch, port):
    from types import SimpleNamespace

    import intentmeta.cli.demo

    launched = []
    fake_app = SimpleNamespace(launch=lambda **kwargs: launched.append(kwargs))
    monkeypatch.setattr(intentmeta.cli.demo, "demo_app", lambda: fake_app)
    assert main(["demo", "--port", port]) == 2
    assert launched == []
    err = capsys.readouterr().err
    assert "port" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "name", ["reverted_card_payment?", "a:b", "खाता शेष", "cafe\u0301", "what's up?"]
)
def test_the_cli_accepts_the_names_the_library_accepts(registry, capsys, name):
    assert main(["add-intent", name, "an example", "--registry", str(registry)]) == 0
    capsys.readouterr()
    assert main(["list", "--registry", str(registry)]) == 0
    names = [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()]
    assert names == ["refund", intentmeta.normalise_intent_name(name)]


@pytest.mark.parametrize("name", ["OOS", "ｏｏｓ", "a\x01b", " "])
def test_the_cli_refuses_the_names_the_library_refuses(registry, capsys, name):
    before = snapshot(registry)
    assert main(["add-intent", name, "an example", "--registry", str(registry)]) == 2
    assert snapshot(registry) == before


@pytest.mark.parametrize(
    "argv",
    [
        ["add-intent", "", "an example", "--registry", "{tmp}/new"],
        ["add-intent", "OOS", "an example", "--registry", "{tmp}/new"],
        ["add-intent", "fine", "   ", "--registry", "{tmp}/new"],
        ["classify", "   "],
    ],
)
def test_an_input_error_is_reported_before_any_model_is_loaded(tmp_path, argv):
    script = Path(sys.executable).with_name("intentmeta")
    result = subprocess.run(
        [str(script), *(arg.format(tmp=tmp_path) for arg in argv)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"intentmeta {argv[0]}: error: "), lines
    assert not (tmp_path / "new").exists()


def test_a_registry_naming_another_encoder_asks_for_encoder_and_loads_nothing(
    toy_classifier, tmp_path, capsys
):
    toy_classifier.save(tmp_path / "registry")
    manifest_path = tmp_path / "registry" / "intentmeta.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["config"]["encoder"] = "someone/model"
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    assert main(["classify", "hello", "--registry", str(tmp_path / "registry")]) == 2
    err = capsys.readouterr().err
    assert "'someone/model'" in err and "--encoder" in err
