"""``intentmeta export / import / history / undo``: a registry round-trips through CSV and JSON."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_cli import FakeClassifier, registry  # noqa: F401 (the fixture)

from intentmeta.cli import main


def intents_of(directory) -> dict[str, list[str]]:
    clf = FakeClassifier.load(directory)
    return {name: clf.examples(name) for name in clf.intents}


@pytest.mark.parametrize("suffix", ["csv", "json"])
def test_export_then_import_into_a_new_registry_gives_the_same_intents(
    registry,  # noqa: F811
    tmp_path,
    capsys,
    suffix,
):
    out = tmp_path / f"intents.{suffix}"
    assert main(["export", "--registry", str(registry), "--out", str(out)]) == 0
    copy = tmp_path / "copy"
    assert main(["import", str(out), "--registry", str(copy)]) == 0
    assert "imported 3 example(s), 2 new intent(s)" in capsys.readouterr().out
    assert intents_of(copy) == intents_of(registry)


def test_export_to_standard_output_is_csv_by_default(registry, capsys):  # noqa: F811
    capsys.readouterr()
    assert main(["export", "--registry", str(registry)]) == 0
    assert capsys.readouterr().out.splitlines()[:2] == ["intent,example", "refund,money back"]
    assert main(["export", "--registry", str(registry), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["intents"][1]["name"] == "track"


def test_an_import_is_listed_in_the_history_and_undone(registry, tmp_path, capsys):  # noqa: F811
    before = intents_of(registry)
    upload = tmp_path / "more.csv"
    upload.write_text("intent,example\ncancel,stop my order\ntrack,has it shipped\n", "utf-8")
    assert main(["import", str(upload), "--registry", str(registry)]) == 0
    assert intents_of(registry)["cancel"] == ["stop my order"]
    capsys.readouterr()
    assert main(["history", "--registry", str(registry)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and "imported" in lines[-1]  # after the two add-intent versions
    assert main(["undo", "--registry", str(registry)]) == 0
    assert intents_of(registry) == before


def test_a_bad_file_is_one_error_line_and_changes_nothing(registry, tmp_path, capsys):  # noqa: F811
    before = intents_of(registry)
    bad = tmp_path / "bad.csv"
    bad.write_text("intent,example\noos,reserved name\n", "utf-8")
    capsys.readouterr()
    assert main(["import", str(bad), "--registry", str(registry)]) == 2
    assert capsys.readouterr().err.startswith("intentmeta import: error: ")
    assert main(["import", str(tmp_path / "x.xml"), "--registry", str(registry)]) == 2
    assert "unknown format" in capsys.readouterr().err
    assert intents_of(registry) == before


@pytest.mark.parametrize(
    "header", ["name,text", "intent,utterance", "label,message", "category,example"]
)
def test_an_unrecognised_csv_header_is_refused_naming_its_columns(
    registry,  # noqa: F811
    tmp_path,
    capsys,
    header,
):
    before = intents_of(registry)
    upload = tmp_path / "wrong_header.csv"
    upload.write_text(f"{header}\ncancel_order,cancel my order\n", "utf-8")
    fresh = tmp_path / "fresh"
    capsys.readouterr()
    assert main(["import", str(upload), "--registry", str(registry)]) == 2
    assert main(["import", str(upload), "--registry", str(fresh)]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 2 and all(e.startswith("intentmeta import: error: ") for e in errors)
    assert f"({header.replace(',', ', ')})" in errors[0]
    assert "intent,example" in errors[0]
    assert intents_of(registry) == before
    assert not fresh.exists()


def test_a_csv_header_in_any_case_and_order_and_a_headerless_csv_are_read(
    registry,  # noqa: F811
    tmp_path,
):
    upload = tmp_path / "more.csv"
    upload.write_text("Example, INTENT ,source\nstop my order,cancel,mail\n", "utf-8")
    assert main(["import", str(upload), "--registry", str(registry)]) == 0
    assert intents_of(registry)["cancel"] == ["stop my order"]
    upload.write_text("cancel,cancel it now\nbilling,my invoice\n", "utf-8")
    assert main(["import", str(upload), "--registry", str(registry)]) == 0
    assert intents_of(registry)["cancel"] == ["stop my order", "cancel it now"]
    assert intents_of(registry)["billing"] == ["my invoice"]


def history_notes(directory: Path, capsys) -> list[str]:
    """The note of each version ``intentmeta history`` lists, oldest first."""
    capsys.readouterr()
    assert main(["history", "--registry", str(directory)]) == 0
    return [line.split("\t")[-1] for line in capsys.readouterr().out.splitlines()]


def test_add_intent_is_listed_in_the_history_and_undone(registry, capsys):  # noqa: F811
    assert history_notes(registry, capsys) == ["added intent 'refund'", "added intent 'track'"]
    assert main(["undo", "--registry", str(registry)]) == 0
    assert list(intents_of(registry)) == ["refund"]
    assert main(["undo", "--registry", str(registry)]) == 2
    assert "no earlier version" in capsys.readouterr().err


def test_extending_an_intent_is_listed_in_the_history_and_undone(registry, capsys):  # noqa: F811
    before = intents_of(registry)
    argv = ["add-intent", "refund", "cash back", "money back", "--extend"]
    assert main([*argv, "--registry", str(registry)]) == 0
    assert "added 1 example(s) to 'refund', now 3 examples" in capsys.readouterr().out
    assert intents_of(registry)["refund"] == ["money back", "refund please", "cash back"]
    assert history_notes(registry, capsys)[-1] == "added 1 example(s) to 'refund'"
    assert main(["undo", "--registry", str(registry)]) == 0
    assert intents_of(registry) == before


def test_a_registry_saved_without_history_says_so_and_its_next_change_can_be_undone(
    tmp_path,
    registry,  # noqa: F811
    capsys,
):
    plain = tmp_path / "plain"
    FakeClassifier.load(registry).save(plain)  # the Python API keeps no history
    assert history_notes(plain, capsys) == [f"no earlier versions kept for {plain}"]
    assert main(["add-intent", "cancel", "stop my order", "--registry", str(plain)]) == 0
    assert history_notes(plain, capsys) == ["unrecorded change", "added intent 'cancel'"]
    assert main(["undo", "--registry", str(plain)]) == 0
    assert intents_of(plain) == intents_of(registry)


def test_a_history_that_cannot_be_written_warns_and_the_change_is_saved(registry, capsys):  # noqa: F811
    shutil.rmtree(registry / "history")
    (registry / "history").write_text("not a directory")
    capsys.readouterr()
    assert main(["add-intent", "cancel", "stop my order", "--registry", str(registry)]) == 0
    captured = capsys.readouterr()
    assert "added 'cancel'" in captured.out
    assert captured.err.startswith("intentmeta: warning: saved, but not kept in the history")
    assert "cancel" in intents_of(registry)


def test_a_missing_input_file_is_named_like_classify_file_does(registry, tmp_path, capsys):  # noqa: F811
    capsys.readouterr()
    assert main(["import", str(tmp_path / "nope.csv"), "--registry", str(registry)]) == 2
    err = capsys.readouterr().err
    assert err == f"intentmeta import: error: no input file {str(tmp_path / 'nope.csv')!r}\n"


@pytest.mark.parametrize("command", [["list"], ["history"], ["undo"], ["export"]])
def test_a_registry_file_instead_of_its_directory_names_the_directory(
    registry,  # noqa: F811
    capsys,
    command,
):
    capsys.readouterr()
    assert main([*command, "--registry", str(registry / "intentmeta.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"intentmeta {command[0]}: error: --registry takes the registry's ")
    assert f"did you mean --registry {str(registry)!r}?" in err
