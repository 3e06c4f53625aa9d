"""Teaching a classifier: the methods that add, edit, rename and remove intents.

:class:`IntentEditing` is the half of :class:`~intentmeta.IntentClassifier` that changes what it
knows. Every edit updates three things in step, under the registry's lock: the
:class:`~intentmeta.registry.IntentRegistry` (examples, embeddings, prototypes), the few-shot
head (one class at a time) and the out-of-scope detector (one intent's statistics). Encoding
happens outside the lock, so classifying never waits for the encoder.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch

from intentmeta.config import ClassifierConfig
from intentmeta.encoder import Encoder
from intentmeta.heads import FewShotHead, build_head
from intentmeta.heads.weights import head_parameters, load_parameters
from intentmeta.out_of_scope import OutOfScopeDetector
from intentmeta.prediction import OUT_OF_SCOPE
from intentmeta.registry import IntentRegistry
from intentmeta.validation import (
    check_examples,
    check_intent_name,
    check_texts,
    descriptive_intent_name,
    group_by_intent,
    normalise_intent_name,
)

Editable = TypeVar("Editable", bound="IntentEditing")


@dataclass(frozen=True)
class Adaptation:
    """What the last ``fit`` or ``adapt()`` did to the prototypes (``clf.adaptation``).

    Adapting all intents together costs ``3 x examples x intents x dim`` multiply-adds per step:
    the square of the registry. Past ``HeadConfig.adapt_max_work`` (about 220 intents of 10
    examples) the prototypical head adapts blocks of neighbouring intents separately, each with
    every step, so the cost grows linearly and no step is ever skipped;
    ``HeadConfig(adapt_max_work=None)`` adapts everything as one block at any size.

    Attributes:
        steps: Adam steps run on each block (0: the head does not adapt).
        blocks: Blocks of neighbouring intents adapted separately (1: all together).
        intents: Intents in the support set.
        examples: Examples in the support set.
    """

    steps: int
    blocks: int
    intents: int
    examples: int

    @classmethod
    def of(cls, head: FewShotHead, examples: int, intents: int) -> Adaptation:
        """What ``head`` ran on its last whole support set (only the prototypical head adapts)."""
        step = getattr(head, "adaptation", None)
        if step is None:
            return cls(0, 0, intents, examples)
        return cls(step.steps_run, step.blocks, intents, examples)


class IntentEditing:
    """Reading and editing the intents of a classifier (the base of ``IntentClassifier``)."""

    #: What the last ``fit``/``adapt()`` ran; ``None`` before any (a load restores the saved head).
    adaptation: Adaptation | None = None

    # Set by IntentClassifier.__init__.
    encoder: Encoder
    config: ClassifierConfig
    head: FewShotHead
    oos: OutOfScopeDetector
    _registry: IntentRegistry
    _lock: threading.RLock

    # ----------------------------------------------------------------------------- reading
    @property
    def intents(self) -> list[str]:
        """Names of the intents, in the order they were added."""
        with self._lock:
            return list(self._registry)

    def examples(self, intent: str) -> list[str]:
        """The example messages of an intent.

        Raises:
            KeyError: If there is no such intent.
        """
        with self._lock:
            return list(self._registry.get(_key(intent)).examples)

    def __len__(self) -> int:
        with self._lock:
            return len(self._registry)

    def __contains__(self, intent: object) -> bool:
        with self._lock:
            return _key(intent) in self._registry

    # ----------------------------------------------------------------------------- editing
    def add_intent(self, name: str, examples: Sequence[str]) -> None:
        """Teach a new intent from a few examples; it is used from the next message on.

        Args:
            name: A new intent name: any printable text up to 100 characters, stored
                NFC-normalised and trimmed; not blank, not ``"oos"`` in any case or width.
            examples: At least one example message; exact repeats are kept once.

        Raises:
            TypeError: If the name or an example is not a string.
            ValueError: If the name is invalid or taken, or an example is blank.
        """
        name = check_intent_name(name, reserved=(OUT_OF_SCOPE,))
        examples = check_examples(examples, name)
        with self._lock:
            self._registry.check_new_name(name)
        embeddings = self.encoder.encode(examples)  # (n_examples, dim), outside the lock
        name_vector = self._encode_name(name)
        with self._lock:
            self._registry.check_new_name(name)
            label = self._registry.next_label
            if name_vector is not None:
                self._registry.name_vectors[label] = name_vector
            self.head.add_class(label, self._head_support(label, embeddings))
            self._registry.add(name, examples, embeddings)
            self.oos.set_intent(label, embeddings)

    def add_examples(self, name: str, examples: Sequence[str]) -> None:
        """Add example messages to an existing intent; examples it already has are skipped.

        Raises:
            KeyError: If there is no such intent.
            TypeError: If an example is not a string.
            ValueError: If the list is empty or an example is blank.
        """
        name = _key(name)
        self.examples(name)  # KeyError before any work
        examples = check_examples(examples, name)
        embeddings = self.encoder.encode(examples)
        with self._lock:
            intent = self._registry.get(name)
            known = set(intent.examples)
            fresh = [i for i, text in enumerate(examples) if text not in known]
            if not fresh:
                return
            new_embeddings = embeddings[fresh]  # (n_fresh, dim)
            self.head.extend_class(intent.label, new_embeddings)
            self._registry.extend(name, [examples[i] for i in fresh], new_embeddings)
            self.oos.set_intent(intent.label, intent.embeddings)

    def remove_examples(self, name: str, examples: Sequence[str]) -> None:
        """Remove example messages from an intent; it must keep at least one.

        Raises:
            KeyError: If there is no such intent or it lacks one of the examples.
            ValueError: If no example would remain.
        """
        examples = check_texts(examples, "examples")
        name = _key(name)
        with self._lock:
            intent = self._registry.get(name)
            missing = [text for text in examples if text not in intent.examples]
            if missing:
                raise KeyError(f"intent {name!r} has no example {missing[0]!r}")
            removed = set(examples)
            keep = [i for i, text in enumerate(intent.examples) if text not in removed]
            if not keep:
                raise ValueError(f"intent {name!r} must keep at least one example")
            self.head.remove_class(intent.label)
            self.head.add_class(
                intent.label, self._head_support(intent.label, intent.embeddings[keep])
            )
            self._registry.keep_examples(name, keep)  # the column moves to the end, as the head's
            self.oos.set_intent(intent.label, intent.embeddings)

    def remove_intent(self, name: str) -> None:
        """Forget an intent and its examples.

        Raises:
            KeyError: If there is no such intent.
        """
        name = _key(name)
        with self._lock:
            intent = self._registry.get(name)
            self.head.remove_class(intent.label)
            self._registry.remove(name)
            self._registry.name_vectors.pop(intent.label, None)
            self.oos.remove_intent(intent.label)

    def rename_intent(self, old: str, new: str) -> None:
        """Give an intent a new name, keeping its examples and position.

        Raises:
            KeyError: If ``old`` does not exist.
            ValueError: If ``new`` is invalid or taken.
        """
        new = check_intent_name(new, reserved=(OUT_OF_SCOPE,))
        old = _key(old)
        name_vector = self._encode_name(new) if new != old else None
        with self._lock:
            intent = self._registry.get(old)
            if new == old:
                return
            self._registry.rename(old, new)
            had_vector = self._registry.name_vectors.pop(intent.label, None) is not None
            if name_vector is not None:
                self._registry.name_vectors[intent.label] = name_vector
            if name_vector is not None or had_vector:  # the name is an example: rebuild the class
                self.head.remove_class(intent.label)
                self.head.add_class(
                    intent.label, self._head_support(intent.label, intent.embeddings)
                )
                self._registry.keep_examples(new, list(range(len(intent.examples))))

    def fit(
        self: Editable, texts: Sequence[str], intents: Sequence[str], *, progress: bool = False
    ) -> Editable:
        """Replace all intents with the labelled examples given (scikit-learn style).

        Args:
            texts: Example messages.
            intents: The intent of each message.
            progress: Show a progress bar while encoding.

        Returns:
            ``self``.

        Raises:
            ValueError: If the lengths differ, nothing is given, or a text or name is invalid.
        """
        grouped = group_by_intent(texts, intents, reserved=(OUT_OF_SCOPE,))
        embeddings = self.encoder.encode(
            [t for group in grouped.values() for t in group], progress=progress
        )
        self._replace(grouped, embeddings)
        return self

    def adapt(self) -> Adaptation | None:
        """Re-fit the head to all intents at once, as ``fit`` does.

        Intents added or edited one at a time are scored by their plain prototype (instant);
        with prototype adaptation on, calling this after a batch of edits restores the adapted
        accuracy. It costs about a second for a hundred intents of ten examples each, and grows
        with the square of the registry up to ``HeadConfig.adapt_max_work`` (see
        :class:`Adaptation`).

        Returns:
            What was run (``None`` when there are no intents).
        """
        with self._lock:
            if not len(self._registry):
                return None
            grouped = {name: list(intent.examples) for name, intent in self._registry.items()}
            self._replace(grouped, self._registry.embeddings())
            return self.adaptation

    def _replace(
        self,
        grouped: dict[str, list[str]],
        embeddings: torch.Tensor,
        head_buffers: dict[str, torch.Tensor] | None = None,
        head: FewShotHead | None = None,
        names: dict[int, torch.Tensor] | None = None,
    ) -> None:
        """Swap in new intents; ``(n_examples, dim)`` ``embeddings`` rows follow ``grouped``;
        ``names``: saved name examples by intent position (else encoded when used).

        Saved ``head_buffers`` (classes numbered by intent position) restore the head exactly;
        missing or unfit, the support set is processed anew. ``load`` passes the ``head`` it
        built, so a load builds one head; other callers get a fresh one.
        """
        counts = [len(group) for group in grouped.values()]
        labels = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
        if not names or not self.config.name_as_example:  # label i is intent i
            names = self._encode_names(list(grouped))
        named = sorted(names)
        support = torch.cat([embeddings, *(names[label] for label in named)])
        labels = torch.cat([labels, torch.tensor(named, dtype=labels.dtype)])  # (n + n_named,)
        new_head = head if head is not None else self._blank_head()
        adaptation = None
        if not new_head.restore_support(head_buffers, len(counts)):
            new_head.process_support_set(support, labels)
            adaptation = Adaptation.of(new_head, len(support), len(counts))
        with self._lock:
            self.head = new_head
            self.adaptation = adaptation
            self._registry.replace_all(grouped, embeddings, new_head.classes.tolist())
            self._registry.name_vectors = dict(names)
            self.oos.reset(
                {intent.label: intent.embeddings for _, intent in self._registry.items()}
            )

    def _encode_name(self, name: str) -> torch.Tensor | None:
        """``(1, dim)`` embedding of the humanised name; ``None`` unless ``name_as_example`` and
        the name describes its intent (:func:`~intentmeta.validation.descriptive_intent_name`)."""
        return self._encode_names([name]).get(0)

    def _encode_names(self, names: list[str]) -> dict[int, torch.Tensor]:
        """``{position: (1, dim)}`` for the descriptive ones among ``names``, encoded at once."""
        texts = {i: descriptive_intent_name(name) for i, name in enumerate(names)}
        named = [i for i, text in texts.items() if text is not None and self.config.name_as_example]
        vectors = self.encoder.encode([texts[i] for i in named]) if named else None
        return {i: vectors[row : row + 1] for row, i in enumerate(named)}

    def _head_support(self, label: int, embeddings: torch.Tensor) -> torch.Tensor:
        """What the head learns an intent from: its examples, then its name if one is used."""
        vector = self._registry.name_vectors.get(label)
        return embeddings if vector is None else torch.cat([embeddings, vector])  # (n + 1, dim)

    def _blank_head(self) -> FewShotHead:
        head = build_head(self.config.head, self.head.config)
        load_parameters(head, head_parameters(self.head))
        return head.eval()


def _key(name: object) -> object:
    """How a name given to a lookup is stored: normalised like a new name, so ``"cafe\u0301"``
    finds ``"café"``; anything else is passed on for the registry to refuse."""
    return normalise_intent_name(name) if isinstance(name, str) else name
