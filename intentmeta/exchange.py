"""Intents to and from files a spreadsheet or another program can read: CSV or JSON.

- CSV: a header ``intent,example`` and one row per example (a file without a header is read
  as ``intent,example`` rows too). The first row is a header when any of its cells, trimmed and in
  any case, is a column name (:data:`HEADER_NAMES`); a header must then name an intent column
  (``intent`` or ``label``) and an example column (``example`` or ``text``), in either order
  (other columns are ignored), else the file is refused, so a header is never read as an example.
- JSON: ``{"intents": [{"name": ..., "examples": [...]}, ...]}`` (what :func:`write_intents`
  writes), or a plain ``{"intent": [examples]}`` object.

Importing is all or nothing: every name and example is checked before the registry changes.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

from intentmeta.classifier import OUT_OF_SCOPE, IntentClassifier
from intentmeta.log_files import TEXT_COLUMN_NAMES
from intentmeta.validation import check_examples, check_intent_name

FORMATS = ("csv", "json")
MAX_FILE_BYTES = 20_000_000  # far above any hand-made intent set; stops a wrong upload early
#: Cells that make a CSV's first row a header rather than data (besides the column names a
#: caller of :func:`read_rows` accepts): the names of this library's files and message logs.
HEADER_NAMES = ("intent", "label", "name", "example", "examples", "text", *TEXT_COLUMN_NAMES)


@dataclass(frozen=True)
class ImportSummary:
    """What an import changed.

    Attributes:
        new_intents: Intents that did not exist before.
        added_examples: Examples added (new intents' included).
        skipped_examples: Examples already present.
        removed_intents: Intents dropped because ``replace`` was asked.
    """

    new_intents: tuple[str, ...]
    added_examples: int
    skipped_examples: int
    removed_intents: tuple[str, ...] = ()

    def __str__(self) -> str:
        parts = [f"imported {self.added_examples} example(s)"]
        if self.new_intents:
            parts.append(f"{len(self.new_intents)} new intent(s)")
        if self.skipped_examples:
            parts.append(f"{self.skipped_examples} already there")
        if self.removed_intents:
            parts.append(f"{len(self.removed_intents)} intent(s) replaced away")
        return ", ".join(parts)


def format_of(path: str | os.PathLike, fmt: str | None = None) -> str:
    """``fmt`` if given, else the file's suffix; one of :data:`FORMATS`."""
    chosen = (fmt or Path(path).suffix.lstrip(".")).lower()
    if chosen not in FORMATS:
        raise ValueError(f"unknown format {chosen or Path(path).name!r}; use .csv or .json")
    return chosen


def dumps(intents: dict[str, list[str]], fmt: str) -> str:
    """The intents as CSV or JSON text."""
    if format_of("", fmt) == "json":
        items = [{"name": name, "examples": list(examples)} for name, examples in intents.items()]
        return json.dumps({"intents": items}, ensure_ascii=False, indent=2) + "\n"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["intent", "example"])
    writer.writerows([name, text] for name, examples in intents.items() for text in examples)
    return buffer.getvalue()


def registry_intents(clf: IntentClassifier) -> dict[str, list[str]]:
    """Every intent of ``clf`` and its examples, in registry order."""
    found = {}
    for name in clf.intents:
        try:
            found[name] = clf.examples(name)
        except KeyError:  # removed by another thread meanwhile
            continue
    return found


def write_intents(clf: IntentClassifier, path: str | os.PathLike, fmt: str | None = None) -> Path:
    """Write every intent and example of ``clf`` to ``path`` (format from ``fmt`` or the suffix).

    >>> write_intents(clf, "intents.csv")  # doctest: +SKIP
    """
    text = dumps(registry_intents(clf), format_of(path, fmt))
    Path(path).write_text(text, encoding="utf-8")
    return Path(path)


def read_rows(
    path: str | os.PathLike,
    text_names: tuple[str, ...] = ("example", "text"),
    label_names: tuple[str, ...] = ("intent", "label"),
) -> list[tuple[str, str]]:
    """``(text, label)`` pairs from a two-column CSV, with or without a header.

    The first row is a header when any of its cells (trimmed, in any case) is one of
    ``text_names``, ``label_names`` or :data:`HEADER_NAMES`; it must then name a text and a label
    column, in either order (other columns are ignored). Without a header, the first row is data
    and the columns are ``label, text``, or ``text, label`` when ``text_names`` starts with
    ``"text"`` (the caller's convention).

    Args:
        path: The CSV file.
        text_names: Header names of the text column, in order of preference.
        label_names: Header names of the label column, in order of preference.

    Raises:
        ValueError: If the file is too large or not UTF-8, its header lacks the text or the label
            column (naming the columns found and those expected), or a row lacks a column.
    """
    rows = [row for row in csv.reader(io.StringIO(_read_text(path))) if any(c.strip() for c in row)]
    if not rows:
        return []
    if _is_header(rows[0], (*text_names, *label_names, *HEADER_NAMES)):
        text_at, label_at = _header_columns(rows[0], text_names, label_names)
        return _pairs(rows[1:], text_at, label_at, first_number=2)
    text_at, label_at = (0, 1) if text_names[0] == "text" else (1, 0)
    return _pairs(rows, text_at, label_at, first_number=1)


def _is_header(row: list[str], names: tuple[str, ...]) -> bool:
    """Whether any cell of ``row`` is one of ``names`` (trimmed, in any case)."""
    return any(cell.strip().lower() in names for cell in row)


def _header_columns(
    row: list[str], text_names: tuple[str, ...], label_names: tuple[str, ...]
) -> tuple[int, int]:
    """The positions of the text and the label column that a header row names.

    Raises:
        ValueError: If the header names no text or no label column.
    """
    header = [cell.strip().lower() for cell in row]
    text_at = next((header.index(n) for n in text_names if n in header), None)
    label_at = next((header.index(n) for n in label_names if n in header), None)
    if text_at is None or label_at is None:
        found = ", ".join(cell.strip() for cell in row)
        raise ValueError(
            f"the CSV header ({found}) does not name both an intent column "
            f"({' or '.join(label_names)}) and an example column ({' or '.join(text_names)}); "
            f"use a header such as {label_names[0]},{text_names[0]}"
        )
    return text_at, label_at


def _pairs(
    rows: list[list[str]], text_at: int, label_at: int, first_number: int
) -> list[tuple[str, str]]:
    """``(text, label)`` from each row, trimmed; ``first_number`` is the first row's line.

    Raises:
        ValueError: If a row lacks a column.
    """
    pairs = []
    for number, row in enumerate(rows, start=first_number):
        if len(row) <= max(text_at, label_at):
            raise ValueError(f"row {number} has {len(row)} column(s); expected intent and text")
        pairs.append((row[text_at].strip(), row[label_at].strip()))
    return pairs


def read_intents(path: str | os.PathLike, fmt: str | None = None) -> dict[str, list[str]]:
    """The intents in a CSV or JSON file, checked like ``add_intent`` input.

    Raises:
        ValueError: Naming the first problem (bad JSON, a bad name, a blank example ...).
    """
    chosen = format_of(path, fmt)
    if chosen == "json":
        try:
            data = json.loads(_read_text(path))
        except json.JSONDecodeError as error:
            raise ValueError(f"not valid JSON: {error}") from None
        if isinstance(data, dict) and isinstance(data.get("intents"), list):
            pairs = [_json_item(item, index) for index, item in enumerate(data["intents"])]
        elif isinstance(data, dict):
            pairs = list(data.items())
        else:
            raise ValueError('JSON must be {"intents": [{"name", "examples"}]} or {name: examples}')
        grouped: dict[str, list[str]] = {}
        for name, examples in pairs:
            if not isinstance(examples, list):
                raise ValueError(f"the examples of {name!r} must be a list of strings")
            grouped.setdefault(name, []).extend(examples)
    else:
        grouped = {}
        for text, name in read_rows(path):
            grouped.setdefault(name, []).append(text)
    checked = {}
    for name, examples in grouped.items():
        name = check_intent_name(name, reserved=(OUT_OF_SCOPE,))
        checked[name] = checked.get(name, []) + check_examples(examples, name)
    if not checked:
        raise ValueError("the file holds no intents")
    return {name: list(dict.fromkeys(examples)) for name, examples in checked.items()}


def import_intents(
    clf: IntentClassifier, intents: dict[str, list[str]], replace: bool = False
) -> ImportSummary:
    """Add ``intents`` to ``clf``: new intents are created, existing ones get the new examples.

    Args:
        clf: The registry to change.
        intents: What :func:`read_intents` returned.
        replace: Drop every intent not in ``intents`` first, and replace the examples of those
            that are.
    """
    removed = tuple(name for name in clf.intents if replace and name not in intents)
    new = tuple(name for name in intents if name not in clf)
    added = skipped = 0
    if replace:
        texts = [text for examples in intents.values() for text in examples]
        labels = [name for name, examples in intents.items() for _ in examples]
        clf.fit(texts, labels)
        return ImportSummary(new, len(texts), 0, removed)
    for name, examples in intents.items():
        before = set(clf.examples(name)) if name in clf else set()
        fresh = [text for text in examples if text not in before]
        skipped += len(examples) - len(fresh)
        if not fresh:
            continue
        if name in clf:
            clf.add_examples(name, fresh)
        else:
            clf.add_intent(name, fresh)
        added += len(fresh)
    return ImportSummary(new, added, skipped)


def _json_item(item: object, index: int) -> tuple[str, object]:
    if not isinstance(item, dict) or "name" not in item or "examples" not in item:
        raise ValueError(f"intents[{index}] must be an object with 'name' and 'examples'")
    return item["name"], item["examples"]


def _read_text(path: str | os.PathLike) -> str:
    path = Path(path)
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ValueError(f"the file is larger than {MAX_FILE_BYTES // 1_000_000} MB")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError("the file is not UTF-8 text") from None
