"""``intentmeta classify-file``: killed with SIGKILL part-way, a rerun writes every row once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_log_classification import read_output, rows, write_input

from intentmeta.cli import main
from intentmeta.log_classification import state_path

# The CLI in a subprocess, on the fake encoder slowed to DELAY seconds per batch.
DRIVER = """
import sys, time
sys.path.insert(0, {tests!r})
from conftest import FakeEncoder
from intentmeta import IntentClassifier, log_classification
from intentmeta.cli import main

class SlowEncoder(FakeEncoder):
    def encode(self, texts, **kwargs):
        time.sleep({delay})
        return super().encode(texts, **kwargs)

def load(registry, backend="torch", top_k=5, encoder=None):
    return IntentClassifier.load(registry, encoder=SlowEncoder())

log_classification.load_classifier = load
sys.exit(main(sys.argv[1:]))
"""


def run_cli(args: list[str], delay: float) -> subprocess.Popen:
    code = DRIVER.format(tests=str(Path(__file__).parent), delay=delay)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


@pytest.fixture
def registry(tmp_path, toy_classifier) -> Path:
    toy_classifier.save(tmp_path / "registry")
    return tmp_path / "registry"


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_kill_9_halfway_then_rerun_gives_every_row_exactly_once(tmp_path, registry, fmt):
    source, out = tmp_path / f"in.{fmt}", tmp_path / f"out.{fmt}"
    records = rows(60)
    write_input(source, records)
    args = ["classify-file", str(source), "--registry", str(registry), "--out", str(out),
            "--batch-size", "4", "--quiet"]  # fmt: skip
    process = run_cli(args, delay=0.15)
    deadline = time.monotonic() + 60
    done = 0
    while time.monotonic() < deadline and process.poll() is None:
        if state_path(out).exists():
            done = json.loads(state_path(out).read_text())["rows"]
            if done >= 4:  # the first batch is written and recorded
                break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()
    assert 4 <= done < len(records)

    rerun = run_cli(args, delay=0)
    stdout, stderr = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, stderr.decode()
    assert "resumed after" in stdout.decode()
    written = read_output(out)
    assert [r["ticket"] for r in written] == [r["ticket"] for r in records]
    assert all(r["intent"] for r in written)


def test_cli_errors_are_one_line_with_status_2(tmp_path, registry, capsys):
    source = tmp_path / "in.csv"
    write_input(source, rows(3))
    out = str(tmp_path / "out.csv")
    cases = [
        (["classify-file", str(source), "--registry", str(registry), "--out", out,
          "--text-column", "nope"], "has no column 'nope'"),
        (["classify-file", str(tmp_path / "in.txt"), "--registry", str(registry), "--out", out],
         "cannot tell the format"),
        (["classify-file", str(source), "--registry", str(tmp_path / "none"), "--out", out],
         "none"),
        # A registry never chooses the encoder that is loaded: it must be named.
        (["classify-file", str(source), "--registry", str(registry), "--out", out],
         "made with the encoder 'fake-bag-of-words'"),
    ]  # fmt: skip
    for argv, message in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("intentmeta classify-file: error:") and message in err
    assert not (tmp_path / "out.csv").exists()


def test_a_rerun_of_a_finished_job_says_it_is_complete_and_errors_name_the_flag(
    tmp_path, registry, capsys, monkeypatch, toy_classifier
):
    from intentmeta import log_classification

    monkeypatch.setattr(log_classification, "load_classifier", lambda *a, **k: toy_classifier)
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    write_input(source, rows(3))
    argv = ["classify-file", str(source), "--registry", str(registry), "--out", str(out), "--quiet"]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(argv) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == f"3 rows -> {out} (already complete: nothing to do)"
    assert main([*argv, "--top-k", "2"]) == 2
    err = capsys.readouterr().err
    assert "rerun with the same settings, or pass --overwrite to start again" in err
    assert main([*argv, "--top-k", "2", "--overwrite"]) == 0


def test_a_registry_file_instead_of_its_directory_names_the_directory(tmp_path, registry, capsys):
    source = tmp_path / "in.csv"
    write_input(source, rows(3))
    argv = ["classify-file", str(source), "--registry", str(registry / "intentmeta.json")]
    assert main([*argv, "--out", str(tmp_path / "out.csv")]) == 2
    assert f"did you mean --registry {str(registry)!r}?" in capsys.readouterr().err
