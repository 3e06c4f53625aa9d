"""The review queue: chat messages logged beside the registry, and the ones worth a new intent.

Every chat message is appended to ``<registry>/messages.jsonl`` (one JSON object a line: time,
text, predicted intent, confidence) unless logging is switched off. The log keeps the newest
``cap`` messages. The *Review* tab shows the logged messages that the current registry still
rejects or answers with low confidence, grouped by similarity.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from intentmeta import IntentClassifier, Prediction

from .adapters import MessageGroup, group_messages

LOG_FILE = "messages.jsonl"


@dataclass
class ReviewSettings:
    """What goes into the review queue.

    Attributes:
        cap: Most messages kept in the log (the oldest are dropped first).
        low_confidence: An in-scope answer below this confidence is worth a look.
        max_messages: Most messages grouped at once (the newest).
    """

    cap: int = 2_000  # a busy day of one support inbox, a few hundred kilobytes
    low_confidence: float = 0.5  # a coin flip or worse
    max_messages: int = 300  # keeps grouping under a second on a laptop CPU


class MessageLog:
    """Chat messages appended to a JSON-lines file, capped, safe to share between threads.

    Args:
        path: The log file (its directory must exist), or ``None`` to log nothing.
        enabled: Whether messages are logged now; switch with :attr:`enabled`.
        settings: Cap and review thresholds.

    Example:
        >>> log = MessageLog(None)
        >>> log.append("hello", Prediction("greeting", 0.9)); log.entries()
        []
    """

    def __init__(
        self, path: Path | None, enabled: bool = True, settings: ReviewSettings | None = None
    ) -> None:
        self.path = path
        self.enabled = enabled
        self.settings = settings or ReviewSettings()
        self._lock = threading.Lock()

    def append(self, text: str, prediction: Prediction) -> None:
        """Log one message and its answer (nothing when logging is off)."""
        if not self.enabled or self.path is None:
            return
        entry = {
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "text": text,
            "intent": prediction.intent,
            "best_intent": prediction.best_intent,
            "confidence": round(prediction.confidence, 4),
        }
        # A log that cannot be written (read-only registry, full disk) never stops a chat.
        with self._lock, contextlib.suppress(OSError):
            with open(self.path, "a", encoding="utf-8") as file:
                file.write(json.dumps(entry, ensure_ascii=False) + "\n")
            if self.path.stat().st_size > 2_000 * self.settings.cap:  # rarely: trim to the cap
                self._keep_newest()

    def entries(self) -> list[dict]:
        """The logged messages, oldest first (lines that cannot be read are skipped)."""
        if self.path is None or not self.path.is_file():
            return []
        with self._lock:
            lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        entries = []
        for line in lines[-self.settings.cap :]:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and isinstance(entry.get("text"), str):
                entries.append(entry)
        return entries

    def clear(self) -> int:
        """Delete every logged message; returns how many there were."""
        count = len(self.entries())
        with self._lock:
            if self.path is not None:
                self.path.unlink(missing_ok=True)
        return count

    def _keep_newest(self) -> None:
        lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        kept = "".join(line + "\n" for line in lines[-self.settings.cap :])
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".messages.")
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(kept)
        os.replace(temporary, self.path)


def review_groups(clf: IntentClassifier, log: MessageLog) -> list[MessageGroup]:
    """Logged messages the registry now rejects or doubts, grouped by similarity."""
    texts = list(dict.fromkeys(entry["text"] for entry in log.entries()))
    texts = texts[-log.settings.max_messages :]
    if not texts or not len(clf):
        return []
    doubtful = [
        text
        for text, prediction in zip(texts, clf.classify_batch(texts), strict=True)
        if prediction.is_out_of_scope or prediction.confidence < log.settings.low_confidence
    ]
    return group_messages(clf, doubtful)
