"""Classify a Spark DataFrame of messages with a saved registry, on every executor.

:func:`classify` adds the same prediction columns as :func:`~intentmeta.log_classification.
classify_file` (``intent``, ``confidence``, ``out_of_scope``, ``top1_intent`` ...) through
``DataFrame.mapInPandas``. The registry directory is shipped to the executors with
``SparkContext.addFile`` (or read from a path every executor sees), each executor's Python worker
builds the classifier once and keeps it, and rows are classified in batches.

Needs the optional extra ``intentmeta[spark]`` (``pyspark`` 4, and a Java 17 runtime).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from intentmeta import log_files
from intentmeta.log_classification import (
    LogSummary,
    classify_texts,
    load_classifier,
    pick_text_column,
    prediction_columns,
    prediction_types,
)
from intentmeta.prediction import OUT_OF_SCOPE

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

#: Classifiers built in this (executor) process, by registry location and settings.
_CLASSIFIERS: dict[tuple, object] = {}
_CLASSIFIERS_LOCK = threading.Lock()


def registry_digest(registry: Path) -> str:
    """A hash of every file in the registry directory (names and contents)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in registry.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(registry)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def ship_registry(spark: SparkSession, registry: str | os.PathLike) -> str:
    """Send a registry directory to every executor; returns its name for ``SparkFiles.get``.

    The directory is staged under a name made of its content's hash, so two registries never
    collide and a changed registry is shipped anew.
    """
    registry = Path(registry)
    if not (registry / "intentmeta.json").is_file():
        raise ValueError(f"no registry at {str(registry)!r} (no intentmeta.json)")
    name = f"intentmeta-registry-{registry_digest(registry)}"
    staged = Path(tempfile.gettempdir()) / "intentmeta-spark" / name
    if not staged.is_dir():
        partial = Path(tempfile.mkdtemp(dir=staged.parent if staged.parent.is_dir() else None))
        shutil.copytree(registry, partial / name)
        staged.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(partial / name, staged)
        except OSError:
            if not staged.is_dir():
                raise
        shutil.rmtree(partial, ignore_errors=True)
    context = spark.sparkContext
    if name not in {Path(uri).name for uri in context.listFiles}:
        context.addFile(str(staged), recursive=True)
    return name


def executor_classifier(
    location: tuple[str, str], backend: str, top_k: int, encoder: str | None = None
):
    """The classifier of this Python worker, built on first use and then reused.

    Args:
        location: ``("sparkfiles", name)`` for a shipped registry, ``("path", dir)`` otherwise.
        backend: Encoder backend.
        top_k: Intents listed per row.
        encoder: The encoder's name or path, for a registry not made with the bundled one.
    """
    key = (location, backend, top_k, encoder)
    with _CLASSIFIERS_LOCK:
        if key not in _CLASSIFIERS:
            import torch
            from pyspark import SparkFiles, TaskContext

            context = TaskContext.get()
            torch.set_num_threads(max(1, context.cpus()) if context is not None else 1)
            kind, where = location
            directory = SparkFiles.get(where) if kind == "sparkfiles" else where
            _CLASSIFIERS[key] = load_classifier(
                directory, backend=backend, top_k=top_k, encoder=encoder
            )
        return _CLASSIFIERS[key]


def _spark_type(arrow_type: pa.DataType):
    from pyspark.sql import types as T

    if pa.types.is_string(arrow_type):
        return T.StringType()
    if pa.types.is_boolean(arrow_type):
        return T.BooleanType()
    return T.DoubleType()


def classify(
    df: DataFrame,
    registry_dir: str | os.PathLike,
    text_col: str = "text",
    *,
    top_k: int = 3,
    batch_size: int = 256,
    backend: str = "torch",
    encoder: str | None = None,
    ship: bool = True,
) -> DataFrame:
    """The DataFrame with the prediction columns added, computed on the executors.

    Args:
        df: Any DataFrame with a string column of messages.
        registry_dir: A registry saved by :meth:`~intentmeta.IntentClassifier.save`.
        text_col: The column holding the messages.
        top_k: Best intents listed per row.
        batch_size: Rows classified at a time.
        backend: Encoder backend (``"torch"``, ``"quantized"``, ``"onnx-int8"``).
        encoder: The encoder's name or path (each executor must be able to load it), for a
            registry made with another encoder than the bundled one.
        ship: Send the registry to the executors with ``addFile``; ``False`` reads
            ``registry_dir`` on each executor (a path all of them see).

    Returns:
        A lazy DataFrame: ``df``'s columns, then ``intent``, ``confidence``, ``out_of_scope``,
        ``top1_intent``, ``top1_score`` ...

    Raises:
        ValueError: If the text column is missing or a prediction column already exists.

    Example:
        >>> from intentmeta.spark import classify  # doctest: +SKIP
        >>> classify(spark.read.parquet("tickets.parquet"), "my_intents/").show()  # doctest: +SKIP
    """
    from pyspark.sql import types as T

    if text_col not in df.columns:
        raise ValueError(f"the DataFrame has no column {text_col!r} (columns: {df.columns})")
    types = prediction_types(top_k)
    clashes = [name for name in types if name in df.columns]
    if clashes:
        raise ValueError(f"the DataFrame already has the column(s) {', '.join(clashes)}")
    if ship:
        location = ("sparkfiles", ship_registry(df.sparkSession, registry_dir))
    else:
        location = ("path", str(Path(registry_dir).resolve()))
    schema = T.StructType(
        [*df.schema.fields]
        + [T.StructField(name, _spark_type(kind), True) for name, kind in types.items()]
    )

    def predict(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        classifier = executor_classifier(location, backend, top_k, encoder)
        for frame in frames:
            for start in range(0, len(frame), batch_size):
                chunk = frame.iloc[start : start + batch_size]
                predictions = classify_texts(classifier, chunk[text_col].tolist())
                yield chunk.assign(**prediction_columns(predictions, top_k))

    return df.mapInPandas(predict, schema)


def local_session(cores: int | str = "*", app_name: str = "intentmeta") -> SparkSession:
    """A local Spark session whose Python workers run this interpreter.

    Args:
        cores: Worker threads, ``local[cores]``.
        app_name: The Spark application's name.
    """
    import sys

    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    return (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )


def classify_parquet(
    source: str | os.PathLike,
    registry_dir: str | os.PathLike,
    out: str | os.PathLike,
    *,
    text_column: str | None = None,
    top_k: int = 3,
    batch_size: int = 256,
    backend: str = "torch",
    encoder: str | None = None,
    overwrite: bool = False,
    cores: int | str = "*",
) -> LogSummary:
    """``classify-file --engine spark``: a Parquet log through :func:`classify` on local Spark.

    The output is a Parquet dataset in the Spark convention: a directory of part files, which
    pyarrow, pandas and Spark read as one table. Spark retries failed tasks itself; a killed
    run is started again from the beginning (use the local engine to resume).

    Returns:
        The summary of the written output.
    """
    # Absolute: Spark resolves relative paths in its JVM's directory, not this process's.
    source, out = Path(source).resolve(), Path(out).resolve()
    for path in (source, out):
        if log_files.file_format(path) != "parquet":
            raise ValueError(f"--engine spark reads and writes Parquet only, not {str(path)!r}")
    if not source.exists():
        raise ValueError(f"no input {str(source)!r}")
    if out.exists() and not overwrite:
        raise ValueError(f"{out} already exists; pass overwrite to replace it")
    if text_column is None:
        text_column = pick_text_column(
            log_files.column_names(source, "parquet"),
            log_files.string_columns(source, "parquet"),
            source,
        )
    started = time.perf_counter()
    spark = local_session(cores)
    df = spark.read.parquet(str(source))
    result = classify(df, registry_dir, text_column, top_k=top_k, batch_size=batch_size,
                      backend=backend, encoder=encoder)  # fmt: skip
    result.write.mode("overwrite" if overwrite else "errorifexists").parquet(str(out))
    counts = {
        row["intent"]: row["count"]
        for row in spark.read.parquet(str(out)).groupBy("intent").count().collect()
    }
    seconds = time.perf_counter() - started
    unclassified = counts.pop(None, 0)
    out_of_scope = counts.pop(OUT_OF_SCOPE, 0)
    classified = sum(counts.values()) + out_of_scope
    ranked = dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    return LogSummary(
        output=str(out),
        rows=classified + unclassified,
        classified=classified,
        unclassified=unclassified,
        out_of_scope=out_of_scope,
        intent_counts=ranked,
        seconds=seconds,
    )
