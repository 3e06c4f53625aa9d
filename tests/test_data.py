"""Loaders on small hand-written fixtures (never the real data sets)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from intentmeta.research.data import IntentDataset, load_dataset, load_domains, load_out_of_scope

FIXTURES = Path(__file__).parent / "fixtures"


def test_csv_columns_are_guessed_and_oos_rows_are_kept_apart():
    data = load_dataset(FIXTURES / "tiny.csv")
    assert data.texts[2] == "refund, please"
    assert data.labels == ["track_order", "track_order", "refund", "refund"]
    assert load_out_of_scope(FIXTURES / "tiny.csv") == ["what is the weather"]


def test_jsonl_columns_are_guessed():
    data = load_dataset(FIXTURES / "tiny.jsonl")
    assert data.intents == ["greeting", "goodbye"]
    assert data.by_intent()["greeting"] == ["hello there", "hi friend"]


def test_explicit_column_names_win_over_guesses(tmp_path):
    path = tmp_path / "custom.json"
    path.write_text(json.dumps([{"msg": "a b", "tag": "x"}, {"msg": "c d", "tag": "y"}]))
    data = load_dataset(path, text_column="msg", label_column="tag")
    assert (data.texts, data.labels) == (["a b", "c d"], ["x", "y"])


def test_unguessable_columns_raise_a_helpful_error(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("foo,bar\n1,2\n")
    with pytest.raises(ValueError, match="text_column"):
        load_dataset(path)


def test_banking77_directory_reads_train_and_test_csv():
    train = load_dataset(FIXTURES / "banking", split="train")
    test = load_dataset(FIXTURES / "banking", split="test")
    assert len(train) == 3 and len(test) == 2
    assert train.intents == ["card_arrival", "exchange_rate"]
    assert test.split == "test"


def test_clinc_directory_reads_in_scope_items_of_each_split():
    test = load_dataset(FIXTURES / "clinc", split="test")
    assert test.name == "clinc150"
    assert "oos" not in test.labels and len(test) == 2
    assert len(load_dataset(FIXTURES / "clinc" / "data_full.json", split="validation")) == 2


def test_clinc_out_of_scope_joins_the_oos_split_and_oos_items():
    assert load_out_of_scope(FIXTURES / "clinc", "test") == [
        "sing me a song",
        "how tall is a giraffe",
        "paint my house",
    ]
    assert load_out_of_scope(FIXTURES / "clinc", "val") == ["tell me a joke"]


def test_clinc_unknown_split_raises():
    with pytest.raises(ValueError, match="no split"):
        load_dataset(FIXTURES / "clinc", split="dev2")


def test_clinc_domains_map_domains_to_intents():
    assert load_domains(FIXTURES / "clinc") == {
        "dining": ["restaurant_reservation"],
        "banking": ["balance"],
    }


def test_subset_selects_rows_and_intents():
    data = IntentDataset(["a", "b", "c"], ["x", "y", "x"], "toy", "train")
    assert data.subset(intents=["x"]).texts == ["a", "c"]
    assert data.subset([1, 0]).labels == ["y", "x"]
    assert data.subset([0]).name == "toy"


def test_mismatched_lengths_are_rejected():
    with pytest.raises(ValueError, match="differ"):
        IntentDataset(["a"], [])
