"""``intentmeta report`` and ``intentmeta discover`` on the fake encoder."""

from __future__ import annotations

import json

import pytest
from test_cli import FakeClassifier

import intentmeta
from intentmeta.cli import main
from intentmeta.cli.discover import read_messages


@pytest.fixture
def registry(tmp_path, monkeypatch):
    monkeypatch.setattr(intentmeta, "IntentClassifier", FakeClassifier)
    clf = FakeClassifier()
    clf.add_intent("track_order", ["where is my parcel", "track my parcel please", "parcel status"])
    clf.add_intent("refund", ["money back refund", "refund my money", "where is my parcel now"])
    clf.save(tmp_path / "registry")
    return tmp_path / "registry"


def test_report_prints_suspects_and_writes_html_and_json(registry, tmp_path, capsys):
    html, data = tmp_path / "report.html", tmp_path / "report.json"
    argv = ["report", "--registry", str(registry), "--html", str(html), "--json", str(data)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "[refund] 'where is my parcel now' -> track_order" in out
    assert html.read_text().startswith("<!DOCTYPE html>")
    assert json.loads(data.read_text())["suspects"][0]["better_intent"] == "track_order"


def test_discover_reads_a_csv_and_writes_suggestions(registry, tmp_path, capsys):
    messages = tmp_path / "messages.csv"
    rows = ["id,text", "1,where is my parcel", '2,"cancel subscription, please"']
    rows += ["3,cancel subscription", "4,cancel subscription now", "5,gift card balance"]
    rows += ["6,gift card balance check", "7,balance gift card"]
    messages.write_text("\n".join(rows) + "\n")
    out = tmp_path / "suggestions.json"
    argv = ["discover", str(messages), "--registry", str(registry), "--out", str(out)]
    assert main([*argv, "--groups", "2"]) == 0
    assert "suggested new intents" in capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["labels"][0] == "track_order"
    assert len(result["groups"]) == 2
    assert {g["size"] for g in result["groups"]} == {3}


def test_read_messages_from_csv_without_header_and_from_text(tmp_path):
    plain = tmp_path / "log.txt"
    plain.write_text("first message\n\nsecond, with a comma\n")
    assert read_messages(plain) == ["first message", "second, with a comma"]
    headless = tmp_path / "log.csv"
    headless.write_text("hello there,x\nbye now,y\n")
    assert read_messages(headless) == ["hello there", "bye now"]
    empty = tmp_path / "empty.csv"
    empty.write_text("text\n")
    with pytest.raises(ValueError, match="no messages"):
        read_messages(empty)


def test_discover_with_a_missing_file_is_one_error_line(registry, tmp_path, capsys):
    assert main(["discover", str(tmp_path / "nope.csv"), "--registry", str(registry)]) == 2
    assert capsys.readouterr().err.startswith("intentmeta discover: error:")
