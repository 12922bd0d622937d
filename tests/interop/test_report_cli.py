"""`python -m interop.report`: one line and exit status 2 on bad input, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from interop.report.__main__ import main
from tests.interop.report_support import write_sample

REPO = Path(__file__).resolve().parents[2]


def test_renders_and_says_where(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(write_sample(tmp_path / "results")), str(tmp_path / "out"),
                 "--logs", "problems"]) == 0
    assert capsys.readouterr().out.startswith("wrote ")
    assert (tmp_path / "out" / "index.html").is_file()


@pytest.mark.parametrize("content", [None, "{broken", '{"schema": "something-else"}'])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          content: str | None) -> None:
    results = tmp_path / "results"
    if content is not None:
        results.mkdir()
        (results / "x.json").write_text(content, encoding="utf-8")
    assert main([str(results), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("interop.report: ") and err.count("\n") == 1
    assert "Traceback" not in err


def test_module_entry_point(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "interop.report", str(tmp_path / "absent"),
                           str(tmp_path / "out")], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().endswith("absent: no such directory")
    assert "Traceback" not in done.stderr
