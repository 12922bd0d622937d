"""Broker profiles: how to start a broker on 127.0.0.1 on a free port, read its version, say
what it offers, and stop it.

Strategy: a `Profile` is a small object per broker, one file each under interop/profiles/
(adding a broker is adding a file there).  `start(workdir)` returns a `RunningBroker`: the
address the suite aims at, the version string, the protocol versions and 3.x capabilities the
broker offers, and the handle that stops it.  Brokers we launch as processes go through
`launch()`: a port the OS picked (bound on 0, then handed to the broker's config), the
process awaited until it accepts TCP connections (bounded), its log kept in the work directory
so a broker that does not come up, or dies mid-run, is reported with its last log lines.
A broker that cannot run here raises `BrokerUnavailable` with one line saying how to provide
it; one that fails raises `BrokerFailed`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from conformance.target import Capabilities, Target

HOST = "127.0.0.1"


class BrokerUnavailable(Exception):
    """The broker cannot run on this machine; the message says how to provide it."""


class BrokerFailed(Exception):
    """The broker was started but did not come up; the message ends with its last log lines."""


class Profile(Protocol):
    name: str
    description: str

    def available(self) -> str | None:
        """None when the broker can run here, else one line saying how to provide it."""

    def version(self) -> str:
        """The broker's name and version as it reports them."""

    def start(self, workdir: Path) -> RunningBroker:
        """The broker listening on 127.0.0.1 (raises BrokerUnavailable / BrokerFailed)."""


@dataclass
class Process:
    """A broker process we started, with its combined stdout/stderr log."""

    popen: subprocess.Popen[bytes]
    log: Path

    def exit_status(self) -> str | None:
        """None while running, else how it ended ("exit code 1", "killed by SIGSEGV")."""
        code = self.popen.poll()
        if code is None:
            return None
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit code {code}"

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


@dataclass
class RunningBroker:
    name: str
    version: str
    port: int
    host: str = HOST
    levels: tuple[int, ...] = (3, 4, 5)  # what the profile says it offers (probed anyway)
    capabilities: Capabilities | None = None  # for MQTT 3.x (None: the base target's)
    websocket_port: int | None = None
    websocket_path: str = "/mqtt"
    denied_topic: str | None = None  # a topic its ACL refuses, for the authorisation cases
    process: Process | None = None  # None: in-process or not ours to stop
    stop_hook: Callable[[], None] | None = None

    def target(self, base: Target | None = None, levels: Sequence[int] | None = None
               ) -> Target:
        """The suite's target for this broker (versions limited to `levels` when given); what
        the broker does not say (capabilities, WebSocket listener, denied topic) is `base`'s."""
        wanted = tuple(lv for lv in self.levels if levels is None or lv in levels)
        changes: dict[str, Any] = {"host": self.host, "port": self.port, "levels": wanted}
        if self.capabilities is not None:
            changes["capabilities"] = self.capabilities
        if self.websocket_port is not None:
            changes["websocket_port"] = self.websocket_port
            changes["websocket_path"] = self.websocket_path
        if self.denied_topic:
            changes["denied_topic"] = self.denied_topic
        return replace(base or Target(), **changes)

    def death(self) -> str | None:
        """None while the broker runs, else one line: how it ended and its last log line."""
        if self.process is None:
            return None
        status = self.process.exit_status()
        if status is None:
            return None
        tail = self.log_tail(1)
        return f"{self.name} stopped during the run ({status})" + (
            f": {tail[0]}" if tail else "")

    def log_tail(self, lines: int = 10) -> list[str]:
        if self.process is None:
            return []
        return log_tail(self.process.log, lines)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
        if self.stop_hook is not None:
            self.stop_hook()


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While the block runs, SIGTERM (a CI job cancelled, `kill`) raises KeyboardInterrupt
    like Ctrl-C, so the `finally` blocks that stop the brokers we started still run; Python's
    default would end the process at once and leave them running.  Main thread only (where
    Python delivers signals); elsewhere it does nothing.  While `launch()` starts a process
    and takes it in hand, the interrupt is held back (`_held`) and raised just after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Held:
    """SIGTERM held back by `launch()` between starting a process and guarding it."""

    depth = 0
    pending = False


def _interrupt(signum: int, frame: Any) -> None:
    if _Held.depth:
        _Held.pending = True
        return
    raise KeyboardInterrupt(f"signal {signum}")


def _hold() -> bool:
    """Hold back SIGTERM's interrupt (main thread only, where it would be raised)."""
    if threading.current_thread() is not threading.main_thread():
        return False
    _Held.depth += 1
    return True


def _release(held: bool) -> None:
    """Stop holding; an interrupt that came meanwhile is raised now."""
    if not held:
        return
    _Held.depth -= 1
    if not _Held.depth and _Held.pending:
        _Held.pending = False
        raise KeyboardInterrupt("SIGTERM while a broker process was starting")


def log_tail(path: Path, lines: int = 10) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [line for line in text.strip().splitlines() if line.strip()][-lines:]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that the OS just handed out (for brokers that need a number)."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` distinct ports the OS just handed out (all held open until all are picked)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind((HOST, 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def launch(name: str, command: Sequence[str], workdir: Path, port: int,
           ready_timeout: float = 20.0, env: dict[str, str] | None = None,
           cwd: Path | None = None) -> Process:
    """Start `command`, wait until 127.0.0.1:`port` accepts connections; BrokerFailed with
    the broker's last log lines when it exits first or the wait runs out."""
    log = workdir / f"{name}.log"
    held = _hold()  # a SIGTERM now must not leave a process that nobody holds
    with log.open("wb") as out:
        try:
            popen = subprocess.Popen(list(command), stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=cwd or workdir,
                                     env={**os.environ, **(env or {})})
        except OSError as exc:
            _release(held)
            raise BrokerUnavailable(f"{name}: cannot run {command[0]}: {exc.strerror}") from None
    process = Process(popen, log)
    try:  # whatever ends the wait (BrokerFailed, Ctrl-C, SIGTERM) stops the process
        _release(held)
        _await_listener(name, process, port, ready_timeout)
    except BaseException:
        process.stop()
        raise
    return process


def _await_listener(name: str, process: Process, port: int, ready_timeout: float) -> None:
    deadline = time.monotonic() + ready_timeout
    while True:
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return
        except OSError:
            pass
        status = process.exit_status()
        if status is not None or time.monotonic() > deadline:
            tail = log_tail(process.log, 5)
            why = status and f"exited ({status})" or f"did not listen within {ready_timeout:.0f} s"
            if any("in use" in line.lower() for line in tail):
                why = f"could not listen: port {port} is in use"
            raise BrokerFailed(f"{name} {why}" + (": " + " | ".join(tail) if tail else ""))
        time.sleep(0.05)
