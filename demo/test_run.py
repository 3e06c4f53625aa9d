"""A test run: a labelled CSV scored against the served registry, as figures a person can act on.

The CSV has a text column and an intent column (headers ``text``/``example``/``message`` and
``intent``/``label``, or no header and text first); an intent of ``oos`` or ``out of scope``
(any case) means the message should be rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from intentmeta import IntentClassifier
from intentmeta.exchange import read_rows

OUT_OF_SCOPE = "out of scope"
_OOS_SPELLINGS = {"oos", "out of scope", "out_of_scope", "none", ""}
MAX_ROWS = 5_000  # about a minute of encoding on a laptop CPU


@dataclass(frozen=True)
class TestRunReport:
    """What a test run found.

    Attributes:
        accuracy: Share of messages answered right (intent or out of scope).
        macro_f1: Unweighted mean F1 over the expected intents.
        per_intent: ``[intent, precision, recall, F1, messages]`` rows, worst F1 first.
        confusions: ``[expected, answered, count, example message]`` rows, most frequent first.
        matrix_png: The confusion matrix image.
        n_messages: How many labelled messages were scored.
    """

    accuracy: float
    macro_f1: float
    per_intent: list[list[object]]
    confusions: list[list[object]]
    matrix_png: Path
    n_messages: int

    def summary(self) -> str:
        """One line for the page."""
        return (
            f"{self.n_messages} messages: accuracy {100 * self.accuracy:.1f}%, "
            f"macro F1 {100 * self.macro_f1:.1f}%"
        )


def read_labelled(path: str | Path) -> tuple[list[str], list[str]]:
    """Texts and expected intents from a labelled CSV (see the module docstring).

    Raises:
        ValueError: If the file is not such a CSV, is empty, or has more than ``MAX_ROWS`` rows.
    """
    rows = read_rows(
        path, text_names=("text", "example", "message"), label_names=("intent", "label")
    )
    if not rows:
        raise ValueError("the file holds no labelled messages (columns: text, intent)")
    if len(rows) > MAX_ROWS:
        raise ValueError(f"{len(rows):,} rows; a test run takes up to {MAX_ROWS:,}")
    texts = [text for text, _ in rows]
    labels = [OUT_OF_SCOPE if label.lower() in _OOS_SPELLINGS else label for _, label in rows]
    return texts, labels


def run_test(clf: IntentClassifier, texts: list[str], expected: list[str], out_dir: Path):
    """Classify ``texts`` and compare with ``expected``; the matrix image goes to ``out_dir``.

    Returns:
        A :class:`TestRunReport`.
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    answered = [p.intent or OUT_OF_SCOPE for p in clf.classify_batch(texts)]
    labels = sorted(set(expected) | set(answered))
    precision, recall, f1, support = precision_recall_fscore_support(
        expected, answered, labels=labels, zero_division=0
    )
    per_intent = [
        [name, round(float(p), 3), round(float(r), 3), round(float(f), 3), int(n)]
        for name, p, r, f, n in zip(labels, precision, recall, f1, support, strict=True)
        if n or name in answered
    ]
    per_intent.sort(key=lambda row: (row[3], row[0]))
    matrix = confusion_matrix(expected, answered, labels=labels)  # (n_labels, n_labels)
    confusions = []
    for i, j in zip(*np.nonzero(matrix), strict=True):
        if i != j:
            example = next(
                t
                for t, e, a in zip(texts, expected, answered, strict=True)
                if (e, a) == (labels[i], labels[j])
            )
            confusions.append([labels[i], labels[j], int(matrix[i, j]), example])
    confusions.sort(key=lambda row: (-row[2], row[0], row[1]))
    expected_labels = sorted(set(expected))
    macro = float(np.mean([row[3] for row in per_intent if row[0] in expected_labels]))
    return TestRunReport(
        accuracy=float(accuracy_score(expected, answered)),
        macro_f1=macro,
        per_intent=per_intent,
        confusions=confusions[:10],
        matrix_png=plot_matrix(matrix, labels, out_dir / "confusion_matrix.png"),
        n_messages=len(texts),
    )


def plot_matrix(matrix: np.ndarray, labels: list[str], path: Path) -> Path:
    """Save the ``(n_labels, n_labels)`` confusion matrix (rows expected, columns answered)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    size = min(14.0, 3.0 + 0.35 * len(labels))
    figure, axes = plt.subplots(figsize=(size, size))
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(labels)), labels, rotation=90, fontsize=8)
    axes.set_yticks(range(len(labels)), labels, fontsize=8)
    axes.set_xlabel("answered")
    axes.set_ylabel("expected")
    for i, j in zip(*np.nonzero(matrix), strict=True):
        colour = "white" if matrix[i, j] > matrix.max() / 2 else "black"
        axes.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7, color=colour)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
