"""The intent registry behind one public class, :class:`IntentClassifier`."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch

from intentmeta import calibration, storage
from intentmeta.builtin import builtin_intents
from intentmeta.config import ClassifierConfig, default_head_config
from intentmeta.encoder import BUNDLED_ENCODER, Encoder, EncoderConfig, shared_encoder
from intentmeta.heads import FewShotHead, HeadConfig, build_head
from intentmeta.heads.weights import head_parameters, load_head_weights, load_parameters
from intentmeta.prediction import Prediction
from intentmeta.validation import check_examples, check_intent_name, check_text, check_texts

#: What ``predict`` returns for a message that fits no intent.
OUT_OF_SCOPE = "oos"


@dataclass
class _Intent:
    label: int  # the head's class label; stable across renames
    examples: list[str]
    embeddings: torch.Tensor  # (n_examples, dim)


class IntentClassifier:
    """A few-shot intent classifier whose intents change at run time.

    Each intent is a name and a few example messages. Adding, editing, renaming or removing an
    intent takes effect on the next message, with no retraining. All methods are thread-safe.

    Args:
        encoder: Model name or path, ``"default"`` for the bundled all-MiniLM-L6-v2, or an
            object with ``name``, ``dim`` and ``encode(texts)``.
        head: ``"prototypical"`` or ``"matching"``.
        head_weights: ``None``, a meta-trained weights directory, or ``"default"``.
        oos_threshold: ``"auto"``, a float, or ``None`` for no out-of-scope rejection.
        top_k: Number of intents listed in ``Prediction.scores``.

    Example:
        >>> clf = IntentClassifier()
        >>> clf.add_intent("track_order", ["where is my parcel", "has my order shipped yet"])
        >>> clf.add_intent("refund", ["I want my money back", "when do I get my refund"])
        >>> clf.classify("my package hasn't arrived").intent
        'track_order'
    """

    def __init__(
        self,
        encoder: str | Encoder = "default",
        head: str = "prototypical",
        head_weights: str | os.PathLike | None = None,
        oos_threshold: float | str | None = "auto",
        top_k: int = 5,
        head_config: HeadConfig | None = None,
    ) -> None:
        if not (
            oos_threshold is None
            or oos_threshold == "auto"
            or (isinstance(oos_threshold, (int, float)) and not isinstance(oos_threshold, bool))
        ):
            raise ValueError(
                f"oos_threshold must be 'auto', a float or None, not {oos_threshold!r}"
            )
        if not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k must be a positive integer, not {top_k!r}")
        self.encoder: Encoder = (
            shared_encoder(EncoderConfig(model=encoder)) if isinstance(encoder, str) else encoder
        )
        head_config = HeadConfig(
            **{**asdict(head_config or default_head_config(head)), "dim": self.encoder.dim}
        )
        self.config = ClassifierConfig(
            encoder=self.encoder.name if not isinstance(encoder, str) else encoder,
            head=head,
            head_weights=None if head_weights is None else str(head_weights),
            oos_threshold=oos_threshold,
            top_k=top_k,
            head_config=head_config,
        )
        self.head: FewShotHead = (
            build_head(head, head_config)
            if head_weights is None
            else load_head_weights(head_weights, kind=head, dim=self.encoder.dim)
        )
        self.head.eval()
        self.oos = calibration.OutOfScopeDetector(oos_threshold)
        # Learned state, guarded by one re-entrant lock.
        self._lock = threading.RLock()
        self._intents: dict[str, _Intent] = {}
        self._next_label = 0

    # ----------------------------------------------------------------------------- reading
    @property
    def intents(self) -> list[str]:
        """Names of the intents, in the order they were added."""
        with self._lock:
            return list(self._intents)

    def examples(self, intent: str) -> list[str]:
        """The example messages of an intent.

        Raises:
            KeyError: If there is no such intent.
        """
        with self._lock:
            return list(self._get(intent).examples)

    def __len__(self) -> int:
        with self._lock:
            return len(self._intents)

    def __contains__(self, intent: object) -> bool:
        with self._lock:
            return intent in self._intents

    def __repr__(self) -> str:
        return (
            f"IntentClassifier(encoder={self.config.encoder!r}, head={self.config.head!r}, "
            f"intents={len(self)})"
        )

    # ----------------------------------------------------------------------------- editing
    def add_intent(self, name: str, examples: Sequence[str]) -> None:
        """Teach a new intent from a few examples; it is used from the next message on.

        Args:
            name: A new intent name (letters, digits, ``_ - .`` and inner spaces).
            examples: At least one example message; exact repeats are kept once.

        Raises:
            TypeError: If the name or an example is not a string.
            ValueError: If the name is invalid or taken, or an example is blank.
        """
        check_intent_name(name, reserved=(OUT_OF_SCOPE,))
        examples = check_examples(examples, name)
        self._check_new_name(name)
        embeddings = self.encoder.encode(examples)  # (n_examples, dim), outside the lock
        with self._lock:
            self._check_new_name(name)
            label = self._next_label
            self.head.add_class(label, embeddings)
            self._next_label += 1
            self._intents[name] = _Intent(label, examples, embeddings)
            self.oos.intent_changed(self, name)

    def add_examples(self, name: str, examples: Sequence[str]) -> None:
        """Add example messages to an existing intent; examples it already has are skipped.

        Raises:
            KeyError: If there is no such intent.
            TypeError: If an example is not a string.
            ValueError: If the list is empty or an example is blank.
        """
        self.examples(name)  # KeyError before any work
        examples = check_examples(examples, name)
        embeddings = self.encoder.encode(examples)
        with self._lock:
            intent = self._get(name)
            fresh = [i for i, text in enumerate(examples) if text not in set(intent.examples)]
            if not fresh:
                return
            new_embeddings = embeddings[fresh]  # (n_fresh, dim)
            self.head.extend_class(intent.label, new_embeddings)
            intent.examples = intent.examples + [examples[i] for i in fresh]
            intent.embeddings = torch.cat([intent.embeddings, new_embeddings])
            self.oos.intent_changed(self, name)

    def remove_examples(self, name: str, examples: Sequence[str]) -> None:
        """Remove example messages from an intent; it must keep at least one.

        Raises:
            KeyError: If there is no such intent or it lacks one of the examples.
            ValueError: If no example would remain.
        """
        examples = check_texts(examples, "examples")
        with self._lock:
            intent = self._get(name)
            missing = [text for text in examples if text not in intent.examples]
            if missing:
                raise KeyError(f"intent {name!r} has no example {missing[0]!r}")
            keep = [i for i, text in enumerate(intent.examples) if text not in set(examples)]
            if not keep:
                raise ValueError(f"intent {name!r} must keep at least one example")
            kept_embeddings = intent.embeddings[keep]
            self.head.remove_class(intent.label)
            self.head.add_class(intent.label, kept_embeddings)
            intent.examples = [intent.examples[i] for i in keep]
            intent.embeddings = kept_embeddings
            self.oos.intent_changed(self, name)

    def remove_intent(self, name: str) -> None:
        """Forget an intent and its examples.

        Raises:
            KeyError: If there is no such intent.
        """
        with self._lock:
            intent = self._get(name)
            self.head.remove_class(intent.label)
            del self._intents[name]
            self.oos.intent_removed(self, name, intent.label)

    def rename_intent(self, old: str, new: str) -> None:
        """Give an intent a new name, keeping its examples and position.

        Raises:
            KeyError: If ``old`` does not exist.
            ValueError: If ``new`` is invalid or taken.
        """
        check_intent_name(new, reserved=(OUT_OF_SCOPE,))
        with self._lock:
            self._get(old)
            if new == old:
                return
            self._check_new_name(new)
            self._intents = {
                new if key == old else key: value for key, value in self._intents.items()
            }

    def fit(
        self, texts: Sequence[str], intents: Sequence[str], *, progress: bool = False
    ) -> IntentClassifier:
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
        texts = check_texts(texts)
        if isinstance(intents, str) or len(intents) != len(texts):
            raise ValueError("texts and intents must be lists of the same length")
        if not texts:
            raise ValueError("fit needs at least one example")
        names = [check_intent_name(name, reserved=(OUT_OF_SCOPE,)) for name in intents]
        grouped: dict[str, list[str]] = {}
        for text, name in zip(texts, names, strict=True):
            grouped.setdefault(name, []).append(text)
        grouped = {
            check_intent_name(name, reserved=(OUT_OF_SCOPE,)): check_examples(group, name)
            for name, group in grouped.items()
        }
        embeddings = self.encoder.encode(
            [t for group in grouped.values() for t in group], progress=progress
        )
        self._replace(grouped, embeddings)
        return self

    def adapt(self) -> None:
        """Re-fit the head to all intents at once, as ``fit`` and ``load`` do.

        Intents added or edited one at a time are scored by their plain prototype (instant);
        with prototype adaptation on, calling this after a batch of edits restores the adapted
        accuracy. It costs about a second for a hundred intents of ten examples each.
        """
        with self._lock:
            if not self._intents:
                return
            grouped = {name: list(intent.examples) for name, intent in self._intents.items()}
            embeddings = torch.cat([intent.embeddings for intent in self._intents.values()])
            self._replace(grouped, embeddings)

    def _replace(
        self,
        grouped: dict[str, list[str]],
        embeddings: torch.Tensor,
        head_buffers: dict[str, torch.Tensor] | None = None,
    ) -> None:
        """Swap in a whole new set of intents: ``embeddings`` rows follow ``grouped``'s order.

        ``head_buffers`` (saved support state, classes numbered by intent position) restore the
        head exactly; when they are missing or do not fit, the support set is processed anew.
        """
        counts = [len(group) for group in grouped.values()]
        labels = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
        new_head = self._blank_head()
        if not new_head.restore_support(head_buffers, len(counts)):
            new_head.process_support_set(embeddings, labels)
        pieces = embeddings.split(counts)
        with self._lock:
            self.head = new_head
            self._intents = {
                name: _Intent(label, group, rows)
                for label, (name, group, rows) in enumerate(
                    zip(grouped, grouped.values(), pieces, strict=True)
                )
            }
            self._next_label = len(counts)
            self.oos.reset(self)

    def _blank_head(self) -> FewShotHead:
        head = build_head(self.config.head, self.head.config)
        load_parameters(head, head_parameters(self.head))
        return head.eval()

    # ----------------------------------------------------------------------------- classifying
    def classify(self, text: str) -> Prediction:
        """Predict the intent of one message.

        Raises:
            TypeError: If ``text`` is not a string.
            ValueError: If it is blank.
            RuntimeError: If the classifier has no intents.
        """
        return self.classify_batch([text])[0]

    def classify_batch(self, texts: Sequence[str]) -> list[Prediction]:
        """Predict the intents of many messages, batched through the encoder.

        Raises:
            TypeError: If ``texts`` is not a list of strings.
            ValueError: If a text is blank.
            RuntimeError: If the classifier has no intents.
        """
        texts = check_texts(texts)
        if not texts:
            return []
        queries = self.encoder.encode(texts)  # (n_query, dim), outside the lock
        with self._lock, torch.inference_mode():
            if not self._intents:
                raise RuntimeError("the classifier has no intents: call add_intent() or fit()")
            names = self._column_names()
            logits = self.head(queries)  # (n_query, n_intents)
            # Rejection reads the raw embeddings, whatever the head does with them.
            labels = self.head.classes.tolist()
            return self.oos.decide(logits, queries, names, self.config.top_k, labels)

    def calibrate(
        self, oos_texts: Sequence[str], in_scope_texts: Sequence[str] | None = None
    ) -> dict[str, float]:
        """Tune the automatic out-of-scope thresholds with messages known to fit no intent.

        Moves every intent's threshold by one offset, chosen to maximise the mean of the
        in-scope acceptance and out-of-scope rejection rates. Kept by :meth:`save`.

        Args:
            oos_texts: Messages that fit none of the intents.
            in_scope_texts: Messages that fit one; by default the intents' own examples,
                each scored against the others of its intent.

        Returns:
            ``{"offset", "in_scope_accepted", "out_of_scope_rejected"}``.

        Raises:
            ValueError: If ``oos_threshold`` is not ``"auto"`` or ``oos_texts`` is empty.
            RuntimeError: If the classifier has no intents.
        """
        if self.config.oos_threshold != "auto":
            raise ValueError("calibrate() tunes oos_threshold='auto'; this classifier's is fixed")
        oos_texts = check_texts(oos_texts, "oos_texts")
        if not oos_texts:
            raise ValueError("calibrate() needs at least one out-of-scope text")
        oos = self.encoder.encode(oos_texts)  # (n_oos, dim)
        in_scope = None
        if in_scope_texts is not None:
            in_scope = self.encoder.encode(check_texts(in_scope_texts, "in_scope_texts"))
        with self._lock, torch.inference_mode():
            if not self._intents:
                raise RuntimeError("the classifier has no intents: call add_intent() or fit()")
            return self.oos.calibrate_classifier(self, oos, in_scope)

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The predicted intent of each message, ``"oos"`` when out of scope.

        Same decisions as :meth:`classify_batch`.
        """
        return [
            p.intent if p.intent is not None else OUT_OF_SCOPE for p in self.classify_batch(texts)
        ]

    def nearest_examples(self, text: str, k: int = 3) -> list[tuple[str, str, float]]:
        """The stored examples most similar to a message: the evidence behind a decision.

        Returns:
            Up to ``k`` ``(intent, example, cosine similarity)`` triples, most similar first.
        """
        query = self.encoder.encode([check_text(text)])  # (1, dim)
        with self._lock:
            rows = [
                (name, example)
                for name, intent in self._intents.items()
                for example in intent.examples
            ]
            if not rows:
                return []
            support = torch.cat([intent.embeddings for intent in self._intents.values()])
            similarity = (support @ query[0]).tolist()  # (n_support,)
        ranked = sorted(zip(rows, similarity, strict=True), key=lambda item: -item[1])[:k]
        return [(name, example, float(score)) for (name, example), score in ranked]

    # ----------------------------------------------------------------------------- internals
    def _get(self, name: str) -> _Intent:
        try:
            return self._intents[name]
        except (KeyError, TypeError):
            raise KeyError(f"no intent named {name!r}") from None

    def _check_new_name(self, name: str) -> None:
        if name in self._intents:
            raise ValueError(f"intent {name!r} already exists; use add_examples() to extend it")

    def _column_names(self) -> list[str]:
        # Rebuilt only when the registry changes, so a message costs the same with 10,000 intents
        # as with 10. Every edit swaps the head's ``classes`` tensor or the ``_intents`` dict (a
        # rename), and the cache holds both, so identity tells whether it is stale.
        cached = getattr(self, "_columns_cache", None)
        if cached is None or cached[0] is not self._intents or cached[1] is not self.head.classes:
            by_label = {intent.label: name for name, intent in self._intents.items()}
            names = [by_label[label] for label in self.head.classes.tolist()]
            cached = self._columns_cache = (self._intents, self.head.classes, names)
        return cached[2]

    def support(self) -> tuple[list[str], torch.Tensor, torch.Tensor]:
        """Snapshot of the registry for calibration and evaluation.

        Returns:
            Intent names, ``(n_support, dim)`` embeddings, and ``(n_support,)`` intent indices.
        """
        with self._lock:
            names = list(self._intents)
            if not names:
                return names, torch.empty(0, self.encoder.dim), torch.empty(0, dtype=torch.long)
            embeddings = torch.cat([self._intents[n].embeddings for n in names])
            counts = torch.tensor([len(self._intents[n].examples) for n in names])
            return names, embeddings, torch.repeat_interleave(torch.arange(len(names)), counts)

    # ----------------------------------------------------------------------------- files
    def save(self, path: str | os.PathLike) -> None:
        """Save the intents, their embeddings and the head's weights to a directory.

        Written atomically: a crash mid-save leaves the previous registry loadable.
        """
        with self._lock:
            manifest = {
                "config": asdict(self.config),
                "encoder": {"name": self.encoder.name, "dim": self.encoder.dim},
                "oos": self.oos.state(),
                "intents": [{"name": n, "examples": i.examples} for n, i in self._intents.items()],
            }
            tensors = {f"head.{k}": v for k, v in head_parameters(self.head).items()}
            if self._intents:
                tensors["embeddings"] = torch.cat([i.embeddings for i in self._intents.values()])
                tensors.update({f"head_buffer.{k}": v for k, v in self._head_buffers().items()})
            storage.save_registry(path, manifest, tensors)

    def _head_buffers(self) -> dict[str, torch.Tensor]:
        """The head's support state, its class labels renumbered by intent position.

        Saved so that a loaded classifier scores exactly as the saved one did, even where
        intents were added one at a time after an adaptation that a reload would redo jointly.
        """
        position = {intent.label: i for i, intent in enumerate(self._intents.values())}
        buffers = dict(self.head.named_buffers())
        buffers["classes"] = torch.tensor([position[c] for c in self.head.classes.tolist()])
        return buffers

    @classmethod
    def load(
        cls, path: str | os.PathLike, encoder: str | Encoder | None = None
    ) -> IntentClassifier:
        """Load a registry written by :meth:`save`.

        Stored embeddings are re-used when the encoder is the one that made them; otherwise the
        examples are encoded again.

        Args:
            path: The registry directory.
            encoder: Override the saved encoder (a name, path or encoder object).

        Raises:
            storage.RegistryError: If the directory is missing, damaged or incompatible.
        """
        manifest, tensors = storage.load_registry(path)
        intents = storage.read_intents(manifest, path, reserved=(OUT_OF_SCOPE,))
        try:
            config = manifest["config"]
            head_config = HeadConfig(**config["head_config"])
            saved_encoder = manifest["encoder"]
            clf = cls(
                # The bundled model is recorded by its Hub name but must load offline.
                encoder=(
                    ("default" if config["encoder"] == BUNDLED_ENCODER else config["encoder"])
                    if encoder is None
                    else encoder
                ),
                head=config["head"],
                oos_threshold=config["oos_threshold"],
                top_k=config["top_k"],
                head_config=head_config,
            )
            clf.config.head_weights = config["head_weights"]
            clf.head = build_head(config["head"], clf.config.head_config)
            load_parameters(
                clf.head, {k[5:]: v for k, v in tensors.items() if k.startswith("head.")}
            )
            clf.head.eval()
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise storage.RegistryError(
                f"registry at {str(path)!r} is inconsistent: {error!r}"
            ) from None
        if not intents:
            return clf
        same_encoder = (
            saved_encoder.get("name") == clf.encoder.name
            and saved_encoder.get("dim") == clf.encoder.dim
        )
        embeddings = tensors.get("embeddings")
        n_examples = sum(len(group) for group in intents.values())
        if not same_encoder or embeddings is None:
            embeddings = clf.encoder.encode([t for group in intents.values() for t in group])
        if embeddings.shape != (n_examples, clf.encoder.dim):
            raise storage.RegistryError(
                f"registry at {str(path)!r} stores embeddings of shape {tuple(embeddings.shape)}, "
                f"expected ({n_examples}, {clf.encoder.dim}): it belongs to another encoder"
            )
        try:
            grouped = {
                check_intent_name(n, reserved=(OUT_OF_SCOPE,)): check_examples(g, n)
                for n, g in intents.items()
            }
        except (TypeError, ValueError) as error:
            raise storage.RegistryError(f"registry at {str(path)!r}: {error}") from None
        buffers = {k[12:]: v for k, v in tensors.items() if k.startswith("head_buffer.")}
        clf._replace(grouped, embeddings.float(), head_buffers=buffers if same_encoder else None)
        clf.oos.load_state(manifest.get("oos"), clf)
        return clf

    @classmethod
    def from_builtin(cls, name: str = "ecommerce", **kwargs: object) -> IntentClassifier:
        """A classifier holding one of the built-in intent sets.

        Args:
            name: The set's name; ``"ecommerce"`` ships with the package.
            **kwargs: Passed to :class:`IntentClassifier`.
        """
        intents = builtin_intents(name)
        texts = [text for examples in intents.values() for text in examples]
        labels = [intent for intent, examples in intents.items() for _ in examples]
        return cls(**kwargs).fit(texts, labels)
