"""Crash findings are reduced to the one case that kills the broker, by restarting it per try."""

from __future__ import annotations

import sys
from pathlib import Path

from fuzz.campaign import crashes, minimised_crash
from fuzz.case import Expect, Finding, FuzzCase
from interop.brokers import RunningBroker, free_port, launch

# A broker that answers CONNECT and PINGREQ, and dies (exit 3) on the bytes DE AD.
FRAGILE = r"""
import os, socket, sys, threading
server = socket.create_server(("127.0.0.1", int(sys.argv[1])))
def serve(conn):
    seen = b""
    while data := conn.recv(4096):
        if not seen:
            conn.sendall(b"\x20\x02\x00\x00")  # CONNACK to the CONNECT
        seen += data
        if b"\xde\xad" in seen:
            os._exit(3)
        if b"\xc0\x00" in data:
            conn.sendall(b"\xd0\x00")  # PINGRESP
    conn.close()
while True:
    c, _ = server.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""


class Fragile:
    name = "fragile"
    description = "a broker that dies on DE AD"

    def available(self) -> str | None:
        return None

    def version(self) -> str:
        return "fragile 1"

    def start(self, workdir: Path) -> RunningBroker:
        port = free_port()
        script = workdir / "fragile.py"
        script.write_text(FRAGILE)
        process = launch(self.name, [sys.executable, str(script), str(port)], workdir, port)
        return RunningBroker(self.name, self.version(), port, process=process)


def case(seed: int, frame: bytes) -> FuzzCase:
    return FuzzCase(seed, 4, (frame,), generator="mutate:bitflip", expect=Expect.ANY)


def test_the_killing_case_is_found_among_the_suspects() -> None:
    harmless = [case(i, bytes([0x30, 0x03, 0x00, 0x01, 0x61])) for i in range(5)]
    killer = case(99, bytes.fromhex("30 05 00 01 61 de ad"))
    suspects = [*harmless[:3], killer, *harmless[3:]]
    assert crashes(Fragile(), suspects) and not crashes(Fragile(), harmless)
    finding = Finding("crash", "crash|exit code 3|mutate:bitflip", harmless[0], "fragile",
                      "fragile 1", "died", {"suspects": [{"case": c.to_json()}
                                                         for c in reversed(suspects)]})
    small = minimised_crash(finding, Fragile(), max_runs=40)
    assert small.evidence["minimised"] is True
    [only] = small.evidence["reproducer"]
    assert FuzzCase.from_json(only).seed == 99 and b"\xde\xad" in small.case.frames[0]
    assert len(small.case.frames[0]) < len(killer.frames[0])  # bytes trimmed too
