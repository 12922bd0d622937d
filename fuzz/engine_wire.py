"""The few bytes of MQTT the engine itself speaks, and the loopback rule.

Strategy: nothing is encoded per case.  `ConnectTemplates` encodes one valid CONNECT per
protocol level with `mqttspec.encode` and splices a fixed-width unique client ID into it;
`header` and `walk` read fixed headers only (packet type and Remaining Length), enough to find
the CONNACK's return code and the PINGRESP that answers the barrier without decoding anything
else the broker sends.  A case may send PINGREQs of its own: `pingreqs` counts them, and the
barrier is the PINGRESP after as many PINGRESPs as those (else the answer to the case's own
PINGREQ would pass for the barrier's, even when the broker then closed).  `loopback` refuses
any address outside 127.0.0.0/8 and ::1.  `quiet` and `linger0` are the two socket tricks:
is an idle connection still open and silent, and close with a reset (no TIME_WAIT here).
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import os
import socket
import struct

import mqttspec as ms

PINGREQ = b"\xc0\x00"
PINGREQ_TYPE = 12
PINGRESP_TYPE = 13
CONNACK_TYPE = 2
ID_DIGITS = 12  # client ID "fz" + 7-digit pid + 12-digit counter: 21 chars (MQTT 3.1 allows 23)


class NotLoopback(ValueError):
    """The engine only talks to 127.0.0.0/8 or ::1."""


def loopback(host: str) -> tuple[socket.AddressFamily, str]:
    """The address family and literal address of `host`, which must be a loopback address."""
    literal = "127.0.0.1" if host == "localhost" else host
    try:
        address = ipaddress.ip_address(literal)
    except ValueError:
        raise NotLoopback(f"{host!r} is not a loopback address (127.0.0.0/8 or ::1)") from None
    if not address.is_loopback:
        raise NotLoopback(f"{host} is not a loopback address (127.0.0.0/8 or ::1)")
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    return family, str(address)


class ConnectTemplates:
    """A valid CONNECT per protocol level, encoded once; `for_level` splices in a fresh,
    fixed-width client ID (so the Remaining Length never changes): the process ID, then a
    count shared by every engine of the process (forked workers have their own IDs)."""

    serial = itertools.count(1)  # one count per process: engines and probes never share IDs

    def __init__(self, keep_alive: int = 60) -> None:
        self.prefix = f"fz{os.getpid() % 10_000_000:07d}"
        placeholder = self.prefix + "0" * ID_DIGITS
        self.parts: dict[int, tuple[bytes, bytes]] = {}
        for level in (3, 4, 5):
            packet = ms.encode(ms.Connect(client_id=placeholder, protocol_level=level,
                                          keep_alive=keep_alive))
            at = packet.rindex(placeholder.encode())
            self.parts[level] = (packet[:at] + self.prefix.encode(),
                                 packet[at + len(placeholder):])

    def for_level(self, level: int) -> bytes:
        head, tail = self.parts.get(level, self.parts[4])
        return head + b"%012d" % (next(self.serial) % 10**ID_DIGITS) + tail


def header(data: bytes | bytearray, at: int) -> tuple[int, int] | None:
    """(where the body starts, Remaining Length) of the packet at `at`; None while the fixed
    header is incomplete; (-1, 0) when its Remaining Length runs over 4 bytes."""
    length = shift = 0
    pos, end = at + 1, len(data)
    while True:
        if pos >= end:
            return None
        if pos - at > 4:
            return -1, 0
        byte = data[pos]
        pos += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return pos, length


def walk(data: bytes | bytearray, start: int) -> tuple[int, list[int]]:
    """The first bytes of the complete MQTT packets in `data` from `start`, and where the
    first incomplete one begins (a Remaining Length over 4 bytes stops the walk there)."""
    firsts: list[int] = []
    at, end = start, len(data)
    while True:
        found = header(data, at)
        if found is None or found[0] < 0 or found[0] + found[1] > end:
            return at, firsts
        firsts.append(data[at])
        at = found[0] + found[1]


def pingreqs(frames: tuple[bytes, ...]) -> int:
    """How many complete PINGREQ-type packets the case itself sends (walking its frames as one
    stream, as the broker reads them): the barrier is the PINGRESP after those."""
    _, firsts = walk(b"".join(frames), 0)
    return sum(1 for first in firsts if first >> 4 == PINGREQ_TYPE)


def quiet(sock: socket.socket) -> bool:
    """True when an idle connection is open and has nothing to read."""
    try:
        sock.recv(1, socket.MSG_PEEK)  # returns: EOF, or bytes nobody asked for
        return False
    except (BlockingIOError, InterruptedError):
        return True
    except OSError:
        return False


def linger0(sock: socket.socket) -> None:
    """Close with a reset rather than FIN (no TIME_WAIT on our side)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
