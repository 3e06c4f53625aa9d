"""Atomic saves: a save that fails or is killed half-way leaves the previous registry loadable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import FakeEncoder
from safetensors import torch as safetensors_torch

from intentmeta import IntentClassifier, registry_files

TESTS = Path(__file__).resolve().parent


def listing(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def assert_clean(directory: Path) -> None:
    """Exactly one manifest and the one tensor file it names: no temporary or orphan file."""
    names = listing(directory)
    manifest = json.loads((directory / registry_files.MANIFEST).read_text(encoding="utf-8"))
    assert names == sorted([registry_files.MANIFEST, manifest["tensors"]])


def contents(clf: IntentClassifier) -> dict[str, list[str]]:
    return {name: clf.examples(name) for name in clf.intents}


@pytest.fixture
def saved(toy_classifier, tmp_path):
    """The toy classifier saved, then changed in memory (the change is what a crash may lose)."""
    directory = tmp_path / "registry"
    toy_classifier.save(directory)
    old = contents(toy_classifier)
    toy_classifier.add_intent("cancel", ["cancel my order", "stop the order"])
    toy_classifier.remove_intent("greeting")
    return toy_classifier, directory, old


def test_a_successful_save_leaves_no_temporary_file(toy_classifier, tmp_path):
    for _ in range(3):
        toy_classifier.save(tmp_path / "registry")
        assert_clean(tmp_path / "registry")


def test_saving_into_a_file_path_is_a_clear_error(toy_classifier, tmp_path):
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(registry_files.RegistryError, match="not a directory"):
        toy_classifier.save(tmp_path / "file")


def _fail(*args, **kwargs):
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize(
    ("target", "name"),
    [
        (safetensors_torch, "save"),  # the tensors cannot be serialised
        (registry_files.os, "fsync"),  # the disk refuses to flush
        (registry_files.os, "replace"),  # the rename fails
        (registry_files.json, "dumps"),  # the manifest cannot be serialised
    ],
)
def test_a_save_that_fails_keeps_the_old_registry_and_leaves_no_litter(
    saved, monkeypatch, target, name
):
    clf, directory, old = saved
    before = listing(directory)
    monkeypatch.setattr(target, name, _fail)
    with pytest.raises(OSError, match="No space left"):
        clf.save(directory)
    monkeypatch.undo()
    assert listing(directory) == before
    assert contents(IntentClassifier.load(directory, encoder=FakeEncoder())) == old
    clf.save(directory)  # the classifier in memory is intact and saves once the disk recovers
    assert contents(IntentClassifier.load(directory, encoder=FakeEncoder())) == contents(clf)
    assert_clean(directory)


def test_a_failure_only_in_the_manifest_rename_removes_the_new_tensor_file(saved, monkeypatch):
    clf, directory, old = saved
    before = listing(directory)
    real_replace = os.replace

    def replace(source, destination):
        if Path(destination).name == registry_files.MANIFEST:
            raise OSError(5, "Input/output error")
        real_replace(source, destination)

    monkeypatch.setattr(registry_files.os, "replace", replace)
    with pytest.raises(OSError, match="Input/output"):
        clf.save(directory)
    assert listing(directory) == before
    assert contents(IntentClassifier.load(directory, encoder=FakeEncoder())) == old


def test_failing_to_delete_the_old_tensor_file_does_not_fail_a_committed_save(saved, monkeypatch):
    clf, directory, _ = saved
    monkeypatch.setattr(Path, "unlink", _fail)
    clf.save(directory)  # committed by the manifest rename; the stale file is only litter
    monkeypatch.undo()
    assert contents(IntentClassifier.load(directory, encoder=FakeEncoder())) == contents(clf)
    clf.save(directory)  # the next save removes the litter
    assert_clean(directory)


# One child process (importing torch and transformers once is the slow part) forks a grandchild
# per scenario; each grandchild saves a first registry, then is SIGKILLed during its second save.
# The fork happens before any tensor operation, so no thread pool is copied half-way.
_CHILD_SCRIPT = """
import json, os, signal, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
import torch
torch.set_num_threads(1)
from conftest import FakeEncoder
from intentmeta import IntentClassifier, registry_files

root = Path({root!r})
real_replace, real_fsync_directory = os.replace, registry_files._fsync_directory

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def crash_mid_save(directory, crash_at):
    def replace(source, destination):
        name = Path(destination).name
        if (crash_at == "tensor_rename" and name.endswith(".safetensors")) or (
            crash_at == "manifest_rename" and name == registry_files.MANIFEST
        ):
            die()
        real_replace(source, destination)

    def fsync_directory(path):
        real_fsync_directory(path)
        if crash_at == "old_tensor_delete":
            die()

    clf = IntentClassifier(encoder=FakeEncoder(), oos_threshold=None)
    clf.add_intent("refund", ["money back please", "refund my money"])
    clf.save(directory)
    clf.add_intent("cancel", ["cancel my order"])
    clf.remove_intent("refund")
    registry_files.os.replace, registry_files._fsync_directory = replace, fsync_directory
    clf.save(directory)

def save_loop(directory, progress):
    clf = IntentClassifier(encoder=FakeEncoder(dim=256), oos_threshold=None)
    clf.add_intent("bulk", [f"bulk example number {{i}}" for i in range(1500)])
    step = 0
    while True:
        clf.add_intent(f"step{{step}}", [f"marker{{step}} words"])
        clf.save(directory)
        os.write(progress, f"{{step}}\\n".encode())
        step += 1

report = {{}}
for crash_at in ["tensor_rename", "manifest_rename", "old_tensor_delete", "save_loop"]:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            if crash_at == "save_loop":
                save_loop(root / crash_at, write_end)
            else:
                crash_mid_save(root / crash_at, crash_at)
        finally:
            os._exit(0)  # not reached when the kill lands
    os.close(write_end)
    last = -1
    if crash_at == "save_loop":
        with os.fdopen(read_end) as lines:
            for line in lines:
                last = int(line)
                if last >= 6:  # a few saves completed: kill the one in flight
                    os.kill(pid, signal.SIGKILL)
                    break
    else:
        os.close(read_end)
    _, status = os.waitpid(pid, 0)
    report[crash_at] = {{"killed": os.WIFSIGNALED(status), "last": last}}
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def crashed(tmp_path_factory) -> tuple[Path, dict]:
    """Registry directories left by processes killed mid-save, and what each child reported."""
    root = tmp_path_factory.mktemp("crashed")
    script = _CHILD_SCRIPT.format(tests=str(TESTS), root=str(root))
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return root, json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize(
    ("crash_at", "survivor"),
    [
        ("tensor_rename", "old"),  # killed with the new tensor file still a temporary
        ("manifest_rename", "old"),  # killed with the new tensor file in place, manifest not yet
        ("old_tensor_delete", "new"),  # killed after the manifest rename committed the save
    ],
)
def test_a_process_killed_mid_save_leaves_a_registry_that_loads(crashed, crash_at, survivor):
    root, report = crashed
    directory = root / crash_at
    assert report[crash_at]["killed"]
    loaded = IntentClassifier.load(directory, encoder=FakeEncoder())
    old = {"refund": ["money back please", "refund my money"]}
    new = {"cancel": ["cancel my order"]}
    expected = old if survivor == "old" else new
    assert contents(loaded) == expected
    examples = next(iter(expected.values()))
    assert loaded.predict(examples) == [next(iter(expected))] * len(examples)
    loaded.add_intent("greeting", ["hello there"])
    loaded.save(directory)  # the next save sweeps up what the killed one left
    assert_clean(directory)
    assert contents(IntentClassifier.load(directory, encoder=FakeEncoder())) == contents(loaded)


def test_sigkill_at_an_arbitrary_moment_of_a_save_loop_keeps_a_whole_registry(crashed):
    root, report = crashed
    assert report["save_loop"]["killed"]
    last = report["save_loop"]["last"]
    loaded = IntentClassifier.load(root / "save_loop", encoder=FakeEncoder(dim=256))
    steps = [name for name in loaded.intents if name.startswith("step")]
    # The save in flight when the kill landed may or may not have committed, but only whole.
    assert len(steps) in (last + 1, last + 2)
    assert steps == [f"step{i}" for i in range(len(steps))]
    assert len(loaded.examples("bulk")) == 1500
    newest = len(steps) - 1
    assert loaded.predict([f"marker{newest} words"]) == [f"step{newest}"]
