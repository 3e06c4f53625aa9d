"""The progress file of a :func:`~intentmeta.log_classification.classify_file` output.

``OUT.progress.json`` records, after each durable batch, how many input rows and output bytes
(or Parquet parts) are complete, with the running intent counts, and what the output was started
from: the input's fingerprint, the text column, top-k and the classifier's fingerprint. It is
replaced atomically (temporary file, fsync, rename, fsync of the directory), so a kill at any
moment leaves the previous record or the new one, never a torn one.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from intentmeta.classifier import IntentClassifier
from intentmeta.persistence import write_atomically
from intentmeta.prediction import Prediction

STATE_VERSION = 1
_FINGERPRINT_BYTES = 1 << 20  # the input's first and last MiB identify it


def input_fingerprint(path: Path) -> dict:
    """The input's path, size and a hash of its first and last MiB."""
    size = path.stat().st_size
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        digest.update(file.read(_FINGERPRINT_BYTES))
        if size > _FINGERPRINT_BYTES:
            file.seek(max(_FINGERPRINT_BYTES, size - _FINGERPRINT_BYTES))
            digest.update(file.read())
    return {"path": str(path.resolve()), "size": size, "sha256": digest.hexdigest()}


def classifier_fingerprint(classifier: IntentClassifier) -> str:
    """A hash of the classifier's settings, encoder name, intents and examples."""
    content = {
        "config": asdict(classifier.config),
        "encoder": classifier.encoder.name,
        "intents": {name: classifier.examples(name) for name in classifier.intents},
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def state_path(out: Path) -> Path:
    """The progress file kept beside an output."""
    return out.with_name(out.name + ".progress.json")


def parts_path(out: Path) -> Path:
    """The folder of a Parquet output's part files while it is written."""
    return out.with_name(out.name + ".parts")


def save_state(out: Path, state: dict) -> None:
    """Record ``state`` atomically: the commit point of a batch."""
    write_atomically(state_path(out), json.dumps(state, indent=1).encode())


def start(out: Path, expected: dict, overwrite: bool) -> dict:
    """The progress to continue from: a fresh one, or the recorded one if it matches.

    Raises:
        ValueError: If ``out`` exists without a progress file, or was started from another
            input or with other settings (unless ``overwrite``).
    """
    path = state_path(out)
    for leftover in out.parent.glob(f".{path.name}.*.tmp"):
        leftover.unlink()  # a progress update a crash interrupted; the old file is intact
    state = json.loads(path.read_text()) if path.exists() else None
    if state is not None and state["complete"] and not out.exists():
        state = None  # a finished output was deleted since: write it again
    if state is not None and not overwrite:
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"{path} was written by another version; pass overwrite")
        if state["input"]["size"] != expected["input"]["size"] or (
            state["input"]["sha256"] != expected["input"]["sha256"]
        ):
            raise ValueError(
                f"{out} belongs to another input ({state['input']['path']}); choose another "
                "output, or pass overwrite to start again"
            )
        for key in ("text_column", "top_k", "classifier", "format"):
            if state[key] != expected[key]:
                raise ValueError(
                    f"{out} was started with another {key.replace('_', ' ')} "
                    f"({state[key]!r}, now {expected[key]!r}); rerun with the same settings, "
                    "or pass overwrite to start again"
                )
        return state
    if state is None and not overwrite and (out.exists() or parts_path(out).exists()):
        raise ValueError(
            f"{out} already exists and is not a classify-file output in progress (no "
            f"{path.name}); choose another output, or pass overwrite to replace it"
        )
    out.unlink(missing_ok=True)
    shutil.rmtree(parts_path(out), ignore_errors=True)
    fresh = {**expected, "version": STATE_VERSION, "rows": 0, "bytes": 0, "parts": 0}
    fresh.update(complete=False, classified=0, unclassified=0, out_of_scope=0, intent_counts={})
    save_state(out, fresh)
    return fresh


def count_predictions(state: dict, predictions: list[Prediction | None]) -> None:
    """Add a batch's rows to the running counts in ``state``."""
    state["rows"] += len(predictions)
    counts = Counter(state["intent_counts"])
    for prediction in predictions:
        if prediction is None:
            state["unclassified"] += 1
        elif prediction.is_out_of_scope:
            state["classified"] += 1
            state["out_of_scope"] += 1
        else:
            state["classified"] += 1
            counts[prediction.intent] += 1
    state["intent_counts"] = dict(counts)
