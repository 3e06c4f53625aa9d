"""A save that fails (read-only directory, full disk, safetensors error) never leaves memory and
disk disagreeing without saying so: ``save`` raises ``RegistrySaveError`` and changes nothing on
disk, and ``transaction`` also puts the classifier in memory back as it was."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from conftest import FakeEncoder
from faults import disk_full, fault, read_only, world_readable_temporary_directory

from intentmeta import IntentClassifier, RegistrySaveError

FAULT_KINDS = ["read_only", "disk_full", "safetensors_fails"]


def contents(clf: IntentClassifier) -> dict[str, list[str]]:
    return {name: clf.examples(name) for name in clf.intents}


def on_disk(directory: Path) -> dict[str, list[str]]:
    return contents(IntentClassifier.load(directory, encoder=FakeEncoder()))


def listing(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


@pytest.fixture
def directory():
    """A registry directory that ``nobody`` can reach, for the read-only fault run as root."""
    parent = world_readable_temporary_directory()
    yield parent / "registry"
    shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture
def saved(toy_classifier, directory):
    toy_classifier.save(directory)
    return toy_classifier, directory, contents(toy_classifier)


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_a_failed_save_raises_registry_save_error_and_changes_nothing_on_disk(saved, kind):
    clf, directory, old = saved
    clf.add_intent("cancel", ["cancel my order", "stop the order"])
    changed = contents(clf)
    before = listing(directory)
    with fault(kind, directory), pytest.raises(RegistrySaveError) as caught:
        clf.save(directory)
    error = caught.value
    assert isinstance(error, OSError)  # what callers already catch for "not saved"
    assert str(directory) not in str(error) and str(directory.parent) not in str(error)
    assert "not saved" in str(error)
    assert Path(error.directory) == directory  # the path is there for logs, not in the message
    assert listing(directory) == before  # no half-written file left behind
    assert on_disk(directory) == old
    assert contents(clf) == changed  # changed but not saved, as the error says
    clf.save(directory)  # once the fault is gone the same classifier saves
    assert on_disk(directory) == changed


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_a_transaction_whose_save_fails_puts_memory_back_as_it_is_on_disk(saved, kind):
    clf, directory, old = saved
    with fault(kind, directory), pytest.raises(RegistrySaveError):  # noqa: SIM117
        with clf.transaction(directory):
            clf.add_intent("cancel", ["cancel my order", "stop the order"])
            clf.remove_intent("greeting")
            clf.add_examples("refund", ["return the money"])
    assert contents(clf) == old == on_disk(directory)
    assert clf.classify("cancel my order").intent != "cancel"
    with clf.transaction(directory):  # a retry is not refused as "already exists"
        clf.add_intent("cancel", ["cancel my order", "stop the order"])
    assert on_disk(directory) == contents(clf) == {**old, "cancel": ["cancel my order",
                                                                    "stop the order"]}  # fmt: skip


def test_an_edit_error_inside_a_transaction_undoes_its_earlier_edits(saved):
    clf, directory, old = saved
    with pytest.raises(ValueError, match="already exists"), clf.transaction(directory):
        clf.add_intent("cancel", ["cancel my order"])
        clf.add_intent("refund", ["again"])
    assert contents(clf) == old == on_disk(directory)


def test_a_transaction_into_a_new_directory_creates_the_registry(toy_classifier, tmp_path):
    with toy_classifier.transaction(tmp_path / "new"):
        toy_classifier.rename_intent("greeting", "hello")
    assert on_disk(tmp_path / "new") == contents(toy_classifier)


def test_a_failed_directory_fsync_after_the_rename_leaves_memory_and_disk_agreeing(
    saved, monkeypatch
):
    clf, directory, _ = saved
    real_fsync = os.fsync

    def fsync(fd):
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(5, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    try:
        with clf.transaction(directory):
            clf.add_intent("cancel", ["cancel my order"])
    except RegistrySaveError:
        pass
    monkeypatch.undo()
    assert contents(clf) == on_disk(directory)


def test_leftovers_of_safetensors_own_temporary_files_are_removed_by_the_next_save(saved):
    clf, directory, _ = saved
    # safetensors wrote ``.tmpXXXXXX`` (six random letters or digits) beside the target, then
    # renamed it; a killed save left it.
    planted = [".tmpA1b2C3", ".tmpzz9kQx"]
    for name in planted:
        (directory / name).write_bytes(b"\0" * 4096)
    kept = ["notes.txt", ".tmp-but-not-ours.txt"]
    for name in kept:
        (directory / name).write_text("a person's file")
    clf.save(directory)
    names = listing(directory)
    assert not set(planted) & set(names)
    assert set(kept) <= set(names)


def test_a_failing_save_into_a_fresh_directory_leaves_no_registry_behind(toy_classifier):
    parent = world_readable_temporary_directory()
    try:
        with disk_full(64), pytest.raises(RegistrySaveError):
            toy_classifier.save(parent / "fresh")
        assert not (parent / "fresh" / "intentmeta.json").exists()
        leftovers = list((parent / "fresh").iterdir()) if (parent / "fresh").exists() else []
        assert leftovers == []
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def test_saving_to_an_unwritable_directory_names_the_reason(saved):
    clf, directory, _ = saved
    with read_only(directory), pytest.raises(RegistrySaveError, match=r"[Pp]ermission denied"):
        clf.save(directory)
    manifest = json.loads((directory / "intentmeta.json").read_text(encoding="utf-8"))
    assert (directory / manifest["tensors"]).is_file()
