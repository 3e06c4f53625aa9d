"""The README's "Classifying a log" examples run as written (Python and command line)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from intentmeta.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def log_section_blocks(language: str) -> list[str]:
    """The code blocks of one language in the README's "Classifying a log" section."""
    text = README.read_text()
    section = text[text.index("## Classifying a log") :]
    section = section[: section.index("\n## ", 1)]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.DOTALL)


def cli_commands(*, spark: bool) -> list[list[str]]:
    """The section's ``intentmeta`` command lines (continuations joined), Spark ones or not."""
    joined = log_section_blocks("bash")[0].replace("\\\n", " ")
    commands = [shlex.split(line) for line in joined.splitlines() if line.startswith("intentmeta")]
    return [c for c in commands if ("--engine" in c and "spark" in c) == spark]


def run_python_example(directory: Path) -> subprocess.CompletedProcess:
    script = directory / "classify_a_log.py"
    script.write_text(log_section_blocks("python")[0])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, str(script)], cwd=directory, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


@pytest.mark.integration
def test_readme_log_examples_run_as_written(tmp_path, monkeypatch, capsys):
    result = run_python_example(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "3 rows -> tickets_classified.csv" in result.stdout
    assert "track_order" in result.stdout and "refund" in result.stdout

    monkeypatch.chdir(tmp_path)
    commands = cli_commands(spark=False)
    assert len(commands) == 2
    for command in commands:
        assert command[0] == "intentmeta"
        assert main(command[1:]) == 0, capsys.readouterr().err
        assert "3 rows ->" in capsys.readouterr().out
    assert len((tmp_path / "tickets.jsonl").read_text().splitlines()) == 3
    assert (tmp_path / "tickets_labelled.parquet").is_file()
