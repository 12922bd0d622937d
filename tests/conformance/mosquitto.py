"""Mosquitto from the Debian package, started for a test on 127.0.0.1 (and optionally a
WebSocket listener): a free port is picked by binding port 0, written to a config file in a
temporary directory, and the broker is awaited (bounded) and always stopped.  Absent binary:
the test is skipped."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def mosquitto(workdir: Path, extra: str = "", websocket: bool = False
              ) -> Iterator[tuple[int, int | None]]:
    """(TCP port, WebSocket port or None)."""
    binary = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if binary is None:
        pytest.skip("mosquitto is not installed (apt-get install -y mosquitto)")
    port = free_port()
    ws_port = free_port() if websocket else None
    ws = f"listener {ws_port} 127.0.0.1\nprotocol websockets\n" if websocket else ""
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"per_listener_settings false\nallow_anonymous true\npersistence false\n"
                    f"log_dest stderr\nlistener {port} 127.0.0.1\n{ws}{extra}",
                    encoding="utf-8")
    log = (workdir / "mosquitto.log").open("w")
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("mosquitto did not start: " + (
                        workdir / "mosquitto.log").read_text()[-500:]) from None
                time.sleep(0.05)
        yield port, ws_port
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def version() -> str:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    out = subprocess.run([binary, "-h"], capture_output=True, text=True, timeout=10,
                         check=False).stdout
    return out.splitlines()[0] if out else "unknown"
