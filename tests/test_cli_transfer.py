"""``intentmeta export / import / history / undo``: a registry round-trips through CSV and JSON."""

from __future__ import annotations

import json

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
    assert len(lines) == 2 and "imported" in lines[-1]
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
