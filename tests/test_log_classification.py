"""classify_file: every format round-trips with its columns; resumes exactly; clear errors."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from intentmeta.log_classification import (
    LogSummary,
    classify_file,
    parts_path,
    prediction_types,
    state_path,
)

MESSAGES = [
    "where is my parcel",
    "money back now",
    "hello good morning",
    "track the parcel",
    "refund my money",
    "totally unrelated words",
    "hi hello",
]


def rows(n: int = 23) -> list[dict]:
    """Rows with columns to carry: an id with leading zeros, a number, a comma and a newline."""
    return [
        {
            "ticket": f"{i:05d}",
            "text": MESSAGES[i % len(MESSAGES)] + ("" if i % 5 else ", really\nplease"),
            "agent": f"agent {i % 3}",
        }
        for i in range(n)
    ]


def write_input(path, records: list[dict]) -> None:
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    elif path.suffix == ".csv":
        pa_csv.write_csv(pa.Table.from_pylist(records), path)
    else:
        pq.write_table(pa.Table.from_pylist(records), path, row_group_size=7)


def read_output(path) -> list[dict]:
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines()]
    if path.suffix == ".csv":
        names = pa_csv.open_csv(path).schema.names
        table = pa_csv.read_csv(
            path,
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=True
            ),
        )
        return table.to_pylist()
    return pq.read_table(path).to_pylist()


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_each_format_round_trips_with_carried_columns(tmp_path, toy_classifier, fmt):
    source, out = tmp_path / f"in.{fmt}", tmp_path / f"out.{fmt}"
    records = rows()
    write_input(source, records)
    summary = classify_file(source, toy_classifier, out, top_k=2, batch_size=5, progress=False)
    written = read_output(out)
    assert [r["ticket"] for r in written] == [r["ticket"] for r in records]  # "00001" kept
    assert [r["text"] for r in written] == [r["text"] for r in records]
    assert [r["agent"] for r in written] == [r["agent"] for r in records]
    expected = toy_classifier.classify_batch([r["text"] for r in records])
    assert [r["intent"] for r in written] == [p.intent or "oos" for p in expected]
    for row, prediction in zip(written, expected, strict=True):
        assert float(row["confidence"]) == pytest.approx(prediction.confidence, abs=1e-6)
        assert str(row["out_of_scope"]).lower() == str(prediction.is_out_of_scope).lower()
        top = list(prediction.scores.items())
        assert row["top1_intent"] == top[0][0] and row["top2_intent"] == top[1][0]
        assert float(row["top2_score"]) == pytest.approx(top[1][1], abs=1e-6)
    assert list(written[0])[:3] == ["ticket", "text", "agent"]
    assert list(written[0])[3:] == list(prediction_types(2))
    assert summary.rows == summary.classified == len(records)
    assert sum(summary.intent_counts.values()) + summary.out_of_scope == len(records)
    assert not parts_path(out).exists()
    assert json.loads(state_path(out).read_text())["complete"] is True


def test_formats_can_differ_and_rows_without_text_are_kept_unclassified(tmp_path, toy_classifier):
    source, out = tmp_path / "in.jsonl", tmp_path / "out.parquet"
    records = [{"message": "where is my parcel", "n": 1}, {"message": "   "}, {"n": 3}]
    write_input(source, records)
    summary = classify_file(source, toy_classifier, out, progress=False)  # "message" guessed
    written = read_output(out)
    assert [r["n"] for r in written] == [1, None, 3]
    assert written[0]["intent"] == "track_order"
    assert written[1]["intent"] is None and written[2]["confidence"] is None
    assert (summary.rows, summary.classified, summary.unclassified) == (3, 1, 2)
    assert "2 rows without text" in str(summary)


def test_summary_counts_intents_and_out_of_scope(tmp_path, fake_encoder, toy_intents):
    from intentmeta import IntentClassifier

    clf = IntentClassifier(encoder=fake_encoder, oos_threshold=0.5)
    for name, examples in toy_intents.items():
        clf.add_intent(name, examples)
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    write_input(source, [{"text": t} for t in ["parcel where", "zebra quantum", "money back"]])
    summary = classify_file(source, clf, out, progress=False)
    assert summary.out_of_scope == 1 and summary.out_of_scope_share == pytest.approx(1 / 3)
    assert summary.intent_counts == {"refund": 1, "track_order": 1}
    assert summary.as_dict()["messages_per_s"] > 0
    assert "33.3% of 3 classified" in str(summary)


class CrashingClassifier:
    """Delegates to a classifier, and raises after ``batches`` calls (a crash mid-run)."""

    def __init__(self, inner, batches: int) -> None:
        self.inner, self.left = inner, batches
        self.config, self.encoder = inner.config, inner.encoder

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def classify_embeddings(self, queries):  # what classify_file calls per batch
        if self.left == 0:
            raise KeyboardInterrupt
        self.left -= 1
        return self.inner.classify_embeddings(queries)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_an_interrupted_run_resumes_with_every_row_once(tmp_path, toy_classifier, fmt, monkeypatch):
    from intentmeta import log_classification

    monkeypatch.setattr(log_classification, "IntentClassifier", object)  # accept the stand-in
    source, out = tmp_path / f"in.{fmt}", tmp_path / f"out.{fmt}"
    records = rows(40)
    write_input(source, records)
    with pytest.raises(KeyboardInterrupt):
        classify_file(source, CrashingClassifier(toy_classifier, 3), out, batch_size=6,
                      progress=False)  # fmt: skip
    # Leftovers of a crash between writing a batch and recording it: a torn CSV / JSON Lines
    # tail, a half-written part file and a whole part that the progress file does not list.
    if fmt == "parquet":
        (parts_path(out) / "part-000003.tmp").write_bytes(b"PAR1 torn")
        pq.write_table(pa.table({"x": [1]}), parts_path(out) / "part-000003.parquet")
    else:
        with open(out, "ab") as file:
            file.write(b'"99999","torn half row')
    summary = classify_file(source, toy_classifier, out, batch_size=6, progress=False)
    written = read_output(out)
    assert [r["ticket"] for r in written] == [r["ticket"] for r in records]
    assert summary.resumed_from == 18 and summary.rows == 40
    assert sum(summary.intent_counts.values()) + summary.out_of_scope == 40


def test_a_finished_output_is_not_redone(tmp_path, toy_classifier):
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    write_input(source, rows(5))
    first = classify_file(source, toy_classifier, out, progress=False)
    before = out.read_bytes()
    again = classify_file(source, toy_classifier, out, progress=False)
    assert out.read_bytes() == before
    assert again.rows == first.rows and again.intent_counts == first.intent_counts


def test_empty_input_gives_a_header_only_output(tmp_path, toy_classifier):
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text("id,text\n")
    summary = classify_file(source, toy_classifier, out, top_k=1, progress=False)
    assert out.read_text().splitlines() == [
        '"id","text","intent","confidence","out_of_scope","top1_intent","top1_score"'
    ]
    assert summary.rows == 0


def test_errors_are_clear_and_change_nothing(tmp_path, toy_classifier):
    source = tmp_path / "in.csv"
    write_input(source, [{"id": "1", "body text": "hello", "note": "x"}])

    def fails(message, **kwargs):
        out = kwargs.pop("out", tmp_path / "out.csv")
        with pytest.raises(ValueError, match=message):
            classify_file(kwargs.pop("source", source), toy_classifier, out, progress=False,
                          **kwargs)  # fmt: skip

    fails("cannot tell which column")
    fails("has no column 'txt'", text_column="txt")
    fails("cannot tell the format of .*'.txt'", out=tmp_path / "out.txt")
    fails("cannot tell the format", source=tmp_path / "in.xlsx")
    fails("no input file", source=tmp_path / "missing.csv")
    fails("another file than the input", out=source)
    fails("top_k must be at most", text_column="body text", top_k=99)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]

    clashing = tmp_path / "clash.csv"
    write_input(clashing, [{"text": "hi", "intent": "x"}])
    fails("already has the output column", source=clashing)

    # An output of another input, or with other settings, is never continued.
    out = tmp_path / "out.csv"
    classify_file(source, toy_classifier, out, text_column="body text", progress=False)
    other = tmp_path / "other.csv"
    write_input(other, [{"id": "2", "body text": "bye", "note": "y"}])
    fails("belongs to another input", source=other, text_column="body text")
    fails("another top k", text_column="body text", top_k=1)
    unrelated = tmp_path / "unrelated.csv"
    unrelated.write_text("not ours\n")
    fails(
        "already exists and is not a classify-file output", out=unrelated, text_column="body text"
    )
    assert unrelated.read_text() == "not ours\n"
    summary = classify_file(other, toy_classifier, out, text_column="body text", overwrite=True,
                            progress=False)  # fmt: skip
    assert summary.rows == 1 and "bye" in out.read_text()


def test_summary_text_lists_intents_most_frequent_first():
    summary = LogSummary("o.csv", 5, 4, 1, 1, {"b": 2, "a": 1}, resumed_from=2, seconds=1.5)
    text = str(summary)
    assert "resumed after 2" in text and text.index("2  b") < text.index("1  a")
    assert summary.messages_per_s == pytest.approx(2.0)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_reading_after_any_number_of_rows_starts_at_the_next_row(tmp_path, fmt):
    from intentmeta.log_files import read_batches

    source = tmp_path / f"in.{fmt}"
    records = rows(30)  # Parquet: row groups of 7, the last one shorter
    write_input(source, records)
    for skip in range(31):
        batches = list(read_batches(source, fmt, 4, skip=skip))
        got = [r["ticket"] for b in batches for r in (b if fmt == "jsonl" else b.to_pylist())]
        assert got == [r["ticket"] for r in records[skip:]], skip
        assert all(len(b) == 4 for b in batches[:-1])


def test_an_output_removed_mid_run_is_refused_and_a_finished_one_is_rewritten(
    tmp_path, toy_classifier
):
    from intentmeta import log_classification

    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    write_input(source, rows(6))
    classify_file(source, toy_classifier, out, progress=False)
    out.unlink()  # finished, then deleted: a rerun writes it again
    assert classify_file(source, toy_classifier, out, progress=False).rows == 6
    assert len(read_output(out)) == 6

    state = json.loads(state_path(out).read_text())
    state["complete"] = False  # as if killed after some batches, then the output deleted
    state_path(out).write_text(json.dumps(state))
    out.unlink()
    with pytest.raises(ValueError, match="or gone"):
        log_classification.classify_file(source, toy_classifier, out, progress=False)
