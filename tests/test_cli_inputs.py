"""CLI inputs checked at the edge: result files before the run, standard input as UTF-8."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pricer.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("option", ["--out", "--chart"])
def test_an_unwritable_result_file_is_refused_before_the_run(tmp_path, capsys, test_250, option):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    guesses = tmp_path / "guesses.csv"
    guesses.write_text("index,guess\n0,100\n")
    code = main(["score", "--data", str(test_250), "--size", "1", "--guesses", str(guesses), option,
                 str(blocker / "results")])
    out, err = capsys.readouterr()
    assert code == 2 and f"Choose another {option}" in err and "Error=" not in out  # no run happened


def test_tokenize_says_standard_input_that_is_not_utf8(tmp_path):
    result = subprocess.run([sys.executable, "-m", "pricer", "tokenize", "--text", "-"], input=b"price \xff\xfe",
                            capture_output=True, cwd=ROOT, timeout=120,
                            env={**os.environ, "PRICER_CACHE": str(tmp_path), "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 2, result.stderr[-1500:]
    assert b"standard input is not UTF-8 text (byte 6 is 0xff)" in result.stderr and b"Traceback" not in result.stderr
