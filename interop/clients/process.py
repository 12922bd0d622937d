"""Client programs run as subprocesses, every wait bounded, every process ended by its owner.

Strategy: a `ClientProcess` starts a command with its stdout and stderr on pipes read by two
threads; each chunk goes to a parser the adapter gives (payloads may be binary, so parsers
see bytes), and each complete text line goes to the scenario log under the program's name.
`finish(timeout)` waits for a program that ends by itself and kills it when the time runs
out; `terminate()` is the normal end of a long-running client (SIGTERM: the sample programs
send DISCONNECT on it), `kill()` the abnormal one (SIGKILL: the kernel closes the socket, the
broker sees the connection drop without DISCONNECT).  Each program gets a process group of
its own, and signals go to the group; a long-running client also carries a time limit of its
own (`LIFETIME`, see `bounded()`), so not even a harness killed mid-run leaves it behind.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from typing import IO

from interop.clients.model import ClientFailure, ScenarioLog

Parser = Callable[[bytearray], None]  # consumes what it understood from the front of the buffer

LOG_SKIP = (b"Trace : 3,",)  # the Paho C trace banner: build details, not protocol
LIFETIME = 120  # seconds a long-running client may live, whatever happens to us


def bounded(argv: Sequence[str | bytes]) -> list[str | bytes]:
    """`argv` run under coreutils' timeout: killed after LIFETIME seconds."""
    return ["timeout", "-s", "KILL", str(LIFETIME), *argv]


class ClientProcess:
    def __init__(self, argv: Sequence[str | bytes], log: ScenarioLog, name: str,
                 on_stdout: Parser | None = None, on_stderr: Parser | None = None,
                 stdin: bool = False, on_exit: Callable[[int], None] | None = None,
                 fatal: re.Pattern[bytes] | None = None) -> None:
        self.name = name
        self.log = log
        self.on_exit = on_exit
        self.fatal = fatal  # an output line that means "failed": the program is killed
        self.fatal_line: str | None = None
        shown = " ".join(a.decode(errors="replace") if isinstance(a, bytes) else a
                         for a in argv)
        log.add(name, f"$ {shown}")
        try:
            self.popen = subprocess.Popen(
                list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                start_new_session=True)
        except OSError as exc:
            raise RuntimeError(f"cannot run {shown.split()[0]}: {exc.strerror}") from None
        self.stderr_lines: list[str] = []
        self._open_pipes = 2
        self._lock = threading.Lock()
        self._readers = [
            threading.Thread(target=self._read, args=(self.popen.stdout, on_stdout, None),
                             daemon=True),
            threading.Thread(target=self._read,
                             args=(self.popen.stderr, on_stderr, self.stderr_lines),
                             daemon=True)]
        for reader in self._readers:
            reader.start()

    def _read(self, pipe: IO[bytes] | None, parse: Parser | None,
              keep: list[str] | None) -> None:
        assert pipe is not None
        buffer, lines = bytearray(), bytearray()
        while chunk := os.read(pipe.fileno(), 65536):
            lines += chunk
            *complete, rest = lines.split(b"\n")
            lines = bytearray(rest)
            for line in complete:
                self._note(line, keep)
            if parse is not None:
                buffer += chunk
                parse(buffer)
        if lines:
            self._note(lines, keep)
        pipe.close()
        self._ended()

    def _note(self, line: bytes | bytearray, keep: list[str] | None) -> None:
        if line.startswith(LOG_SKIP) or not line.strip():
            return
        text = line.decode("utf-8", errors="replace").rstrip("\r")
        if keep is not None:
            keep.append(text)
        self.log.add(self.name, text)
        if self.fatal is not None and self.fatal_line is None and self.fatal.search(line):
            self.fatal_line = text
            self.abort()  # it would retry for ever

    def _ended(self) -> None:
        with self._lock:
            self._open_pipes -= 1
            last = self._open_pipes == 0
        if last and self.on_exit is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.on_exit(self.popen.wait(5))

    # -- input -------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        assert self.popen.stdin is not None
        try:
            self.popen.stdin.write(data)
            self.popen.stdin.flush()
        except OSError as exc:
            raise ClientFailure(f"{self.name} is no longer reading commands ({exc})") from None

    # -- ending ------------------------------------------------------------------------------

    def finish(self, timeout: float) -> int:
        """The exit code of a program that ends by itself; killed when `timeout` runs out."""
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise ClientFailure(f"{self.name} did not finish within {timeout:g} s"
                                + self.last_error()) from None
        self._join()
        self.log.add(self.name, f"exited with code {code}")
        return code

    def terminate(self, timeout: float) -> int:
        """SIGTERM, the normal end of a long-running client; SIGKILL if it lingers."""
        self._signal(signal.SIGTERM)
        return self.finish(timeout)

    def kill(self) -> None:
        """SIGKILL: no DISCONNECT, the kernel closes the connection."""
        if self._signal(signal.SIGKILL):
            self.log.add(self.name, "killed with SIGKILL")
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(5)
        self._join()

    def _signal(self, sig: int) -> bool:
        """Signal the program's process group (it and a `timeout` wrapper, if any)."""
        if self.popen.poll() is not None:
            return False
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)
        return True

    def abort(self) -> None:
        """SIGKILL without waiting (safe from the program's own output readers)."""
        self._signal(signal.SIGKILL)

    def _join(self) -> None:
        for reader in self._readers:
            if reader is not threading.current_thread():
                reader.join(5)
        if self.popen.stdin is not None:
            with contextlib.suppress(OSError):
                self.popen.stdin.close()

    def last_error(self) -> str:
        return f": {self.stderr_lines[-1]}" if self.stderr_lines else ""

    def running(self) -> bool:
        return self.popen.poll() is None


def run_ok(argv: Sequence[str | bytes], log: ScenarioLog, name: str, timeout: float,
           fatal: re.Pattern[bytes] | None = None) -> None:
    """Run a one-shot client program; ClientFailure unless it exits with code 0 (or when it
    prints a `fatal` line)."""
    process = ClientProcess(argv, log, name, fatal=fatal)
    code = process.finish(timeout)
    if process.fatal_line is not None:
        raise ClientFailure(f"{name}: {process.fatal_line}")
    if code != 0:
        raise ClientFailure(f"{name} exited with code {code}{process.last_error()}")
