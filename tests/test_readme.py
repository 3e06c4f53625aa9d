"""The README's quick-start must run exactly as written, offline."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.integration
def test_readme_quick_start_runs_as_written(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert blocks, "the README has no Python quick-start"
    script = tmp_path / "quick_start.py"
    script.write_text(blocks[0])
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("track_order ")
    assert (tmp_path / "my_intents" / "intentmeta.json").is_file()


@pytest.mark.integration
def test_readme_report_and_discover_example_runs_as_written(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    example = next(block for block in blocks if "clf.discover(" in block)
    script = tmp_path / "report_and_discover.py"
    script.write_text(example)
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    assert "return_item" in result.stdout  # the planted mislabel's better intent
    assert (tmp_path / "report.html").is_file()
