"""Strict nbval catches drift: a saved output that no longer matches fails.

Runs nbval, with the project's sanitize file and nothing else from the
project's pytest settings, on copies of a small notebook (tests/data/): the
unchanged copy passes, including its memory address and timing that differ on
every run, and a copy with one saved number changed fails.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "tests" / "data" / "drift_check.ipynb"
SANITIZE = ROOT / "nbval_sanitize.cfg"


def run_nbval(notebook):
    """nbval in strict mode on one notebook, in its own folder; the finished process."""
    ini = notebook.parent / "pytest.ini"
    ini.write_text("[pytest]\n")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(ini), "-p", "no:cacheprovider",
         "--nbval", "--nbval-current-env", "--nbval-sanitize-with", str(SANITIZE), str(notebook)],
        cwd=notebook.parent, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_unaltered_notebook_passes(tmp_path):
    copy = tmp_path / NOTEBOOK.name
    shutil.copy(NOTEBOOK, copy)
    result = run_nbval(copy)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "4 passed" in result.stdout


@pytest.mark.slow
def test_altered_output_fails(tmp_path):
    nb = json.loads(NOTEBOOK.read_text())
    altered = 0
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            if output.get("name") == "stdout" and "".join(output["text"]) == "26\n":
                output["text"] = ["27\n"]
                altered += 1
    assert altered == 1, "the fixture notebook should print 26 once"
    copy = tmp_path / NOTEBOOK.name
    copy.write_text(json.dumps(nb, indent=1))

    result = run_nbval(copy)
    assert result.returncode == 1, result.stdout[-4000:] + result.stderr[-2000:]
    assert "1 failed, 3 passed" in result.stdout
    assert "27" in result.stdout and "26" in result.stdout   # nbval shows expected and got
