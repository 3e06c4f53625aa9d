"""Message logs on disk: CSV, JSON Lines and Parquet read in batches, written durably.

Reading streams the input in record batches (``pyarrow.csv.open_csv``,
``pyarrow.parquet.ParquetFile.iter_batches``, JSON Lines line by line), so memory does not grow
with the file. CSV cells are read as text, so carried columns come out exactly as they went in
(``"00123"`` stays ``"00123"``). A JSON Lines batch is a list of dicts (each record keeps its own
keys and types); a CSV or Parquet batch is a ``pyarrow.Table``.

Writing is append-only and durable: batches are written as they come, and :meth:`sync`
(``fsync``) makes everything written so far durable before the caller records its progress, as
often as it chooses. CSV and JSON Lines append to the output file; Parquet batches become part
files (written to a temporary name, renamed) that are merged into the one output file at the
end, because a Parquet file is unreadable until its footer is written.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

#: File extensions and the format each one means.
FORMATS = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}

#: Column names tried, in this order, when the text column is not given (case-insensitive).
TEXT_COLUMN_NAMES = ("text", "message", "utterance", "body", "content", "query", "sentence")

#: One batch of rows: a table (CSV, Parquet) or a list of JSON records.
Batch = pa.Table | list

_CSV_BLOCK_BYTES = 1 << 20  # pyarrow reads CSV 1 MiB at a time


def file_format(path: str | os.PathLike) -> str:
    """``"csv"``, ``"jsonl"`` or ``"parquet"``, from the file's extension.

    Raises:
        ValueError: If the extension is none of :data:`FORMATS`.

    Example:
        >>> file_format("tickets.jsonl")
        'jsonl'
    """
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise ValueError(
            f"cannot tell the format of {str(path)!r} from its extension {suffix or '(none)'!r}; "
            f"use one of {known}"
        )
    return FORMATS[suffix]


# ---------------------------------------------------------------------------------- reading
def _csv_reader(path: Path, column_types: dict | None = None) -> pa_csv.CSVStreamingReader:
    return pa_csv.open_csv(
        path,
        read_options=pa_csv.ReadOptions(block_size=_CSV_BLOCK_BYTES),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(column_types=column_types or {}),
    )


def _json_records(path: Path) -> Iterator[dict]:
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue  # blank lines are not rows
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}: line {number} is not valid JSON: {error}") from None
            if not isinstance(record, dict):
                raise ValueError(f"{path}: line {number} is not a JSON object")
            yield record


def column_names(path: Path, fmt: str) -> list[str]:
    """The input's columns (for JSON Lines, the keys of its first record)."""
    if fmt == "parquet":
        return pq.ParquetFile(path).schema_arrow.names
    if fmt == "csv":
        try:
            return _csv_reader(path).schema.names
        except pa.ArrowInvalid as error:
            if "Empty CSV file" in str(error):
                raise ValueError(f"{path} is empty: it has no header row") from None
            raise ValueError(f"{path} is not a readable CSV file: {error}") from None
    first = next(_json_records(path), None)
    return list(first) if first is not None else []


def string_columns(path: Path, fmt: str) -> list[str]:
    """The columns that hold text (every CSV column does)."""
    if fmt == "parquet":
        schema = pq.ParquetFile(path).schema_arrow
        return [
            f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
        ]
    if fmt == "csv":
        return column_names(path, fmt)
    first = next(_json_records(path), None) or {}
    return [key for key, value in first.items() if isinstance(value, str)]


def count_rows(path: Path, fmt: str) -> int | None:
    """Rows in the input when the format says so cheaply (Parquet), else ``None``."""
    return pq.ParquetFile(path).metadata.num_rows if fmt == "parquet" else None


def read_batches(path: Path, fmt: str, batch_size: int, skip: int = 0) -> Iterator[Batch]:
    """The input's rows in batches of ``batch_size`` (the last may be shorter), after ``skip``.

    Args:
        path: The input file.
        fmt: Its format.
        batch_size: Rows per batch.
        skip: Rows at the start to leave out (those a previous run already wrote).
    """
    if fmt == "jsonl":
        batch: list[dict] = []
        for index, record in enumerate(_json_records(path)):
            if index < skip:
                continue
            batch.append(record)
            if len(batch) == batch_size:
                yield batch
                batch = []
        if batch:
            yield batch
        return
    yield from _rebatch(_arrow_batches(path, fmt, batch_size, skip), batch_size)


def _arrow_batches(path: Path, fmt: str, batch_size: int, skip: int) -> Iterator[pa.RecordBatch]:
    if fmt == "parquet":
        file = pq.ParquetFile(path)
        # Whole row groups before ``skip`` are not read at all.
        first, start = 0, 0
        while first < file.num_row_groups:
            rows = file.metadata.row_group(first).num_rows
            if start + rows > skip:
                break
            start, first = start + rows, first + 1
        groups = list(range(first, file.num_row_groups))
        batches = file.iter_batches(batch_size=batch_size, row_groups=groups)
        skip -= start
    else:
        names = column_names(path, fmt)
        batches = _csv_reader(path, {name: pa.string() for name in names})
    for record_batch in batches:
        if skip >= record_batch.num_rows:
            skip -= record_batch.num_rows
            continue
        yield record_batch.slice(skip)
        skip = 0


def _rebatch(batches: Iterator[pa.RecordBatch], size: int) -> Iterator[pa.Table]:
    pending: list[pa.RecordBatch] = []
    rows = 0
    for record_batch in batches:
        pending.append(record_batch)
        rows += record_batch.num_rows
        while rows >= size:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, size)
            rest = table.slice(size)
            pending, rows = rest.to_batches(), rest.num_rows
    if rows:
        yield pa.Table.from_batches(pending)


def batch_texts(batch: Batch, column: str) -> list[object]:
    """The text column's values (``None`` where a JSON record lacks the key)."""
    if isinstance(batch, pa.Table):
        return batch.column(column).to_pylist()
    return [record.get(column) for record in batch]


def batch_length(batch: Batch) -> int:
    """Rows in a batch."""
    return batch.num_rows if isinstance(batch, pa.Table) else len(batch)


def add_columns(batch: Batch, columns: dict[str, list], types: dict[str, pa.DataType]) -> Batch:
    """The batch with new columns appended after the carried ones."""
    if isinstance(batch, pa.Table):
        for name, values in columns.items():
            batch = batch.append_column(pa.field(name, types[name]), pa.array(values, types[name]))
        return batch
    names = list(columns)
    return [
        {**record, **{name: columns[name][i] for name in names}} for i, record in enumerate(batch)
    ]


# ---------------------------------------------------------------------------------- writing
def encode_text_batch(batch: Batch, fmt: str, header: bool) -> bytes:
    """A batch as the bytes appended to a CSV or JSON Lines output."""
    if fmt == "jsonl":
        records = batch.to_pylist() if isinstance(batch, pa.Table) else batch
        return "".join(
            json.dumps(record, ensure_ascii=False, default=str) + "\n" for record in records
        ).encode("utf-8")
    table = batch if isinstance(batch, pa.Table) else pa.Table.from_pylist(batch)
    sink = io.BytesIO()
    pa_csv.write_csv(table, sink, pa_csv.WriteOptions(include_header=header))
    return sink.getvalue()


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new file in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AppendedFile:
    """A CSV or JSON Lines output grown one durable batch at a time.

    Args:
        path: The output file; created if missing.
        committed: Bytes known to be complete; anything after them (a batch torn by a crash) is
            cut off first.

    Example:
        >>> import tempfile
        >>> out = AppendedFile(Path(tempfile.mkdtemp()) / "out.jsonl", committed=0)
        >>> out.append(b'{"a": 1}\\n')
        9
        >>> out.sync()  # durable from here
    """

    def __init__(self, path: Path, committed: int) -> None:
        self.path = path
        exists = path.exists()
        if (path.stat().st_size if exists else 0) < committed:
            raise ValueError(
                f"{path} is shorter than its progress file records ({committed} bytes) or gone: "
                "it was changed by something else; pass overwrite to start again"
            )
        with open(path, "r+b" if exists else "wb") as file:
            file.truncate(committed)
            file.flush()
            os.fsync(file.fileno())
        fsync_directory(path.parent)
        self.size = committed

    def append(self, data: bytes) -> int:
        """Write ``data`` (durable after the next :meth:`sync`); returns the file's new size."""
        with open(self.path, "ab") as file:
            file.write(data)
        self.size += len(data)
        return self.size

    def sync(self) -> None:
        """Make every byte appended so far durable (``fsync``)."""
        with open(self.path, "rb") as file:
            os.fsync(file.fileno())


class ParquetParts:
    """Parquet output as numbered part files, merged into one file when every row is written.

    Args:
        parts_dir: Folder of the part files (``part-000000.parquet`` ...).
        committed: Parts known to be complete; later parts and temporary files are deleted.
    """

    def __init__(self, parts_dir: Path, committed: int) -> None:
        self.dir = parts_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        for path in self.dir.iterdir():
            if not (path.name.startswith("part-") and path.suffix == ".parquet"):
                path.unlink()  # a part a crash left half-written
            elif int(path.stem.removeprefix("part-")) >= committed:
                path.unlink()  # a part written after the last recorded progress
        missing = [i for i in range(committed) if not self._part(i).exists()]
        if missing:
            raise ValueError(
                f"{self._part(missing[0])} is missing: the output's parts were changed by "
                "something else; pass overwrite to start again"
            )
        self.count = committed
        self.unsynced: list[Path] = []  # parts written since the last sync

    def _part(self, index: int) -> Path:
        return self.dir / f"part-{index:06d}.parquet"

    def append(self, batch: Batch) -> int:
        """Write one batch as the next part file (durable after the next :meth:`sync`); returns
        the number of parts."""
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_pylist(batch)
        final = self._part(self.count)
        temporary = final.with_suffix(".tmp")
        pq.write_table(table, temporary)
        os.replace(temporary, final)  # a whole part or none under its final name
        self.unsynced.append(final)
        self.count += 1
        return self.count

    def sync(self) -> None:
        """Make every part written so far durable: their data, then their names."""
        for part in self.unsynced:
            with open(part, "rb") as file:
                os.fsync(file.fileno())
        if self.unsynced:
            fsync_directory(self.dir)
        self.unsynced = []

    def merge(self, out: Path, empty_schema: pa.Schema, row_group_rows: int = 65_536) -> None:
        """Write every part, in order, into ``out`` (atomically), with large row groups.

        Parts of JSON records may disagree on a column's type (a key missing from one batch);
        their schemas are unified, and missing columns filled with nulls.
        """
        parts = [self._part(i) for i in range(self.count)]
        schemas = [pq.read_schema(part) for part in parts] or [empty_schema]
        schema = pa.unify_schemas(schemas, promote_options="permissive")
        temporary = out.with_name(f".{out.name}.merging")
        with pq.ParquetWriter(temporary, schema) as writer:
            pending: list[pa.Table] = []
            rows = 0
            for part in parts:
                table = _conform(pq.read_table(part), schema)
                pending.append(table)
                rows += table.num_rows
                if rows >= row_group_rows:
                    writer.write_table(pa.concat_tables(pending), row_group_size=rows)
                    pending, rows = [], 0
            if pending:
                writer.write_table(pa.concat_tables(pending), row_group_size=rows)
        with open(temporary, "rb+") as file:
            os.fsync(file.fileno())
        os.replace(temporary, out)
        fsync_directory(out.parent)

    def remove(self) -> None:
        """Delete the part files (after a merge)."""
        shutil.rmtree(self.dir, ignore_errors=True)


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    columns = [
        table.column(field.name).cast(field.type)
        if field.name in table.column_names
        else pa.nulls(table.num_rows, field.type)
        for field in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)
