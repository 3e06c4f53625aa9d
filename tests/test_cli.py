"""The command line: bad input is one line ``intentmeta <cmd>: error: ...`` and exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FakeEncoder

import intentmeta
from intentmeta.cli import main


class FakeClassifier(intentmeta.IntentClassifier):
    """The real classifier on the fake encoder, so CLI tests need no model."""

    def __init__(self, encoder=None, **kwargs) -> None:
        super().__init__(encoder=encoder or FakeEncoder(), **kwargs)

    @classmethod
    def load(cls, path, encoder=None):
        return super().load(path, encoder=encoder or FakeEncoder())


@pytest.fixture
def registry(tmp_path, monkeypatch) -> Path:
    """A registry with two intents made through the CLI itself."""
    monkeypatch.setattr(intentmeta, "IntentClassifier", FakeClassifier)
    directory = tmp_path / "registry"
    assert main(["add-intent", "refund", "money back", "refund please", "--registry",
                 str(directory), "--empty"]) == 0  # fmt: skip
    assert main(["add-intent", "track", "where is my parcel", "--registry", str(directory)]) == 0
    return directory


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` (its history included) by relative path."""
    files = sorted(path for path in directory.rglob("*") if path.is_file())
    return {str(path.relative_to(directory)): path.read_bytes() for path in files}


def test_add_list_and_classify_through_the_cli(registry, capsys):
    capsys.readouterr()
    assert main(["list", "--registry", str(registry)]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in listing] == ["refund", "track"]
    assert main(["classify", "my parcel", "money back", "--registry", str(registry)]) == 0
    answers = [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()]
    assert answers == ["track", "refund"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["add-intent", "a\x01b", "x"], "control or format character U+0001"),
        (["add-intent", "x" * 500, "x"], "characters long; the limit is 100"),
        (["add-intent", "refund", "more money"], "'refund' already exists; add --extend"),
        (["add-intent", "oos", "x"], "reserved"),
        (["add-intent", "new", "good words", "   "], "is empty or blank"),
        (["add-intent", "new", "good words", "\x01"], "is empty or blank"),
        (["add-intent", "", "x"], "intent name is empty or blank"),
        (["classify", "  "], "texts[0] is empty or blank"),
        (["classify", "fine", ""], "texts[1] is empty or blank"),
    ],
)
def test_bad_input_prints_one_error_line_returns_2_and_changes_no_file(
    registry, capsys, argv, message
):
    before = snapshot(registry)
    capsys.readouterr()
    assert main([*argv, "--registry", str(registry)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"intentmeta {argv[0]}: error: ")
    assert message in captured.err and "Traceback" not in captured.err
    assert snapshot(registry) == before


def test_a_missing_registry_is_an_error_not_a_fresh_one(tmp_path, capsys):
    assert main(["classify", "hello", "--registry", str(tmp_path / "nowhere")]) == 2
    assert "error: no registry at" in capsys.readouterr().err
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "intentmeta.json").write_text("{trunc"), "damaged (not valid JSON)"),
        (lambda d: (d / "intentmeta.json").write_text('{"format": "x"}'), "not an intentmeta"),
        (
            lambda d: (d / "intentmeta.json").write_text(
                (d / "intentmeta.json").read_text().replace('"tensors-', '"../tensors-')
            ),
            "names no valid tensor file",
        ),
        (lambda d: [p.write_bytes(b"\0" * 8) for p in d.glob("*.safetensors")], "damaged"),
    ],
)
@pytest.mark.parametrize("command", [["list"], ["classify", "hello"], ["add-intent", "n", "x"]])
def test_a_damaged_registry_is_a_one_line_error_for_every_command(
    registry, capsys, damage, message, command
):
    damage(registry)
    before = snapshot(registry)
    capsys.readouterr()
    assert main([*command, "--registry", str(registry)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"intentmeta {command[0]}: error: ") and message in err
    assert len(err.strip().splitlines()) == 1
    assert (
        snapshot(registry) == before
    )  # add-intent must not overwrite a registry it could not read


def test_awkward_and_huge_texts_classify_and_print_as_valid_json(registry, capsys):
    texts = ["where is my parcel 📦", "أين طردي", "nul\x00byte", "tab\there", "parcel " * 50_000]
    capsys.readouterr()
    assert main(["classify", *texts, "--json", "--registry", str(registry)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["text"] for row in rows] == texts
    assert rows[0]["intent"] == "track" and rows[-1]["intent"] == "track"


def test_usage_errors_and_help_return_a_status_instead_of_exiting(capsys):
    assert main([]) == 2
    assert main(["add-intent", "name-without-examples", "--registry", "x"]) == 2
    assert "the following arguments are required" in capsys.readouterr().err
    assert main(["--help"]) == 0
    assert "classify" in capsys.readouterr().out


def test_the_installed_console_script_reports_errors_with_status_2(tmp_path):
    script = Path(sys.executable).with_name("intentmeta")
    assert script.exists(), "install the package: pip install -e ."
    result = subprocess.run(
        [str(script), "classify", "hello", "--registry", str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"intentmeta classify: error: no registry at {str(tmp_path / 'nowhere')!r}; "
        "create one with add-intent"
    ]
