"""Random sequences of registry operations agree with a plain ``dict`` model of the registry.

Saves fail at random (read-only directory, full disk, an exception from safetensors): after every
step the registry on disk must be the last one saved, and the one in memory must be the model,
so memory and disk agree whenever the model has nothing unsaved.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import FakeEncoder
from faults import fault, world_readable_temporary_directory
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from intentmeta import IntentClassifier, RegistrySaveError, history

NAMES = st.sampled_from(["track", "refund", "greet", "cancel", "oos", "OOS", "a\x00b", ""])
WORDS = st.sampled_from(["parcel", "money", "hello", "stop", "late", "📦", "مرحبا", "x\x00y"])
TEXTS = st.lists(WORDS, min_size=1, max_size=3).map(" ".join)
EXAMPLES = st.lists(TEXTS, min_size=0, max_size=4)
VALID = {"track", "refund", "greet", "cancel"}
FAULTS = st.sampled_from([None, "read_only", "disk_full", "safetensors_fails"])


class RegistryMachine(RuleBasedStateMachine):
    """Drive an IntentClassifier and a dict side by side; any disagreement is a bug."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = FakeEncoder(dim=16)
        self.clf = IntentClassifier(encoder=self.encoder, oos_threshold=None)
        self.model: dict[str, list[str]] = {}
        self.saved: dict[str, list[str]] | None = None  # what the directory holds; None: nothing
        self.parent = world_readable_temporary_directory(prefix="intentmeta-sm-")
        self.directory = self.parent / "registry"
        self.directory.mkdir()

    def teardown(self) -> None:
        shutil.rmtree(self.parent, ignore_errors=True)

    def copy_of_model(self) -> dict[str, list[str]]:
        return {name: list(examples) for name, examples in self.model.items()}

    @rule(name=NAMES, examples=EXAMPLES)
    def add(self, name, examples):
        if name not in VALID:
            with pytest.raises(ValueError):
                self.clf.add_intent(name, examples)
        elif not examples:
            with pytest.raises(ValueError, match="at least one example"):
                self.clf.add_intent(name, examples)
        elif name in self.model:
            with pytest.raises(ValueError, match="already exists"):
                self.clf.add_intent(name, examples)
        else:
            self.clf.add_intent(name, examples)
            self.model[name] = list(dict.fromkeys(examples))

    @rule(name=NAMES, examples=EXAMPLES)
    def add_examples(self, name, examples):
        if name not in self.model:
            with pytest.raises(KeyError):
                self.clf.add_examples(name, examples)
        elif not examples:
            with pytest.raises(ValueError):
                self.clf.add_examples(name, examples)
        else:
            self.clf.add_examples(name, examples)
            for text in examples:
                if text not in self.model[name]:
                    self.model[name].append(text)

    @rule(name=NAMES, data=st.data())
    def remove_examples(self, name, data):
        pool = [*self.model.get(name, []), "never added"]
        chosen = data.draw(st.lists(st.sampled_from(pool), max_size=3, unique=True))
        if name not in self.model or "never added" in chosen:
            with pytest.raises(KeyError):
                self.clf.remove_examples(name, chosen)
        elif set(self.model[name]) <= set(chosen):
            with pytest.raises(ValueError, match="keep at least one"):
                self.clf.remove_examples(name, chosen)
        else:
            self.clf.remove_examples(name, chosen)
            self.model[name] = [text for text in self.model[name] if text not in chosen]

    @rule(name=NAMES)
    def remove(self, name):
        if name not in self.model:
            with pytest.raises(KeyError):
                self.clf.remove_intent(name)
        else:
            self.clf.remove_intent(name)
            del self.model[name]

    @rule(old=NAMES, new=NAMES)
    def rename(self, old, new):
        if new not in VALID:
            with pytest.raises(ValueError):
                self.clf.rename_intent(old, new)
        elif old not in self.model:
            with pytest.raises(KeyError):
                self.clf.rename_intent(old, new)
        elif new in self.model and new != old:
            with pytest.raises(ValueError, match="already exists"):
                self.clf.rename_intent(old, new)
        else:
            self.clf.rename_intent(old, new)
            self.model = {new if key == old else key: value for key, value in self.model.items()}

    @rule(text=TEXTS)
    def classify(self, text):
        if not self.model:
            with pytest.raises(RuntimeError, match="no intents"):
                self.clf.classify(text)
            return
        prediction = self.clf.classify(text)
        assert prediction.intent in self.model
        assert set(prediction.scores) <= set(self.model)

    @precondition(lambda self: self.model)
    @rule()
    def an_example_is_closest_to_its_own_intent_or_a_twin(self):
        name = next(iter(self.model))
        text = self.model[name][0]
        owners = {n for n, examples in self.model.items() if text in examples}
        nearest = self.clf.nearest_examples(text, k=1)[0]
        assert nearest[1] == text or nearest[2] == pytest.approx(1.0, abs=1e-5)
        assert nearest[0] in owners or nearest[2] == pytest.approx(1.0, abs=1e-5)

    @rule()
    def save_and_load(self):
        self.clf.save(self.directory)
        self.saved = self.copy_of_model()
        self.clf = IntentClassifier.load(self.directory, encoder=self.encoder)

    @rule(kind=FAULTS)
    def save(self, kind):
        if kind is None:
            self.clf.save(self.directory)
            self.saved = self.copy_of_model()
            return
        with fault(kind, self.directory), pytest.raises(RegistrySaveError, match="not saved"):
            self.clf.save(self.directory)
        # Changed but not saved: memory keeps the model, disk the last save (invariants below).

    @rule(kind=FAULTS, name=st.sampled_from(sorted(VALID)), examples=EXAMPLES)
    def add_and_save_together(self, kind, name, examples):
        expected = None
        if not examples or name in self.model:
            expected = ValueError
        elif kind is not None:
            expected = RegistrySaveError
        with fault(kind, self.directory) if kind else contextlib.nullcontext():
            if expected is None:
                with self.clf.transaction(self.directory):
                    self.clf.add_intent(name, examples)
            else:
                with pytest.raises(expected), self.clf.transaction(self.directory):
                    self.clf.add_intent(name, examples)
        if expected is None:
            self.model[name] = list(dict.fromkeys(examples))
            self.saved = self.copy_of_model()
        # On any failure memory is put back as it was: the model is unchanged.

    @rule(kind=FAULTS, name=NAMES)
    def remove_and_save_together(self, kind, name):
        if name not in self.model:
            with pytest.raises(KeyError), self.clf.transaction(self.directory):
                self.clf.remove_intent(name)
            return
        if kind is not None:
            with fault(kind, self.directory), pytest.raises(RegistrySaveError):  # noqa: SIM117
                with self.clf.transaction(self.directory):
                    self.clf.remove_intent(name)
            return
        with self.clf.transaction(self.directory):
            self.clf.remove_intent(name)
        del self.model[name]
        self.saved = self.copy_of_model()

    @invariant()
    def registry_matches_the_model(self):
        assert self.clf.intents == list(self.model)
        assert {name: self.clf.examples(name) for name in self.clf.intents} == self.model
        assert self.clf.head.n_classes == len(self.model)
        # The registry's columns (names, raw prototypes) line up with the head's logit columns.
        registry = self.clf._registry
        assert list(registry.column_labels) == self.clf.head.classes.tolist()
        assert sorted(registry.column_names) == sorted(self.model)
        by_name = dict(registry.items())
        expected = [
            F.normalize(by_name[name].embeddings.sum(dim=0), dim=0)
            for name in registry.column_names
        ]
        if expected:  # kept row by row across edits, equal to what a rebuild would give
            assert torch.allclose(registry.prototypes, torch.stack(expected), atol=1e-5)
        names, embeddings, owners = self.clf.support()
        assert names == list(self.model)
        assert embeddings.shape == (sum(map(len, self.model.values())), self.encoder.dim)
        assert owners.tolist() == [i for i, ex in enumerate(self.model.values()) for _ in ex]

    @invariant()
    def disk_holds_the_last_successful_save(self):
        manifest = self.directory / "intentmeta.json"
        if self.saved is None:
            assert not manifest.exists()
            return
        on_disk = IntentClassifier.load(self.directory, encoder=self.encoder)
        assert {name: on_disk.examples(name) for name in on_disk.intents} == self.saved
        if self.saved == self.model:  # nothing unsaved: memory and disk agree
            assert on_disk.intents == self.clf.intents


RegistryMachine.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_random_operation_sequences_keep_the_registry_equal_to_a_dict_model = RegistryMachine.TestCase


# --------------------------------------------------------------------------- history (issue 13)
KEEP = 3


class HistoryMachine(RuleBasedStateMachine):
    """Edits, saves with history and undos against a list of the states the history promised."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = FakeEncoder(dim=16)
        self.clf = IntentClassifier(encoder=self.encoder, oos_threshold=None)
        self.clf.add_intent("track", ["parcel"])
        self.directory = Path(tempfile.mkdtemp(prefix="intentmeta-history-"))
        history.save(self.clf, self.directory)
        self.kept: list[dict[str, list[str]]] = [self.snapshot(self.clf)]  # oldest first

    def teardown(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    @staticmethod
    def snapshot(clf: IntentClassifier) -> dict[str, list[str]]:
        return {name: clf.examples(name) for name in clf.intents}

    @rule(name=NAMES.filter(VALID.__contains__), text=TEXTS)
    def edit(self, name, text):
        if name in self.clf:
            if len(self.clf) > 1:
                self.clf.remove_intent(name)
            else:
                self.clf.add_examples(name, [text])
        else:
            self.clf.add_intent(name, [text])

    @rule()
    def save(self):
        history.save(self.clf, self.directory, keep=KEEP)
        state = self.snapshot(self.clf)
        if state != self.kept[-1]:
            self.kept = [*self.kept, state][-KEEP:]

    @rule()
    def undo(self):
        if len(self.kept) < 2:
            with pytest.raises(history.HistoryError):
                history.undo(self.directory)
            return
        self.save()  # undo records an unsaved change first; the model does the same
        history.undo(self.directory)
        self.kept.pop()
        self.clf = IntentClassifier.load(self.directory, encoder=self.encoder)
        assert self.snapshot(self.clf) == self.kept[-1]

    @invariant()
    def history_keeps_exactly_the_promised_versions(self):
        kept = history.versions(self.directory)
        loaded = [
            self.snapshot(
                IntentClassifier.load(history.version_path(self.directory, v.number), self.encoder)
            )
            for v in kept
        ]
        assert loaded == self.kept


HistoryMachine.TestCase.settings = settings(
    max_examples=15,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_history_keeps_every_version_it_promised_and_undo_walks_back = HistoryMachine.TestCase
