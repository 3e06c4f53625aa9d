"""Intent data sets: local CSV / JSON / JSONL files, BANKING77, CLINC150, or a Hugging Face name."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

#: The label CLINC150 gives to out-of-scope queries; such items are kept apart from the intents.
OOS_LABEL = "oos"

TEXT_COLUMNS = ("text", "sentence", "utterance", "query", "texts")
LABEL_COLUMNS = ("label", "intent", "category", "labels")

# The split names of CLINC150's data_full.json holding out-of-scope queries.
_CLINC_OOS_SPLITS = {"train": "oos_train", "val": "oos_val", "test": "oos_test"}
_SPLIT_ALIASES = {"validation": "val", "dev": "val"}


@dataclass
class IntentDataset:
    """Labelled messages of one split of one data set.

    Attributes:
        texts: The messages.
        labels: The intent of each message.
        name: The data set's name (e.g. ``"banking77"``).
        split: The split (``"train"``, ``"val"``, ``"test"`` ...).

    Example:
        >>> data = IntentDataset(["hi", "hello", "refund please"], ["greet", "greet", "refund"])
        >>> data.intents
        ['greet', 'refund']
        >>> data.subset([2]).texts
        ['refund please']
    """

    texts: list[str]
    labels: list[str]
    name: str = ""
    split: str = ""

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise ValueError(
                f"texts and labels differ in length: {len(self.texts)} vs {len(self.labels)}"
            )

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def intents(self) -> list[str]:
        """The distinct intents, in order of first appearance."""
        return list(dict.fromkeys(self.labels))

    def by_intent(self) -> dict[str, list[str]]:
        """The messages of each intent, intents in order of first appearance."""
        grouped: dict[str, list[str]] = {}
        for text, label in zip(self.texts, self.labels, strict=True):
            grouped.setdefault(label, []).append(text)
        return grouped

    def subset(
        self, indices: Sequence[int] | None = None, intents: Sequence[str] | None = None
    ) -> IntentDataset:
        """A new data set with some rows, some intents, or both.

        Args:
            indices: Rows to keep, in this order; ``None`` keeps all.
            intents: Intents to keep; ``None`` keeps all.

        Returns:
            The selected rows, same name and split.
        """
        rows = range(len(self)) if indices is None else indices
        if intents is not None:
            wanted = set(intents)
            rows = [i for i in rows if self.labels[i] in wanted]
        return IntentDataset(
            [self.texts[i] for i in rows], [self.labels[i] for i in rows], self.name, self.split
        )


def holdout_split(
    data: IntentDataset, fraction: float, seed: int = 0
) -> tuple[IntentDataset, IntentDataset]:
    """Hold out ``fraction`` of each intent's rows (stratified) as a validation split.

    Returns:
        ``(rest, held_out)``; every intent keeps at least one row in each part when it can.
    """
    rng = random.Random(seed)
    held: list[int] = []
    for intent in data.intents:
        rows = [i for i, label in enumerate(data.labels) if label == intent]
        n_held = min(len(rows) - 1, max(1, round(fraction * len(rows))))
        held.extend(rng.sample(rows, n_held))
    held_set = set(held)
    rest = [i for i in range(len(data)) if i not in held_set]
    validation = data.subset(sorted(held))
    validation.split = f"validation({fraction:g} of train)"
    return data.subset(rest), validation


def train_and_evaluation(
    source: str | os.PathLike, split: str, validation: float | None = None
) -> tuple[IntentDataset, IntentDataset]:
    """The support pool and the messages to evaluate on, as every evaluation reads them.

    Args:
        source: Anything :func:`load_dataset` reads.
        split: The split to evaluate on when ``validation`` is not set.
        validation: Hold out this fraction of ``train`` instead (model selection without
            touching the evaluation split).

    Returns:
        ``(train, evaluation)``.
    """
    train = load_dataset(source, "train")
    if validation:
        return holdout_split(train, validation)
    return train, load_dataset(source, split)


def load_dataset(
    source: str | os.PathLike,
    split: str = "train",
    text_column: str | None = None,
    label_column: str | None = None,
) -> IntentDataset:
    """Load one split of an intent data set.

    ``source`` may be a BANKING77 directory (``train.csv`` / ``test.csv``), a CLINC150 directory
    or its ``data_full.json`` (splits ``train`` / ``val`` / ``test``, in-scope items only), a
    directory holding ``<split>.csv`` / ``.json`` / ``.jsonl``, a single CSV / JSON / JSONL file
    (``split`` is then only recorded), or else a Hugging Face dataset name (needs internet).

    Args:
        source: Path or Hub name.
        split: Which split to read.
        text_column: Column of the messages; guessed among ``text, sentence, utterance, query``.
        label_column: Column of the intents; guessed among ``label, intent, category``.

    Returns:
        The split's messages and intents, out-of-scope items (label ``oos``) left out.

    Raises:
        ValueError: If the split or the columns cannot be found.
    """
    split = _SPLIT_ALIASES.get(split, split)
    path = Path(source)
    clinc = _clinc_file(path)
    if clinc is not None:
        items = _read_clinc(clinc, split)
        texts = [text for text, label in items if label != OOS_LABEL]
        labels = [label for _, label in items if label != OOS_LABEL]
        return IntentDataset(texts, labels, name="clinc150", split=split)
    if path.is_dir():
        candidates = [path / f"{split}.{ext}" for ext in ("csv", "jsonl", "json")]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            raise ValueError(f"no {split}.csv/.jsonl/.json in {str(path)!r}")
        name = path.name
        path = found
    elif path.is_file():
        name = path.stem
    else:
        return _load_hub(str(source), split, text_column, label_column)
    rows = _read_rows(path)
    texts, labels = _columns(rows, text_column, label_column, str(path))
    keep = [i for i, label in enumerate(labels) if label != OOS_LABEL]
    return IntentDataset([texts[i] for i in keep], [labels[i] for i in keep], name, split)


def load_out_of_scope(source: str | os.PathLike, split: str = "test") -> list[str]:
    """The out-of-scope messages of a split (CLINC150's ``oos_train/oos_val/oos_test``).

    For other local files, the rows labelled ``oos`` are returned.

    Args:
        source: A CLINC150 directory or ``data_full.json``, or a local file or directory.
        split: ``"train"``, ``"val"`` or ``"test"``.

    Returns:
        The out-of-scope messages.
    """
    split = _SPLIT_ALIASES.get(split, split)
    clinc = _clinc_file(Path(source))
    if clinc is not None:
        data = json.loads(clinc.read_text())
        items = [*data.get(split, []), *data.get(_CLINC_OOS_SPLITS.get(split, ""), [])]
        return [text for text, label in items if label == OOS_LABEL]
    path = Path(source)
    if path.is_dir():
        candidates = [path / f"{split}.{ext}" for ext in ("csv", "jsonl", "json")]
        path = next((p for p in candidates if p.is_file()), path)
    if not path.is_file():
        return []
    texts, labels = _columns(_read_rows(path), None, None, str(path))
    return [text for text, label in zip(texts, labels, strict=True) if label == OOS_LABEL]


def load_domains(source: str | os.PathLike) -> dict[str, list[str]]:
    """CLINC150's domains: each domain's name and its intents (from ``domains.json``).

    Args:
        source: The CLINC150 directory, its ``data_full.json``, or ``domains.json`` itself.

    Raises:
        ValueError: If there is no ``domains.json``.
    """
    path = Path(source)
    if path.is_file() and path.name != "domains.json":
        path = path.parent
    if path.is_dir():
        path = path / "domains.json"
    if not path.is_file():
        raise ValueError(f"no domains.json at {str(source)!r}")
    return {domain: list(intents) for domain, intents in json.loads(path.read_text()).items()}


def _clinc_file(path: Path) -> Path | None:
    """``data_full.json`` if ``path`` is it or a directory holding it."""
    if path.is_dir() and (path / "data_full.json").is_file():
        return path / "data_full.json"
    if path.is_file() and path.suffix == ".json":
        try:
            with path.open() as handle:
                head = handle.read(4096)
        except OSError:
            return None
        if '"oos_' in head or path.name == "data_full.json":
            return path
    return None


def _read_clinc(path: Path, split: str) -> list[tuple[str, str]]:
    data = json.loads(path.read_text())
    if split not in data:
        splits = sorted(k for k in data if not k.startswith("oos_"))
        raise ValueError(f"{str(path)!r} has no split {split!r}; it has {splits}")
    return [(str(text), str(label)) for text, label in data[split]]


def _read_rows(path: Path):
    """A CSV (header line), JSON Lines or JSON (a list of objects, or an object of column lists)
    file as a ``datasets.Dataset``, read by ``datasets.load_dataset("csv" / "json")``.

    Raises:
        ValueError: If the file cannot be read as a table.
    """
    import datasets

    options = {"na_filter": False} if path.suffix == ".csv" else {}  # "NA" stays a message
    builder = "csv" if path.suffix == ".csv" else "json"
    try:
        return datasets.load_dataset(builder, data_files=str(path), split="train", **options)
    except Exception as error:  # datasets raises many types for a malformed file
        raise ValueError(f"cannot read rows from {str(path)!r}: {error}") from error


def _columns(
    table, text_column: str | None, label_column: str | None, where: str
) -> tuple[list[str], list[str]]:
    """The text and label columns of a ``datasets`` table, guessed when not named."""
    keys = list(table.column_names)
    text_column = text_column or _guess(keys, TEXT_COLUMNS, "text", where)
    label_column = label_column or _guess(keys, LABEL_COLUMNS, "label", where)
    for column in (text_column, label_column):
        if column not in keys:
            raise ValueError(f"{where!r} has no column {column!r}; it has {keys}")
    return [str(t) for t in table[text_column]], [str(label) for label in table[label_column]]


def _guess(keys: list[str], candidates: Sequence[str], what: str, where: str) -> str:
    lowered = {key.lower(): key for key in keys}
    for candidate in candidates:
        if candidate in lowered:
            return lowered[candidate]
    raise ValueError(
        f"cannot guess the {what} column of {where!r} among {keys}; pass {what}_column="
    )


def _load_hub(
    name: str, split: str, text_column: str | None, label_column: str | None
) -> IntentDataset:
    """A Hugging Face Hub dataset (``PolyAI/banking77``, ``clinc_oos`` ...) through ``datasets``."""
    import datasets

    config = "plus" if name == "clinc_oos" else None
    hub_split = {"val": "validation"}.get(split, split)
    try:
        data = datasets.load_dataset(name, config, split=hub_split)
    except Exception as error:  # datasets raises many types: missing, offline, bad split
        raise ValueError(f"cannot load {name!r} (not a local path either): {error}") from error
    columns = list(data.column_names)
    text_column = text_column or _guess(columns, TEXT_COLUMNS, "text", name)
    label_column = label_column or _guess(columns, (*LABEL_COLUMNS, "intent"), "label", name)
    labels = data[label_column]
    feature = data.features.get(label_column)
    if hasattr(feature, "int2str"):  # ClassLabel: integers -> names
        labels = [feature.int2str(int(label)) for label in labels]
    texts = [str(t) for t in data[text_column]]
    labels = [str(label) for label in labels]
    keep = [i for i, label in enumerate(labels) if label != OOS_LABEL]
    return IntentDataset(
        [texts[i] for i in keep], [labels[i] for i in keep], name.split("/")[-1].lower(), split
    )
