"""``intentmeta calibrate``: labelled traffic in, before / after figures out, registry saved."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from test_cli import FakeClassifier

import intentmeta
from intentmeta.cli import main

INTENTS = {
    "refund": ["money back", "refund please", "refund my money"],
    "track": ["where is my parcel", "track my parcel", "parcel status"],
}


@pytest.fixture
def registry(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(intentmeta, "IntentClassifier", FakeClassifier)
    clf = FakeClassifier()
    for name, examples in INTENTS.items():
        clf.add_intent(name, examples)
    clf.save(tmp_path / "registry")
    return tmp_path / "registry"


def write_traffic(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


def test_calibrate_reports_before_and_after_and_saves_the_map(registry, tmp_path, capsys):
    data = write_traffic(
        tmp_path / "traffic.csv",
        [
            ("money back now", "refund"),
            ("parcel where", "track"),
            ("violin concert tickets", "oos"),
            ("zebra crossing rules", "oos"),
        ],
    )
    assert main(["calibrate", "--registry", str(registry), "--data", str(data)]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "2 in-scope and 2 out-of-scope messages" in out
    assert "Generating" not in captured.err  # no progress bar of the data set library
    for figure in ("in scope accepted", "in scope accuracy", "out of scope recall", "log loss"):
        assert figure in out
    saved = FakeClassifier.load(registry)
    assert saved.oos.adjustment != (1.0, 0.0)


def test_calibrate_dry_run_changes_no_file_and_unknown_labels_are_an_error(
    registry, tmp_path, capsys
):
    before = {p.name: p.read_bytes() for p in registry.iterdir()}
    data = write_traffic(tmp_path / "t.csv", [("money back", "refund"), ("zebra", "oos")])
    assert main(["calibrate", "--registry", str(registry), "--data", str(data), "--dry-run"]) == 0
    assert {p.name: p.read_bytes() for p in registry.iterdir()} == before
    bad = write_traffic(tmp_path / "bad.csv", [("money back", "refunds"), ("zebra", "oos")])
    assert main(["calibrate", "--registry", str(registry), "--data", str(bad)]) == 2
    assert "refunds" in capsys.readouterr().err
    none_out = write_traffic(tmp_path / "none.csv", [("money back", "refund")])
    assert main(["calibrate", "--registry", str(registry), "--data", str(none_out)]) == 2
    missing = str(tmp_path / "nope.csv")
    capsys.readouterr()
    assert main(["calibrate", "--registry", str(registry), "--data", missing]) == 2
    assert f"no input file {missing!r}" in capsys.readouterr().err


def test_calibrate_to_a_stated_share_saves_the_map_and_needs_no_data(registry, capsys):
    assert main(["calibrate", "--registry", str(registry), "--share", "0.5"]) == 0
    assert "out-of-scope share 0.5" in capsys.readouterr().out
    assert FakeClassifier.load(registry).oos.adjustment[1] > 0  # above the rule's 0.4
    both = ["calibrate", "--registry", str(registry), "--share", "0.5", "--data", "x.csv"]
    assert main(both) == 2  # one source only
    assert "not allowed with" in capsys.readouterr().err
    saved = FakeClassifier.load(registry).oos.adjustment
    assert main(["calibrate", "--registry", str(registry), "--share", "1.5"]) == 2
    assert "share" in capsys.readouterr().err
    assert FakeClassifier.load(registry).oos.adjustment == saved  # nothing half-changed


def test_a_share_with_dry_run_reports_and_changes_no_file(registry, capsys):
    before = {p.name: p.read_bytes() for p in registry.iterdir()}
    assert main(["calibrate", "--registry", str(registry), "--share", "0.7", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "out-of-scope share 0.7" in out and "saved" not in out
    assert {p.name: p.read_bytes() for p in registry.iterdir()} == before


def test_a_calibration_is_listed_in_the_history_and_undone(registry, capsys):
    before = FakeClassifier.load(registry).oos.adjustment
    assert main(["calibrate", "--registry", str(registry), "--share", "0.5"]) == 0
    assert FakeClassifier.load(registry).oos.adjustment != before
    capsys.readouterr()
    assert main(["history", "--registry", str(registry)]) == 0
    notes = [line.split("\t")[-1] for line in capsys.readouterr().out.splitlines()]
    assert notes == ["unrecorded change", "calibrated to an out-of-scope share of 0.5"]
    assert main(["undo", "--registry", str(registry)]) == 0
    assert FakeClassifier.load(registry).oos.adjustment == before
