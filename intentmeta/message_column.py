"""Which column of a message log holds the messages: one rule for every command that reads logs.

``classify-file`` (and :func:`~intentmeta.log_classification.classify_file`) and ``discover``
take the column they are given, which must exist, or guess it: the first of the usual names
(:data:`~intentmeta.log_files.TEXT_COLUMN_NAMES`, any case), else the only text column; anything
else is refused with an error that lists the columns.
"""

from __future__ import annotations

from pathlib import Path

from intentmeta import log_files


def pick_text_column(columns: list[str], text_columns: list[str], source: object) -> str:
    """The column holding the messages: a usual name (``text``, ``message`` ...) or the only text
    column.

    Args:
        columns: Every column of the input.
        text_columns: Those that hold text.
        source: The input, as named in the error.

    Raises:
        ValueError: If no column or several could be it.
    """
    by_lower = {name.lower(): name for name in columns}
    for candidate in log_files.TEXT_COLUMN_NAMES:
        if candidate in by_lower:
            return by_lower[candidate]
    if len(text_columns) == 1:
        return text_columns[0]
    raise ValueError(
        f"cannot tell which column of {source} holds the messages (columns: "
        f"{', '.join(columns) or 'none'}); name it with text_column / --text-column"
    )


def text_column_of(source: Path, fmt: str, text_column: str | None = None) -> str:
    """The column of ``source`` holding the messages: ``text_column`` if given, else guessed.

    Args:
        source: The input file.
        fmt: Its format (see :func:`~intentmeta.log_files.file_format`).
        text_column: The column the caller named, if any.

    Raises:
        ValueError: If the named column is missing, or none can be guessed.

    Example:
        >>> import tempfile
        >>> log = Path(tempfile.mkdtemp()) / "log.csv"
        >>> _ = log.write_text("id,Body\\n1,where is my parcel\\n")
        >>> text_column_of(log, "csv")
        'Body'
    """
    columns = log_files.column_names(source, fmt)
    if text_column is None:
        return pick_text_column(columns, log_files.string_columns(source, fmt), source)
    if text_column not in columns:
        raise ValueError(
            f"{source} has no column {text_column!r} (columns: {', '.join(columns) or 'none'})"
        )
    return text_column
