"""What the demo does, without the web page: reading, editing, saving with history, undo.

The Gradio tabs in ``demo/tab_*.py`` only turn these methods' results into components, so the
behaviour is testable without a browser and every tab shares one registry. Messages are plain
text (the page escapes them); none names a server path.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from intentmeta import IntentClassifier, Prediction, history

from . import checks
from .checks import DemoLimits, percent, split_examples
from .review import LOG_FILE, MessageLog

__all__ = ["DemoLimits", "DemoService", "EditResult", "SaveFailed", "percent", "split_examples"]


@dataclass(frozen=True)
class EditResult:
    """The outcome of an edit: a one-line summary and any warnings.

    ``needs_confirmation`` means nothing was changed: the warnings are a preview, and the same
    call with ``confirm=True`` saves anyway.
    """

    message: str
    warnings: tuple[str, ...] = ()
    needs_confirmation: bool = False

    def as_text(self) -> str:
        """The summary, then one line per warning (plain text, for the API)."""
        return "\n".join([self.message, *(f"warning: {w}" for w in self.warnings)])


class SaveFailed(RuntimeError):
    """The registry could not be saved; the message says whether the change was undone."""


class DemoService:
    """One shared registry behind every tab of the demo, saved with history after each change.

    Reads go straight to the (thread-safe) classifier; edits, saves and settings changes are
    serialised by one lock, so the saved registry always matches some moment of the live one.

    Args:
        classifier: The classifier to serve.
        registry_dir: Where changes are saved; ``None`` saves to a temporary directory (undo and
            the review log still work, nothing survives the process).
        limits: Input limits.
        log_messages: Log chat messages for the review queue.

    Example:
        >>> service = DemoService(IntentClassifier.from_builtin("ecommerce"))
        >>> service.classify("where is my parcel?").intent
        'track_order'
    """

    def __init__(
        self,
        classifier: IntentClassifier,
        registry_dir: str | os.PathLike | None = None,
        limits: DemoLimits | None = None,
        log_messages: bool = True,
    ) -> None:
        self.limits = limits or DemoLimits()
        self.persistent = registry_dir is not None
        self.registry_dir = Path(registry_dir or tempfile.mkdtemp(prefix="intentmeta-demo-"))
        self._classifier = classifier
        self._edit_lock = threading.RLock()
        self.log = MessageLog(self.registry_dir / LOG_FILE, enabled=log_messages)
        self.registry_dir.mkdir(parents=True, exist_ok=True)
        if not (self.registry_dir / "intentmeta.json").is_file():
            classifier.save(self.registry_dir)
        # A read-only registry is served all the same; each edit will say it was not saved.
        with contextlib.suppress(OSError, ValueError):
            history.record(self.registry_dir, "opened", keep=self.limits.history_versions)

    @property
    def classifier(self) -> IntentClassifier:
        """The classifier now served (settings changes and undo replace it)."""
        return self._classifier

    # ----------------------------------------------------------------------------- reading
    def check_message(self, text: object) -> str:
        """``text`` stripped, if the demo accepts it (else ``TypeError``/``ValueError``)."""
        return checks.check_message(text, self.limits)

    def classify(self, text: object) -> Prediction:
        """The prediction for one message (checked against the limits first)."""
        return self.classifier.classify(self.check_message(text))

    def evidence(
        self, text: object, intent: str | None, k: int = 3
    ) -> list[tuple[str, str, float]]:
        """The ``k`` examples of ``intent`` closest to a message, then the closest other one.

        What backs an answer is its own intent's examples; the best other example shows what
        it was weighed against. ``(intent, example, cosine similarity)``, best first.
        """
        text = self.check_message(text)
        clf = self.classifier
        names, embeddings, owners = clf.support()  # (n_support, dim), (n_support,)
        if not names:
            return []
        query = clf.encoder.encode([text]).float()[0]  # (dim,)
        similarity = embeddings.float() @ query  # (n_support,)
        examples = [t for name in names for t in clf.examples(name)]
        if len(examples) != len(similarity):  # edited meanwhile by another tab
            return [(n, e, s) for n, e, s in clf.nearest_examples(text, k)]
        order = similarity.argsort(descending=True).tolist()
        mine = [i for i in order if names[owners[i]] == intent][:k]
        other = [i for i in order if names[owners[i]] != intent][:1]
        return [(names[owners[i]], examples[i], float(similarity[i])) for i in mine + other]

    def describe(self, text: object) -> dict[str, object]:
        """A JSON-ready prediction with its evidence: what ``/classify`` returns."""
        prediction = self.classify(text)
        return {
            "intent": prediction.intent,
            "confidence": round(prediction.confidence, 4),
            "is_out_of_scope": prediction.is_out_of_scope,
            "scores": {name: round(p, 4) for name, p in prediction.scores.items()},
            "nearest_examples": [
                {"intent": name, "example": example, "similarity": round(score, 4)}
                for name, example, score in self.evidence(text, prediction.best_intent)
            ],
        }

    def intent_rows(self) -> list[list[object]]:
        """One ``[intent, example count, first example]`` row per intent."""
        rows = []
        for name in self.classifier.intents:
            try:
                examples = self.classifier.examples(name)
            except KeyError:  # removed by another tab between the two calls
                continue
            rows.append([name, len(examples), examples[0]])
        return rows

    def examples_of(self, name: object) -> list[str]:
        """The examples of an intent (``KeyError`` saying another tab may have deleted it)."""
        try:
            return self.classifier.examples(name)
        except KeyError:
            raise KeyError(
                f"there is no intent named {name!r} (another tab may have deleted it)"
            ) from None

    # ----------------------------------------------------------------------------- editing
    def add_intent(self, name: object, examples: object, confirm: bool = False) -> EditResult:
        """Create an intent; with warnings and no ``confirm``, only preview it.

        Raises:
            TypeError, ValueError: With a message naming what is wrong; nothing is changed.
            SaveFailed: If it could not be saved (then it was undone).
        """
        if not isinstance(name, str):
            raise TypeError(f"the intent name must be text, not {type(name).__name__}")
        name = name.strip()
        texts = checks.check_examples(examples, self.limits)
        with self._edit_lock:
            clf = self.classifier
            if name in clf:
                raise ValueError(
                    f"intent {name!r} already exists; add examples to it under Manage intents"
                )
            if len(clf) >= self.limits.max_intents:
                raise ValueError(f"the demo holds at most {self.limits.max_intents} intents")
            warnings = checks.near_duplicate_intents(clf, name, texts, self.limits)
            warnings += checks.confusable_examples(clf, name, texts, self.limits)
            if warnings and not confirm:
                return EditResult(f"intent {name!r} is not added yet:", tuple(warnings), True)
            self._commit(f"added intent {name!r}", lambda c: c.add_intent(name, texts))
        count = len(self.classifier.examples(name))
        if count < 3:
            warnings.append(f"only {count} example(s): 3 to 10 varied ones work best")
        return EditResult(
            f"added intent {name!r} with {count} example(s); {len(self.classifier)} intents now",
            tuple(warnings),
        )

    def add_examples(self, name: object, examples: object, confirm: bool = False) -> EditResult:
        """Add examples to an existing intent; with warnings and no ``confirm``, only preview.

        Raises:
            KeyError: If the intent does not exist (e.g. another tab deleted it).
            TypeError, ValueError: If the examples are unacceptable; nothing is changed.
        """
        texts = checks.check_examples(examples, self.limits)
        with self._edit_lock:
            before = len(self.examples_of(name))
            if before + len(texts) > self.limits.max_examples_per_intent:
                raise ValueError(
                    f"intent {name!r} has {before} examples; at most "
                    f"{self.limits.max_examples_per_intent} are allowed"
                )
            warnings = checks.confusable_examples(self.classifier, name, texts, self.limits)
            if warnings and not confirm:
                return EditResult(
                    f"the examples are not added to {name!r} yet:", tuple(warnings), True
                )
            self._commit(f"added examples to {name!r}", lambda c: c.add_examples(name, texts))
            after = len(self.classifier.examples(name))
        skipped = len(texts) - (after - before)
        note = f" ({skipped} already there)" if skipped else ""
        return EditResult(
            f"added {after - before} example(s) to {name!r}{note}; it has {after} now",
            tuple(warnings),
        )

    def removal_question(self, name: object) -> str:
        """What deleting an intent loses, as the question to confirm it."""
        count = len(self.examples_of(name))
        return (
            f"Delete intent {name!r} and its {count} examples? Messages like them will get "
            "another intent or none. (Undo last change brings it back.)"
        )

    def remove_intent(self, name: object) -> EditResult:
        """Delete an intent and its examples (``KeyError`` if there is none)."""
        with self._edit_lock:
            count = len(self.examples_of(name))
            self._commit(f"deleted intent {name!r}", lambda c: c.remove_intent(name))
        return EditResult(
            f"deleted intent {name!r} and its {count} examples; {len(self.classifier)} intents "
            "left. Undo last change brings it back"
        )

    def remove_examples(self, name: object, examples: object) -> EditResult:
        """Delete some examples of an intent (it keeps at least one)."""
        texts = split_examples(examples)
        with self._edit_lock:
            missing = [t for t in texts if t not in self.examples_of(name)]
            if not texts or missing:
                raise ValueError(f"{name!r} has no example {(missing or [''])[0]!r}")
            self._commit(f"deleted examples of {name!r}", lambda c: c.remove_examples(name, texts))
        return EditResult(f"deleted {len(texts)} example(s) of {name!r}")

    def correct(self, message: object, intent: object) -> EditResult:
        """Teach the classifier that ``message`` belongs to ``intent`` (new or existing).

        No warning about the intent the message was given before: that is the mistake fixed.
        A new name too close to an existing intent is refused.
        """
        if not isinstance(intent, str) or not intent.strip():
            raise ValueError("pick the right intent first, or type a new intent name")
        intent, message = intent.strip(), self.check_message(message)
        if intent in self.classifier:
            result = self.add_examples(intent, [message], confirm=True)
        else:
            similar = checks.similar_names(self.classifier, intent)
            if similar:
                raise ValueError(
                    f"{intent!r} is very close to the existing intent {similar[0]!r}; pick it "
                    "from the list, or type a clearly different name"
                )
            result = self.add_intent(intent, [message], confirm=True)
        now = self.classify(message)
        verdict = now.intent or "out of scope"
        return EditResult(
            f"{result.message}. The message is now classified as {verdict} "
            f"({percent(now.confidence)})"
        )

    def undo(self) -> EditResult:
        """Go back to the registry before the last change (every tab sees it).

        Raises:
            history.HistoryError: If there is no earlier version.
        """
        with self._edit_lock:
            undone = history.versions(self.registry_dir)[-1:]
            restored = history.undo(self.registry_dir)
            self._classifier = IntentClassifier.load(
                self.registry_dir, encoder=self.classifier.encoder
            )
        what = undone[0].note if undone else "the last change"
        return EditResult(
            f"undid: {what}; back to {restored.intents} intents, {restored.examples} examples"
        )

    def last_change(self) -> str | None:
        """What "Undo last change" would undo, or ``None`` if there is nothing."""
        kept = history.versions(self.registry_dir)
        return kept[-1].note if len(kept) >= 2 else None

    def replace_classifier(self, note: str, build: Callable[[IntentClassifier], IntentClassifier]):
        """Serve ``build(old)`` instead (settings, restore), saved like any edit."""
        with self._edit_lock:
            old = self.classifier
            self._classifier = build(old)
            try:
                self._save(note)
            except SaveFailed:
                self._classifier = old
                raise

    # ----------------------------------------------------------------------------- saving
    def _commit(self, note: str, edit: Callable[[IntentClassifier], object]) -> None:
        """Apply ``edit`` under the lock and save; on a failed save, memory goes back to disk."""
        with self._edit_lock:
            try:
                edit(self.classifier)
            except BaseException:  # an edit that failed half-way: memory goes back to disk
                self._classifier = IntentClassifier.load(
                    self.registry_dir, encoder=self.classifier.encoder
                )
                raise
            self._save(note)

    def _save(self, note: str) -> None:
        try:
            self.classifier.save(self.registry_dir)
        except Exception as error:  # OSError, SafetensorError, RegistryError ...: all the same here
            reason = getattr(error, "reason", None) or getattr(error, "strerror", None)
            reason = reason or type(error).__name__  # never str(error): it may name a path
            try:
                self._classifier = IntentClassifier.load(
                    self.registry_dir, encoder=self.classifier.encoder
                )
            except Exception:
                raise SaveFailed(
                    f"changed here but NOT saved ({reason}); the change is lost on restart"
                ) from None
            raise SaveFailed(
                f"NOT saved: the registry directory could not be written ({reason}); "
                "the change was undone, nothing changed"
            ) from None
        # The change is saved: a history that cannot be written only loses its undo step.
        with contextlib.suppress(Exception):
            history.record(self.registry_dir, note=note, keep=self.limits.history_versions)
