"""`python -m reference_broker` as a subprocess for tests: started, read up to its
"listening on" line (bounded), always stopped."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def broker_process(*args: str, max_lines: int = 200
                   ) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """The process and its start-up lines, the last being "listening on HOST:PORT"."""
    proc = subprocess.Popen([sys.executable, "-m", "reference_broker", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        for _ in range(max_lines):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("listening on "):
                break
        assert lines and lines[-1].startswith("listening on 127.0.0.1:"), "".join(lines)
        yield proc, lines
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
