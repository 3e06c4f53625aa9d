"""Classify a whole message log (CSV, JSON Lines, Parquet) into a file, resumably.

:func:`classify_file` streams the input in batches through
:meth:`~intentmeta.IntentClassifier.classify_batch` and writes every input row with its columns
carried through, plus ``intent``, ``confidence``, ``out_of_scope`` and the top-k intents and
scores. Memory stays flat whatever the file's size.

The encoder works one batch ahead in a thread (:mod:`intentmeta.log_pipeline`), so reading,
classifying and writing overlap with it.

It survives being killed at any moment (``kill -9`` included): about once a second (and when the
run ends or fails) the batches written so far are fsync-ed, then a small progress file beside the
output (``OUT.progress.json``, replaced atomically) records them, and a rerun cuts the output
back to what the progress file records and continues from the next input row. Every row ends up
in the output exactly once, in input order; a kill costs at most the last second's work.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import pyarrow as pa

from intentmeta import log_files, log_progress
from intentmeta.classifier import IntentClassifier
from intentmeta.encoder import EncoderConfig, SentenceEncoder
from intentmeta.log_pipeline import EncodedBatch, encoded_batches, rows_with_text
from intentmeta.log_progress import parts_path, state_path
from intentmeta.message_column import pick_text_column, text_column_of
from intentmeta.persistence import load_registry, saved_encoder
from intentmeta.prediction import OUT_OF_SCOPE, Prediction

__all__ = [
    "LogSummary",
    "classify_file",
    "classify_texts",
    "load_classifier",
    "parts_path",
    "pick_text_column",
    "prediction_columns",
    "prediction_types",
    "state_path",
]


@dataclass
class LogSummary:
    """What a :func:`classify_file` run found, over the whole file (earlier runs included).

    Attributes:
        output: The output file.
        rows: Input rows written to the output.
        classified: Rows whose text was classified.
        unclassified: Rows with an empty or missing text (their prediction columns are empty).
        out_of_scope: Classified rows that fit no intent.
        intent_counts: Rows per predicted intent, most frequent first (out of scope excluded).
        resumed_from: Rows already in the output when this run started.
        seconds: Wall time of this run's classification loop.
        cpu_seconds: CPU time of this process over that loop (all threads).
        already_complete: Whether the output was already complete, so this run did nothing.

    Example:
        >>> s = LogSummary("out.csv", 4, 4, 0, 1, {"refund": 2, "track_order": 1})
        >>> s.out_of_scope_share
        0.25
    """

    output: str
    rows: int
    classified: int
    unclassified: int
    out_of_scope: int
    intent_counts: dict[str, int] = field(default_factory=dict)
    resumed_from: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    already_complete: bool = False

    @property
    def out_of_scope_share(self) -> float:
        """Share of the classified rows judged out of scope."""
        return self.out_of_scope / self.classified if self.classified else 0.0

    @property
    def messages_per_s(self) -> float:
        """Rows classified per second in this run."""
        done = self.rows - self.resumed_from
        return done / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        """A JSON-serialisable dict, rates included."""
        return {
            **asdict(self),
            "out_of_scope_share": self.out_of_scope_share,
            "messages_per_s": self.messages_per_s,
        }

    def __str__(self) -> str:
        resumed = f" (resumed after {self.resumed_from:,})" if self.resumed_from else ""
        lines = [
            f"{self.rows:,} rows -> {self.output}"
            + (" (already complete: nothing to do)" if self.already_complete else resumed),
            f"out of scope: {self.out_of_scope:,} ({100 * self.out_of_scope_share:.1f}% of "
            f"{self.classified:,} classified)"
            + (f"; {self.unclassified:,} rows without text" if self.unclassified else ""),
        ]
        lines += [f"  {count:>9,}  {intent}" for intent, count in self.intent_counts.items()]
        if self.seconds:
            lines.append(f"{self.messages_per_s:,.0f} messages/s over {self.seconds:.1f} s")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------- columns
def prediction_types(top_k: int) -> dict[str, pa.DataType]:
    """The columns added to every row, in order, and their Arrow types.

    ``intent`` is ``"oos"`` for out-of-scope messages; ``top1_intent`` ... ``top{k}_intent``
    and their ``_score`` list the best intents even then. All are empty for a row with no text.
    """
    types = {"intent": pa.string(), "confidence": pa.float64(), "out_of_scope": pa.bool_()}
    for rank in range(1, top_k + 1):
        types[f"top{rank}_intent"] = pa.string()
        types[f"top{rank}_score"] = pa.float64()
    return types


def prediction_columns(predictions: list[Prediction | None], top_k: int) -> dict[str, list]:
    """Column name -> one value per row (``None`` where a row had no prediction)."""
    columns: dict[str, list] = {name: [] for name in prediction_types(top_k)}
    for prediction in predictions:
        if prediction is None:
            for values in columns.values():
                values.append(None)
            continue
        columns["intent"].append(prediction.intent or OUT_OF_SCOPE)
        columns["confidence"].append(float(prediction.confidence))
        columns["out_of_scope"].append(bool(prediction.is_out_of_scope))
        ranked = list(prediction.scores.items())[:top_k]
        for rank in range(1, top_k + 1):
            intent, score = ranked[rank - 1] if rank <= len(ranked) else (None, None)
            columns[f"top{rank}_intent"].append(intent)
            columns[f"top{rank}_score"].append(None if score is None else float(score))
    return columns


def classify_texts(classifier: IntentClassifier, texts: list[object]) -> list[Prediction | None]:
    """Classify the rows that hold text; ``None`` for empty, blank or missing ones."""
    valid = rows_with_text(texts)
    found = classifier.classify_batch([texts[i] for i in valid])
    return _by_row(len(texts), valid, found)


def _by_row(n: int, valid: list[int], found: list[Prediction]) -> list[Prediction | None]:
    predictions: list[Prediction | None] = [None] * n
    for i, prediction in zip(valid, found, strict=True):
        predictions[i] = prediction
    return predictions


def _classify_encoded(classifier: IntentClassifier, encoded: EncodedBatch) -> list:
    """A batch's predictions (``None`` for rows without text) from its embeddings."""
    found = classifier.classify_embeddings(encoded.embeddings) if encoded.valid else []
    return _by_row(len(encoded.texts), encoded.valid, found)


def load_classifier(
    registry: str | os.PathLike,
    backend: str = "torch",
    top_k: int = 5,
    encoder: str | None = None,
) -> IntentClassifier:
    """A saved registry loaded for streaming: its encoder keeps no per-text cache.

    A log's messages are mostly seen once, so caching them would only grow memory.

    Args:
        registry: The registry directory.
        backend: The encoder backend (see :class:`~intentmeta.encoder.EncoderConfig`).
        top_k: Intents listed per prediction, at least.
        encoder: The encoder's name or path; required for a registry made with another encoder
            than the bundled one (a registry never chooses what is loaded).

    Raises:
        RegistryError: If the registry is missing or damaged, or needs ``encoder``.
    """
    if encoder is None:
        manifest, _ = load_registry(registry)
        named = manifest.get("config", {}).get("encoder") if isinstance(manifest, dict) else None
        encoder = saved_encoder(str(named), registry)
    streaming = SentenceEncoder(EncoderConfig(model=encoder, cache_size=0, backend=backend))
    classifier = IntentClassifier.load(registry, encoder=streaming)
    classifier.config.top_k = max(classifier.config.top_k, top_k)
    return classifier


def _summary(out: Path, state: dict, resumed_from: int, seconds: float, cpu: float = 0.0):
    counts = sorted(state["intent_counts"].items(), key=lambda item: (-item[1], item[0]))
    totals = {key: state[key] for key in ("rows", "classified", "unclassified", "out_of_scope")}
    return LogSummary(
        output=str(out),
        **totals,
        intent_counts=dict(counts),
        resumed_from=resumed_from,
        seconds=seconds,
        cpu_seconds=cpu,
    )


# ---------------------------------------------------------------------------------- the run
#: Seconds between commits (fsync of the output, then the progress file): what a kill may cost.
COMMIT_SECONDS = 1.0


def classify_file(
    source: str | os.PathLike,
    classifier: IntentClassifier | str | os.PathLike,
    out: str | os.PathLike,
    *,
    text_column: str | None = None,
    top_k: int = 3,
    batch_size: int = 256,
    backend: str = "torch",
    encoder: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> LogSummary:
    """Classify every row of a CSV, JSON Lines or Parquet file into another such file.

    Formats come from the extensions (``.csv``, ``.jsonl``/``.ndjson``, ``.parquet``/``.pq``) and
    may differ. If ``out`` holds a run that stopped part-way, it is continued.

    Args:
        source: The input log.
        classifier: An :class:`~intentmeta.IntentClassifier`, or a saved registry directory
            (loaded with :func:`load_classifier`).
        out: The output file.
        text_column: The column holding the messages; guessed when ``None``.
        top_k: Best intents listed per row (at most the classifier's ``config.top_k``).
        batch_size: Rows classified and written at a time.
        backend: Encoder backend when ``classifier`` is a directory (``"torch"``,
            ``"quantized"``, ``"onnx-int8"``).
        encoder: The encoder's name or path when ``classifier`` is a directory made with
            another encoder than the bundled one.
        overwrite: Replace ``out`` instead of continuing it.
        progress: Show a tqdm bar with messages/s.

    Returns:
        The whole file's summary (counts include rows written by an earlier, interrupted run).

    Raises:
        ValueError: For an unknown format, a missing or ambiguous text column, prediction
            columns the input already has, or an output that belongs to another input.
    """
    source, out = Path(source), Path(out)
    in_format, out_format = log_files.file_format(source), log_files.file_format(out)
    if not source.is_file():
        raise ValueError(f"no input file {str(source)!r}")
    if source.resolve() == out.resolve():
        raise ValueError("the output must be another file than the input")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, not {batch_size!r}")
    if top_k < 1:
        raise ValueError(f"top_k must be a positive integer, not {top_k!r}")
    columns = log_files.column_names(source, in_format)
    text_column = _check_columns(source, in_format, out_format, columns, text_column, top_k)
    if not isinstance(classifier, IntentClassifier):
        classifier = load_classifier(classifier, backend=backend, top_k=top_k, encoder=encoder)
    if top_k > classifier.config.top_k:
        raise ValueError(f"top_k must be at most the classifier's top_k, {classifier.config.top_k}")
    types = prediction_types(top_k)
    expected = {
        "version": log_progress.STATE_VERSION,
        "input": log_progress.input_fingerprint(source),
        "format": out_format,
        "text_column": text_column,
        "top_k": top_k,
        "classifier": log_progress.classifier_fingerprint(classifier),
    }
    state = log_progress.start(out, expected, overwrite)
    resumed_from = state["rows"]
    if state["complete"]:
        shutil.rmtree(parts_path(out), ignore_errors=True)  # a crash may have left them
        return replace(_summary(out, state, resumed_from, 0.0), already_complete=True)
    started, cpu_started = time.perf_counter(), time.process_time()
    if out_format == "parquet":
        writer: log_files.ParquetParts | log_files.AppendedFile = log_files.ParquetParts(
            parts_path(out), state["parts"]
        )
    else:
        writer = log_files.AppendedFile(out, state["bytes"])
    from tqdm.auto import tqdm

    bar = tqdm(
        total=log_files.count_rows(source, in_format),
        initial=resumed_from,
        unit="msg",
        desc="classifying",
        disable=not progress,
    )
    batches = log_files.read_batches(source, in_format, batch_size, skip=resumed_from)

    def commit() -> None:  # the commit point: what the state records is durably in the output
        writer.sync()
        log_progress.save_state(out, state)

    encoded = encoded_batches(batches, classifier.encoder, text_column)
    next_commit = time.monotonic() + COMMIT_SECONDS
    try:
        with bar, contextlib.closing(encoded):
            for item in encoded:
                predictions = _classify_encoded(classifier, item)
                added = prediction_columns(predictions, top_k)
                batch = log_files.add_columns(item.batch, added, types)
                if out_format == "parquet":
                    state["parts"] = writer.append(batch)
                else:
                    header = out_format == "csv" and state["bytes"] == 0
                    data = log_files.encode_text_batch(batch, out_format, header)
                    state["bytes"] = writer.append(data)
                log_progress.count_predictions(state, predictions)  # the batch is written
                if time.monotonic() >= next_commit:
                    commit()
                    next_commit = time.monotonic() + COMMIT_SECONDS
                bar.update(len(predictions))
    except BaseException:
        with contextlib.suppress(Exception):
            commit()  # an error or an interrupt keeps the batches already written
        raise
    if out_format == "parquet":
        empty = pa.schema([*_input_schema(source, in_format), *types.items()])
        writer.merge(out, empty)
    elif state["bytes"] == 0 and out_format == "csv":
        header = ",".join(json.dumps(name) for name in [*columns, *types]) + "\n"
        state["bytes"] = writer.append(header.encode())
    state["complete"] = True
    commit()
    if out_format == "parquet":
        writer.remove()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return _summary(out, state, resumed_from, seconds, cpu)


def _input_schema(source: Path, fmt: str) -> list[tuple[str, pa.DataType]]:
    if fmt == "parquet":
        return [(f.name, f.type) for f in log_files.pq.ParquetFile(source).schema_arrow]
    return [(name, pa.string()) for name in log_files.column_names(source, fmt)]


def _check_columns(
    source: Path,
    in_format: str,
    out_format: str,
    columns: list[str],
    text_column: str | None,
    top_k: int,
) -> str:
    """The text column to read, after checking the input can be written as asked."""
    if in_format == "jsonl" and out_format == "csv":
        raise ValueError(
            "JSON Lines records may each have other keys: write them to .jsonl or .parquet"
        )
    if in_format == "parquet" and out_format == "csv":
        nested = [n for n, t in _input_schema(source, in_format) if pa.types.is_nested(t)]
        if nested:
            raise ValueError(f"nested column(s) {', '.join(nested)} cannot be written to CSV")
    text_column = text_column_of(source, in_format, text_column)
    clashes = [name for name in prediction_types(top_k) if name in columns]
    if clashes:
        raise ValueError(f"{source} already has the output column(s) {', '.join(clashes)}")
    return text_column
