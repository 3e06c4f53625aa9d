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


def test_read_messages_from_a_text_file_and_a_one_column_csv(tmp_path):
    plain = tmp_path / "log.txt"
    plain.write_text("first message\n\nsecond, with a comma\n")
    assert read_messages(plain) == ["first message", "second, with a comma"]
    one_column = tmp_path / "log.csv"
    one_column.write_text("msg\nhello there\nbye now\n")  # the only column: classify-file's rule
    assert read_messages(one_column) == ["hello there", "bye now"]
    empty = tmp_path / "empty.csv"
    empty.write_text("text\n")
    with pytest.raises(ValueError, match="no messages"):
        read_messages(empty)


def test_discover_with_a_missing_file_is_one_error_line(registry, tmp_path, capsys):
    missing = str(tmp_path / "nope.csv")
    assert main(["discover", missing, "--registry", str(registry)]) == 2
    assert capsys.readouterr().err == f"intentmeta discover: error: no input file {missing!r}\n"


@pytest.mark.parametrize("name", ["text", "Message", "body", "utterance", "query"])
def test_read_messages_guesses_the_text_column_from_the_names_classify_file_knows(tmp_path, name):
    log = tmp_path / "log.csv"
    log.write_text(f"id,{name}\n1,where is my parcel\n2,cancel my order\n")
    assert read_messages(log) == ["where is my parcel", "cancel my order"]


def test_read_messages_takes_a_named_text_column_from_csv_and_json_lines(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("message_text,id\nwhere is my parcel,1\ncancel my order,2\n")
    expected = ["where is my parcel", "cancel my order"]
    assert read_messages(log, text_column="message_text") == expected
    records = tmp_path / "log.jsonl"
    records.write_text('{"id": 1, "body": "gift card balance"}\n{"id": 2}\n')
    assert read_messages(records) == ["gift card balance"]
    with pytest.raises(ValueError, match="has no column 'nope' \\(columns: message_text, id\\)"):
        read_messages(log, text_column="nope")


def test_discover_refuses_a_csv_whose_text_column_it_cannot_tell_as_classify_file_does(
    registry, tmp_path, capsys
):
    log = tmp_path / "log.csv"
    log.write_text("message_text,id\nwhere is my parcel,1\ngift card balance,2\n")
    out = tmp_path / "suggestions.json"
    assert main(["discover", str(log), "--registry", str(registry), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("intentmeta discover: error: cannot tell which column")
    assert "(columns: message_text, id)" in error and "--text-column" in error
    assert not out.exists()
    argv = ["discover", str(log), "--registry", str(registry), "--out", str(out)]
    assert main([*argv, "--text-column", "message_text"]) == 0
    result = json.loads(out.read_text())
    assert result["labels"][0] == "track_order" and len(result["labels"]) == 2
