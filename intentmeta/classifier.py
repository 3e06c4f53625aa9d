"""The public :class:`IntentClassifier`: encode -> head -> out of scope -> :class:`Prediction`.

Intents live in an :class:`~intentmeta.registry.IntentRegistry` (edited through the methods of
:class:`~intentmeta.editing.IntentEditing`), scores come from a few-shot head
(:mod:`intentmeta.heads`), rejection from :mod:`intentmeta.out_of_scope`, files from
:mod:`intentmeta.persistence`; this module only wires them together, one way.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict

import torch

from intentmeta import history, persistence
from intentmeta.builtin import builtin_intents
from intentmeta.config import ClassifierConfig, default_head_config
from intentmeta.discovery import Discovery, DiscoveryConfig, discover
from intentmeta.editing import IntentEditing
from intentmeta.encoder import Encoder, EncoderConfig, shared_encoder
from intentmeta.heads import FewShotHead, HeadConfig, build_head
from intentmeta.heads.weights import head_parameters, load_head_weights, load_parameters
from intentmeta.out_of_scope import OutOfScopeDetector
from intentmeta.persistence import RegistryError, SavedClassifier
from intentmeta.prediction import OUT_OF_SCOPE, Prediction
from intentmeta.registry import IntentRegistry
from intentmeta.report import Report, ReportConfig, build_report
from intentmeta.transaction import saved_together
from intentmeta.validation import check_count, check_settings, check_text, check_texts


class IntentClassifier(IntentEditing):
    """A few-shot intent classifier whose intents change at run time.

    Each intent is a name and a few example messages. Adding, editing, renaming or removing an
    intent takes effect on the next message, with no retraining. All methods are thread-safe.

    Args:
        encoder: Model name or path, ``"default"`` for the shipped meta-learned MiniLM, or an
            object with ``name``, ``dim`` and ``encode(texts)``.
        head: ``"prototypical"`` or ``"matching"``.
        head_weights: ``None`` (parameter-free), or a directory written by ``intentmeta train``;
            no trained weights ship with the package.
        oos_threshold: ``"auto"``, a float, or ``None`` for no out-of-scope rejection.
        top_k: Number of intents listed in ``Prediction.scores``.
        name_as_example: Count a descriptive intent name as one more example (BENCHMARKS.md).

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
        name_as_example: bool = True,
    ) -> None:
        check_settings(oos_threshold, top_k, name_as_example)
        self.encoder: Encoder = (
            shared_encoder(EncoderConfig(model=encoder)) if isinstance(encoder, str) else encoder
        )
        head_config = HeadConfig(
            **{**asdict(head_config or default_head_config(head)), "dim": self.encoder.dim}
        )
        self.config = ClassifierConfig(
            encoder=self.encoder.name,  # what "default" resolved to, so a reload gets the same
            head=head,
            head_weights=None if head_weights is None else str(head_weights),
            oos_threshold=oos_threshold,
            top_k=top_k,
            head_config=head_config,
            name_as_example=name_as_example,
        )
        self.head: FewShotHead = (
            build_head(head, head_config)
            if head_weights is None
            else load_head_weights(head_weights, kind=head, dim=self.encoder.dim)
        )
        self.head.eval()
        self.config.head_config = self.head.config  # meta-trained weights bring their own
        self.oos = OutOfScopeDetector(oos_threshold, encoder=self.encoder.name)
        # Learned state: the intents, guarded (with the head) by the registry's lock.
        self._registry = IntentRegistry(self.encoder.dim)
        self._lock = self._registry.lock

    def __repr__(self) -> str:
        config, n = self.config, len(self)
        return f"IntentClassifier(encoder={config.encoder!r}, head={config.head!r}, intents={n})"

    # ----------------------------------------------------------------------------- classifying
    def classify(self, text: str) -> Prediction:
        """Predict the intent of one message.

        Raises:
            TypeError: If ``text`` is not a string.
            ValueError: If it is blank.
            RuntimeError: If the classifier has no intents.
        """
        return self.classify_batch([check_text(text)])[0]

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
        return self.classify_embeddings(self.encoder.encode(texts))  # encoded outside the lock

    def classify_embeddings(self, queries: torch.Tensor) -> list[Prediction]:
        """Predict the intents of messages already embedded by ``self.encoder``: ``(n, dim)``.

        What :meth:`classify_batch` does after encoding, for a caller that encodes elsewhere
        (``classify_file`` encodes the next batch while this one is classified).
        """
        with self._lock, torch.inference_mode():
            self._check_not_empty()
            names = self._registry.column_names
            # The best classes without scoring every intent's examples (heads/shortlist.py).
            top = self.head.top(queries, min(self.config.top_k, len(names)))
            probabilities = (top.logits - top.log_normaliser[:, None]).exp()  # (n_query, k)
            reads_nearest = self.oos.reads_nearest_example
            evidence = self._registry.prototype_evidence(queries, top.columns[:, 0], reads_nearest)
            decisions = self.oos.decide(*evidence, head_top=probabilities)
        return Prediction.batch(names, top.columns, decisions)

    def out_of_scope_evidence(
        self, queries: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """What rejection reads for embedded messages (for calibration and evaluation).

        Args:
            queries: ``(n_query, dim)`` encoder embeddings.

        Returns:
            ``(n_query,)`` cosine similarity to the head's chosen intent's prototype, the
            probability that each message is out of scope, and the probability that the
            chosen intent is right if it is in scope.
        """
        with self._lock, torch.inference_mode():
            self._check_not_empty()
            best, near = self.head.top(queries, 1).columns[:, 0], self.oos.reads_nearest_example
            return self.oos.evidence(*self._registry.prototype_evidence(queries, best, near))

    def out_of_scope_thresholds(self) -> dict[str, float]:
        """Each intent's effective cosine threshold: a message whose cosine to the intent's
        prototype (the normalised mean of its example embeddings) is below it is answered
        "out of scope" when that intent wins clearly.

        Under ``oos_threshold="auto"`` the thresholds follow from the rule and the registry
        (and any :meth:`calibrate`); a float gives that float for all; ``None`` gives
        ``-inf``.
        """
        with self._lock:
            self._check_not_empty()
            thresholds = self.oos.thresholds(self._registry.column_labels).tolist()
            return dict(zip(self._registry.column_names, thresholds, strict=True))

    def _check_not_empty(self) -> None:
        if not len(self._registry):
            raise RuntimeError("the classifier has no intents: call add_intent() or fit()")

    def calibrate(
        self,
        oos_texts: Sequence[str] | None = None,
        in_scope_texts: Sequence[str] | None = None,
        *,
        in_scope: Sequence[str] | None = None,
        out_of_scope: Sequence[str] | None = None,
        in_scope_intents: Sequence[str] | None = None,
        out_of_scope_share: float | None = None,
    ) -> dict:
        """Re-fit the out-of-scope probability on labelled messages of real traffic.

        The rule's out-of-scope log-odds are rescaled (Platt scaling) to fit these messages,
        the in-scope / out-of-scope share of the data taken as the traffic's; the decision
        (the most probable answer) and every probability follow. Kept by :meth:`save`.

        Args:
            oos_texts: Deprecated positional form of ``out_of_scope``.
            in_scope_texts: Deprecated positional form of ``in_scope``.
            in_scope: Messages that belong to some intent; by default the intents' own
                examples, each scored against the others of its intent.
            out_of_scope: Messages that fit none of the intents.
            in_scope_intents: The intent of each ``in_scope`` message, to report accuracy.
            out_of_scope_share: With no labelled message, the share of traffic expected to be
                out of scope (e.g. 0.5): the probability is moved to it by Bayes' rule.

        Returns:
            ``{"scale", "offset", "before", "after"}``: the fitted map and the figures on the
            messages before and after (in-scope acceptance and accuracy, out-of-scope recall and
            precision, log-loss of the out-of-scope probability); the map only for a share.

        Raises:
            ValueError: If ``oos_threshold`` is not ``"auto"``, or neither out-of-scope texts
                nor a share (or both) are given.
            RuntimeError: If the classifier has no intents.
        """
        from intentmeta.traffic_calibration import calibrate_on_traffic

        if oos_texts is not None or in_scope_texts is not None:
            warnings.warn(
                "calibrate(oos_texts, in_scope_texts) is deprecated; use "
                "calibrate(in_scope=..., out_of_scope=...)",
                DeprecationWarning,
                stacklevel=2,
            )
            out_of_scope = oos_texts if out_of_scope is None else out_of_scope
            in_scope = in_scope_texts if in_scope is None else in_scope
        if self.config.oos_threshold != "auto":
            raise ValueError("calibrate() tunes oos_threshold='auto'; this classifier's is fixed")
        return calibrate_on_traffic(
            self, in_scope, out_of_scope, in_scope_intents, out_of_scope_share
        )

    def predict(self, texts: Sequence[str]) -> list[str]:
        """Each message's intent, ``"oos"`` when out of scope (as :meth:`classify_batch`)."""
        return [
            p.intent if p.intent is not None else OUT_OF_SCOPE for p in self.classify_batch(texts)
        ]

    def nearest_examples(self, text: str, k: int = 3) -> list[tuple[str, str, float]]:
        """The stored examples most similar to a message: the evidence behind a decision.

        Returns:
            Up to ``k`` ``(intent, example, cosine similarity)`` triples, most similar first.

        Raises:
            TypeError: If ``text`` is not a string or ``k`` not an integer.
            ValueError: If ``text`` is blank or ``k`` is below 1.
        """
        check_count(k, "k")
        query = self.encoder.encode([check_text(text)])  # (1, dim)
        with self._lock:
            rows = [
                (n, example) for n, intent in self._registry.items() for example in intent.examples
            ]
            if not rows:
                return []
            similarity = (self._registry.embeddings() @ query[0]).tolist()  # (n_support,)
        ranked = sorted(zip(rows, similarity, strict=True), key=lambda item: -item[1])[:k]
        return [(name, example, float(score)) for (name, example), score in ranked]

    def support(self) -> tuple[list[str], torch.Tensor, torch.Tensor]:
        """Snapshot of the registry for calibration and evaluation.

        Returns:
            Intent names, ``(n_support, dim)`` embeddings, and ``(n_support,)`` intent indices.
        """
        with self._lock:
            return list(self._registry), self._registry.embeddings(), self._registry.owners()

    # ----------------------------------------------------------------------------- insight
    def report(self, config: ReportConfig | None = None) -> Report:
        """A data-quality report: suspect examples, confusable intents, near duplicates.

        See :func:`intentmeta.report.build_report`.
        """
        return build_report(self, config)

    def discover(
        self,
        texts: Sequence[str],
        *,
        only_out_of_scope: bool = False,
        n_groups: int | None = None,
        config: DiscoveryConfig | None = None,
    ) -> Discovery:
        """Group unlabelled messages into suggested new intents.

        See :func:`intentmeta.discovery.discover`.
        """
        return discover(
            self, texts, only_out_of_scope=only_out_of_scope, n_groups=n_groups, config=config
        )

    # ----------------------------------------------------------------------------- files
    def save(self, path: str | os.PathLike) -> None:
        """Save the intents, their embeddings and the head's weights to a directory.

        Written atomically: a crash mid-save leaves the previous registry loadable. A save that
        fails changes nothing on disk and nothing in memory: the classifier then holds changes
        that are not saved, which the error says. Use :meth:`transaction` to undo them instead.

        Raises:
            RegistrySaveError: If the files cannot be written (permissions, a full disk); an
                ``OSError`` whose message names no path.
            RegistryError: If ``path`` is a file.
        """
        with self._lock:
            # Saved support state: a reload scores exactly as this classifier (see SavedClassifier).
            buffers = dict(self.head.named_buffers())
            buffers["classes"] = self._registry.positions(self.head.classes.tolist())
            saved = SavedClassifier(
                config=asdict(self.config),
                encoder={"name": self.encoder.name, "dim": self.encoder.dim},
                out_of_scope=self.oos.state(),
                intents={name: intent.examples for name, intent in self._registry.items()},
                embeddings=self._registry.embeddings(),
                head_parameters=head_parameters(self.head),
                head_buffers=buffers,
                name_vectors=self._registry.named_positions(),
            )
            persistence.write_classifier(path, saved)

    def transaction(self, path: str | os.PathLike) -> AbstractContextManager[None]:
        """Edits that are saved to ``path`` together, or not at all, memory included.

        Example::

            with clf.transaction("registry"):
                clf.add_intent("cancel", ["cancel my order"])

        The block's edits are saved when it ends. If an edit or the save fails, the classifier
        is put back as it was before the block (so it matches the disk again) and the error is
        raised: ``RegistrySaveError`` for a failed save. Do not nest transactions.
        """
        return saved_together(self, path)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        encoder: str | Encoder | None = None,
        version: int | None = None,
    ) -> IntentClassifier:
        """Load a registry written by :meth:`save`.

        Stored embeddings are re-used when the encoder is the one that made them; otherwise the
        examples are encoded again. Loading reads nothing outside ``path`` and never the network:
        a registry made with the bundled encoder loads it (offline); one made with any other
        encoder (a Hub name, a local path, an object) needs that encoder passed as ``encoder``,
        since a manifest must not choose what code or files are read.

        Args:
            path: The registry directory.
            encoder: The encoder to use (a name, path or encoder object); required unless the
                registry was made with the bundled one.
            version: Load this kept version of the registry's history (:mod:`intentmeta.history`).

        Raises:
            RegistryError: If the directory is missing, damaged, incompatible, or names another
                encoder and none is passed, or that version is not kept
                (``history.HistoryError``).
        """
        if version is not None:
            path = history.version_path(path, version)
        saved = persistence.read_classifier(path, reserved=(OUT_OF_SCOPE,))
        config = saved.config
        if encoder is None:
            encoder = persistence.saved_encoder(config["encoder"], path)
        try:
            clf = cls(  # builds the one head this load uses
                encoder=encoder,
                head=config["head"],
                oos_threshold=config["oos_threshold"],
                top_k=config["top_k"],
                head_config=HeadConfig(**config["head_config"]),
                name_as_example=config["name_as_example"],
            )
            clf.config.head_weights = config["head_weights"]
            load_parameters(clf.head, saved.head_parameters)
            clf.oos.load_state(saved.out_of_scope)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise RegistryError(f"registry at {str(path)!r} is inconsistent: {error!r}") from None
        if saved.intents:
            embeddings, buffers, names = saved.support_for(clf.encoder, where=path)
            clf._replace(saved.intents, embeddings, buffers, clf.head, names)
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
