"""What the demo does, without the web page: limits, edits, warnings and saving.

The Gradio app in :mod:`demo.app` only turns these methods' results into components, so the
behaviour can be tested without a browser and every tab shares one registry.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from intentmeta import IntentClassifier, Prediction


@dataclass
class DemoLimits:
    """What one request to the demo may contain; larger inputs get a message, not a crash.

    Attributes:
        max_message_chars: Longest chat message or example.
        max_examples: Most examples in one request (add intent, add examples).
        max_examples_per_intent: Most examples one intent may hold.
        max_intents: Most intents the registry may hold.
        warn_confidence: An example that the current classifier already gives another intent
            with at least this confidence gets a warning.
    """

    max_message_chars: int = 2_000  # a long support e-mail; the encoder reads 256 tokens anyway
    max_examples: int = 50  # a few-shot intent needs 3-10; 50 is plenty for one paste
    max_examples_per_intent: int = 500  # keeps one intent from swallowing the registry
    max_intents: int = 200  # far above the built-in 20, small enough for one page
    warn_confidence: float = 0.7  # clearly another intent's territory, not a near tie


@dataclass(frozen=True)
class EditResult:
    """The outcome of an edit: a one-line summary and any warnings about its examples."""

    message: str
    warnings: tuple[str, ...] = ()

    def as_markdown(self) -> str:
        """The summary, then one bullet per warning."""
        lines = [self.message] + [f"- **Warning:** {warning}" for warning in self.warnings]
        return "\n".join(lines)


def split_examples(text: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """Examples from a textarea (one per line) or a list, stripped, blank lines dropped.

    >>> split_examples("where is my parcel\\n\\n  has it shipped? ")
    ['where is my parcel', 'has it shipped?']
    """
    if text is None:
        return []
    if isinstance(text, str):
        text = text.splitlines()
    if not isinstance(text, (list, tuple)):
        raise TypeError(f"examples must be text, one per line, or a list of strings, not {text!r}")
    if not all(isinstance(line, str) for line in text):
        raise TypeError("every example must be a string")
    return [line.strip() for line in text if line.strip()]


def percent(value: float) -> str:
    """``0.934`` -> ``"93%"``."""
    return f"{100 * value:.0f}%"


class DemoService:
    """One shared registry behind every tab of the demo, saved after each change.

    Reads go straight to the (thread-safe) classifier; edits, saves and settings changes are
    serialised by one lock so the saved registry always matches some moment of the live one.

    Args:
        classifier: The classifier to serve.
        registry_dir: Where changes are saved; ``None`` keeps them in memory only.
        limits: Input limits.

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
    ) -> None:
        self.limits = limits or DemoLimits()
        self.registry_dir = None if registry_dir is None else Path(registry_dir)
        self._classifier = classifier
        self._edit_lock = threading.RLock()

    @property
    def classifier(self) -> IntentClassifier:
        """The classifier now served (settings changes replace it)."""
        return self._classifier

    # ----------------------------------------------------------------------------- reading
    def check_message(self, text: object) -> str:
        """Return ``text`` stripped if it is a message the demo accepts.

        Raises:
            TypeError: If it is not a string.
            ValueError: If it is blank or too long.
        """
        if not isinstance(text, str):
            raise TypeError(f"the message must be text, not {type(text).__name__}")
        if not text.strip():
            raise ValueError("the message is empty")
        if len(text) > self.limits.max_message_chars:
            raise ValueError(
                f"the message is {len(text):,} characters long; the demo accepts up to "
                f"{self.limits.max_message_chars:,}"
            )
        return text.strip()

    def classify(self, text: object) -> Prediction:
        """The prediction for one message (checked against the limits first)."""
        return self.classifier.classify(self.check_message(text))

    def nearest(self, text: object, k: int = 3) -> list[tuple[str, str, float]]:
        """The ``k`` stored examples closest to a message: ``(intent, example, similarity)``."""
        return self.classifier.nearest_examples(self.check_message(text), k)

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
                for name, example, score in self.nearest(text)
            ],
        }

    def intent_rows(self) -> list[list[object]]:
        """One ``[intent, example count, first example]`` row per intent."""
        clf = self.classifier
        rows = []
        for name in clf.intents:
            try:
                examples = clf.examples(name)
            except KeyError:  # removed by another tab between the two calls
                continue
            rows.append([name, len(examples), examples[0]])
        return rows

    # ----------------------------------------------------------------------------- editing
    def add_intent(self, name: object, examples: object) -> EditResult:
        """Create an intent from a name and examples (text one per line, or a list).

        Raises:
            TypeError, ValueError: With a message naming what is wrong; nothing is changed.
        """
        if not isinstance(name, str):
            raise TypeError(f"the intent name must be text, not {type(name).__name__}")
        name = name.strip()
        texts = self._check_examples(examples)
        with self._edit_lock:
            clf = self.classifier
            if name in clf:
                raise ValueError(
                    f"intent {name!r} already exists; add examples to it under Manage intents"
                )
            if len(clf) >= self.limits.max_intents:
                raise ValueError(f"the demo holds at most {self.limits.max_intents} intents")
            warnings = self._example_warnings(name, texts)
            clf.add_intent(name, texts)
            saved = self._save()
        count = len(clf.examples(name))
        if count < 3:
            warnings.append(f"only {count} example(s): 3 to 10 varied ones work best")
        return EditResult(
            f"added intent {name!r} with {count} example(s); {len(clf)} intents now{saved}",
            tuple(warnings),
        )

    def add_examples(self, name: object, examples: object) -> EditResult:
        """Add examples to an existing intent.

        Raises:
            KeyError: If the intent does not exist (e.g. another tab deleted it).
            TypeError, ValueError: If the examples are unacceptable; nothing is changed.
        """
        texts = self._check_examples(examples)
        with self._edit_lock:
            clf = self.classifier
            before = len(self._examples_of(name))
            if before + len(texts) > self.limits.max_examples_per_intent:
                raise ValueError(
                    f"intent {name!r} has {before} examples; at most "
                    f"{self.limits.max_examples_per_intent} are allowed"
                )
            warnings = self._example_warnings(name, texts)
            clf.add_examples(name, texts)
            saved = self._save()
            after = len(clf.examples(name))
        skipped = len(texts) - (after - before)
        note = f" ({skipped} already there)" if skipped else ""
        return EditResult(
            f"added {after - before} example(s) to {name!r}{note}; it has {after} now{saved}",
            tuple(warnings),
        )

    def remove_intent(self, name: object) -> EditResult:
        """Delete an intent and its examples.

        Raises:
            KeyError: If there is no such intent.
        """
        with self._edit_lock:
            clf = self.classifier
            self._examples_of(name)
            clf.remove_intent(name)
            saved = self._save()
        return EditResult(f"deleted intent {name!r}; {len(clf)} intents left{saved}")

    def correct(self, message: object, intent: object) -> EditResult:
        """Teach the classifier that ``message`` belongs to ``intent`` (new or existing)."""
        if not isinstance(intent, str) or not intent.strip():
            raise ValueError("pick the right intent, or type a new intent name")
        message = self.check_message(message)
        if intent.strip() in self.classifier:
            result = self.add_examples(intent.strip(), [message])
        else:
            result = self.add_intent(intent, [message])
        now = self.classify(message)
        verdict = now.intent or "out of scope"
        return EditResult(
            f"{result.message}. The message is now classified as {verdict} "
            f"({percent(now.confidence)})",
            result.warnings,
        )

    def apply_settings(self, head: str, threshold: float | str | None) -> EditResult:
        """Serve the same intents with another head or out-of-scope threshold.

        Args:
            head: ``"prototypical"`` or ``"matching"``.
            threshold: ``"auto"``, a similarity in ``[-1, 1]``, or ``None`` (never out of scope).

        Raises:
            ValueError: If a setting is invalid.
        """
        if isinstance(threshold, (int, float)) and not -1.0 <= threshold <= 1.0:
            raise ValueError(f"the threshold must be between -1 and 1, not {threshold}")
        with self._edit_lock:
            old = self.classifier
            new = IntentClassifier(
                encoder=old.encoder,
                head=head,
                oos_threshold=threshold,
                top_k=old.config.top_k,
            )
            names = old.intents
            texts = [text for name in names for text in old.examples(name)]
            labels = [name for name in names for _ in old.examples(name)]
            if texts:
                new.fit(texts, labels)
            self._classifier = new
            saved = self._save()
        shown = "off" if threshold is None else threshold
        return EditResult(
            f"now using the parameter-free {head} head, out-of-scope threshold {shown}{saved}"
        )

    def restore_builtin(self) -> EditResult:
        """Replace every intent with the built-in e-commerce set, keeping the settings."""
        with self._edit_lock:
            old = self.classifier
            new = IntentClassifier.from_builtin(
                "ecommerce",
                encoder=old.encoder,
                head=old.config.head,
                head_weights=old.config.head_weights,
                oos_threshold=old.config.oos_threshold,
                top_k=old.config.top_k,
            )
            self._classifier = new
            saved = self._save()
        return EditResult(f"restored the {len(new)} built-in e-commerce intents{saved}")

    # ----------------------------------------------------------------------------- internals
    def _examples_of(self, name: object) -> list[str]:
        try:
            return self.classifier.examples(name)
        except KeyError:
            raise KeyError(
                f"there is no intent named {name!r} (another tab may have deleted it)"
            ) from None

    def _check_examples(self, examples: object) -> list[str]:
        texts = split_examples(examples)
        if not texts:
            raise ValueError("give at least one example, one per line")
        if len(texts) > self.limits.max_examples:
            raise ValueError(
                f"{len(texts)} examples given; the demo accepts up to "
                f"{self.limits.max_examples} at a time"
            )
        for index, text in enumerate(texts, start=1):
            if len(text) > self.limits.max_message_chars:
                raise ValueError(
                    f"example {index} is {len(text):,} characters long; the limit is "
                    f"{self.limits.max_message_chars:,}"
                )
        return texts

    def _example_warnings(self, name: str, texts: list[str]) -> list[str]:
        """Warn about examples the current classifier confidently gives to another intent."""
        if not len(self.classifier):
            return []
        warnings = []
        for text, prediction in zip(texts, self.classifier.classify_batch(texts), strict=True):
            other = prediction.intent
            if other not in (None, name) and prediction.confidence >= self.limits.warn_confidence:
                warnings.append(
                    f"{text!r} already looks like {other!r} ({percent(prediction.confidence)}); "
                    "the two intents may be confused"
                )
        return warnings

    def _save(self) -> str:
        """Save to the registry, if any; returns a note for the user's message."""
        if self.registry_dir is None:
            return ""
        try:
            self.classifier.save(self.registry_dir)
        except OSError as error:
            return f" — NOT saved to {self.registry_dir}: {error.strerror or error}"
        return " (saved)"
