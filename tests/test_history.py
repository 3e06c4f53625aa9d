"""A registry's history: versions recorded, capped, loaded, undone, and safe against a kill."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from conftest import FakeEncoder

from intentmeta import IntentClassifier, history


def contents(clf: IntentClassifier) -> dict[str, list[str]]:
    return {name: clf.examples(name) for name in clf.intents}


@pytest.fixture
def directory(toy_classifier, tmp_path):
    path = tmp_path / "registry"
    history.save(toy_classifier, path, note="start")
    return path


def test_each_change_is_a_version_and_an_unchanged_save_adds_none(toy_classifier, directory):
    toy_classifier.add_intent("cancel", ["cancel my order"])
    history.save(toy_classifier, directory, note="added intent 'cancel'")
    history.save(toy_classifier, directory, note="same again")
    kept = history.versions(directory)
    assert [v.number for v in kept] == [1, 2]
    assert kept[-1].note == "added intent 'cancel'"
    assert (kept[-1].intents, kept[-1].examples) == (4, 10)


def test_undo_restores_the_previous_version_and_forgets_the_undone_one(
    toy_classifier, directory, fake_encoder
):
    before = contents(toy_classifier)
    toy_classifier.remove_intent("refund")
    history.save(toy_classifier, directory, note="deleted intent 'refund'")
    restored = history.undo(directory)
    assert restored.number == 1
    assert contents(IntentClassifier.load(directory, encoder=fake_encoder)) == before
    assert [v.number for v in history.versions(directory)] == [1]
    with pytest.raises(history.HistoryError, match="no earlier version"):
        history.undo(directory)


def test_any_kept_version_loads_by_number(toy_classifier, directory, fake_encoder):
    first = contents(toy_classifier)
    toy_classifier.add_intent("cancel", ["cancel my order"])
    history.save(toy_classifier, directory)
    old = IntentClassifier.load(directory, encoder=fake_encoder, version=1)
    assert contents(old) == first
    assert contents(IntentClassifier.load(directory, fake_encoder, version=2)) != first
    with pytest.raises(
        history.HistoryError, match=r"version 7 is not kept; kept versions: \[1, 2\]"
    ):
        history.version_path(directory, 7)


def test_only_the_newest_versions_are_kept(toy_classifier, tmp_path):
    path = tmp_path / "registry"
    for step in range(6):
        toy_classifier.add_intent(f"intent_{step}", [f"word{step}"])
        history.save(toy_classifier, path, keep=3)
    assert [v.number for v in history.versions(path)] == [4, 5, 6]
    assert sorted(p.name for p in history.history_dir(path).iterdir()) == [
        "v000004",
        "v000005",
        "v000006",
    ]


def test_a_change_saved_but_not_recorded_is_recorded_before_an_undo(
    toy_classifier, directory, fake_encoder
):
    before = contents(toy_classifier)
    toy_classifier.add_intent("cancel", ["cancel my order"])
    toy_classifier.save(directory)  # killed before record(): the history lags the registry
    history.undo(directory)
    assert contents(IntentClassifier.load(directory, encoder=fake_encoder)) == before


def test_an_interrupted_undo_is_finished_by_the_next_call(toy_classifier, directory, fake_encoder):
    before = contents(toy_classifier)
    toy_classifier.add_intent("cancel", ["cancel my order"])
    history.save(toy_classifier, directory)
    # What undo() leaves when killed right after writing its marker.
    (history.history_dir(directory) / history.UNDO_MARKER).write_text("1")
    (history.history_dir(directory) / ".tmp-abc").mkdir()
    history.record(directory)
    assert contents(IntentClassifier.load(directory, encoder=fake_encoder)) == before
    assert [v.number for v in history.versions(directory)] == [1]
    assert not (history.history_dir(directory) / ".tmp-abc").exists()


def test_bad_arguments_are_clear_errors(directory, tmp_path):
    with pytest.raises(ValueError, match="at least 2"):
        history.record(directory, keep=1)
    with pytest.raises(history.HistoryError, match="positive whole number"):
        history.version_path(directory, 0)
    with pytest.raises(history.RegistryError, match="no registry"):
        history.undo(tmp_path / "nothing here")


def _edit_forever(directory: Path) -> None:
    """Add intents, saving each with history and undoing every third, until killed."""
    clf = IntentClassifier.load(directory, encoder=FakeEncoder())
    step = 0
    while True:
        step += 1
        clf.add_intent(f"intent_{step}", [f"word{step} " * 200, f"other{step}"])
        history.save(clf, directory, note=f"intent_{step}", keep=4)
        if step % 3 == 0:
            history.undo(directory)
            clf = IntentClassifier.load(directory, encoder=FakeEncoder())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_kill_at_any_moment_leaves_a_loadable_registry_and_history(toy_classifier, tmp_path):
    path = tmp_path / "registry"
    history.save(toy_classifier, path)
    for delay in (0.01, 0.03, 0.07, 0.11, 0.17, 0.23, 0.31, 0.43):
        child = os.fork()
        if child == 0:  # the child edits until killed; it never returns to pytest
            try:
                _edit_forever(path)
            finally:
                os._exit(1)
        time.sleep(delay)
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        IntentClassifier.load(path, encoder=FakeEncoder())  # the registry loads
        for kept in history.versions(path):  # every listed version loads
            IntentClassifier.load(history.version_path(path, kept.number), encoder=FakeEncoder())
        # The next history call repairs (it finishes an undo the kill interrupted, which changes
        # the registry), and then the newest version equals the registry.
        newest = history.record(path, keep=4)
        current = IntentClassifier.load(path, encoder=FakeEncoder())
        again = IntentClassifier.load(history.version_path(path, newest.number), FakeEncoder())
        assert contents(again) == contents(current)
        assert len(history.versions(path)) <= 4
