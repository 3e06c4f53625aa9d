"""intentmeta.spark on a local Spark (local[2]): the same predictions as classify_batch."""

from __future__ import annotations

import os
import random

import pytest

pyspark = pytest.importorskip("pyspark", reason="the spark extra (pyspark) is not installed")

from intentmeta import IntentClassifier, builtin_intents  # noqa: E402
from intentmeta.log_classification import load_classifier  # noqa: E402

N_MESSAGES = int(os.environ.get("INTENTMETA_SPARK_TEST_MESSAGES", "1000"))


def messages(n: int, seed: int = 0) -> list[str]:
    """Distinct customer-like messages made from the built-in examples."""
    rng = random.Random(seed)
    examples = [t for group in builtin_intents("ecommerce").values() for t in group]
    openers = ["", "hi, ", "hello! ", "quick question: ", "please help, "]
    closers = ["", " thanks", " asap", " (order {n})", " - ticket {n}"]
    return [
        f"{rng.choice(openers)}{rng.choice(examples)}{rng.choice(closers)}".format(n=i)
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def spark():
    from intentmeta.spark import local_session

    session = local_session(2, app_name="intentmeta-test")
    yield session
    session.stop()


@pytest.mark.integration
def test_spark_gives_the_same_predictions_as_classify_batch(tmp_path, spark, real_encoder):
    from intentmeta.spark import classify

    registry = tmp_path / "registry"
    IntentClassifier.from_builtin("ecommerce", encoder=real_encoder).save(registry)
    texts = messages(N_MESSAGES)
    texts[7] = "   "  # a blank message gets empty prediction columns, as in classify_file
    rows = [(i, text) for i, text in enumerate(texts)]
    df = spark.createDataFrame(rows, "id long, text string").repartition(2)
    result = classify(df, registry, top_k=2, batch_size=128).orderBy("id").collect()

    expected = load_classifier(registry, top_k=2)
    predictions = expected.classify_batch([t for t in texts if t.strip()])
    predictions.insert(7, None)
    assert [r["id"] for r in result] == list(range(len(texts)))
    assert result[7]["intent"] is None and result[7]["confidence"] is None
    for row, prediction in zip(result, predictions, strict=True):
        if prediction is None:
            continue
        assert row["text"] == texts[row["id"]]
        assert row["intent"] == (prediction.intent or "oos")
        assert row["out_of_scope"] == prediction.is_out_of_scope
        assert row["confidence"] == pytest.approx(prediction.confidence, abs=1e-4)
        top = list(prediction.scores)
        assert [row["top1_intent"], row["top2_intent"]] == top[:2]


def test_spark_errors_are_clear(tmp_path, spark):
    from intentmeta.spark import classify

    df = spark.createDataFrame([(1, "hi")], "id long, message string")
    with pytest.raises(ValueError, match="no column 'text'"):
        classify(df, tmp_path)
    with pytest.raises(ValueError, match="no registry"):
        classify(df, tmp_path / "missing", text_col="message")
    clash = spark.createDataFrame([("hi", "x")], "text string, intent string")
    with pytest.raises(ValueError, match="already has the column"):
        classify(clash, tmp_path)


@pytest.mark.integration
def test_readme_spark_example_and_engine_spark_run_as_written(
    tmp_path, spark, real_encoder, monkeypatch
):
    import pandas as pd
    from test_readme_logs import cli_commands, log_section_blocks

    from intentmeta.cli import main

    # What the README's Python example leaves behind: shop_intents/ and tickets.parquet.
    IntentClassifier.from_builtin("ecommerce", encoder=real_encoder).save(tmp_path / "shop_intents")
    texts = ["where is my parcel?", "I want my money back", "what's the weather like?"]
    pd.DataFrame({"ticket_id": ["T001", "T002", "T003"], "text": texts}).to_parquet(
        tmp_path / "tickets.parquet"
    )
    expected = load_classifier(tmp_path / "shop_intents").predict(texts)
    monkeypatch.chdir(tmp_path)
    # The session's JVM started elsewhere: Spark's relative paths would resolve there.
    block = log_section_blocks("python")[1].replace('"tickets', f'"{tmp_path}/tickets')
    exec(block, {})
    labelled = spark.read.parquet(str(tmp_path / "tickets_spark.parquet"))
    assert [row["intent"] for row in labelled.orderBy("ticket_id").collect()] == expected

    [command] = cli_commands(spark=True)
    assert main(command[1:]) == 0
    written = spark.read.parquet(str(tmp_path / command[command.index("--out") + 1]))
    assert [row["intent"] for row in written.orderBy("ticket_id").collect()] == expected
