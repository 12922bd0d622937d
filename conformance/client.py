"""The suite's raw test client: any bytes out, decoded packets in, every step in the wire log.

Strategy: a blocking socket with every wait bounded by the target's timeout (a hung broker
costs seconds, not the run).  Incoming bytes go through the strict decoder with peer="server",
so a broker that sends malformed bytes is caught in the act: the client records a
BROKER_VIOLATION event carrying the statement IDs and raises `BrokerViolation`.  No sleeps:
"nothing else happened" is proven with `barrier()` (PINGREQ, then everything up to the
PINGRESP), "the broker closes" with `expect_close()` (read to EOF, bounded).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from typing import TypeVar

from conformance.target import Target
from conformance.wirelog import EventKind, WireLog
from mqttspec import Connack, Connect, Decoder, Packet, Pingreq, Pingresp, ProtocolViolation, encode

P = TypeVar("P", bound=Packet)


class ClientError(Exception):
    """Something other than the expected packet came: the case decides what it means."""


class BrokerClosed(ClientError):
    pass


class WaitTimeout(ClientError):
    pass


class BrokerViolation(ClientError):
    def __init__(self, violation: ProtocolViolation) -> None:
        super().__init__(str(violation))
        self.violation = violation


class Unexpected(ClientError):
    def __init__(self, expected: str, packet: Packet) -> None:
        super().__init__(f"expected {expected}, received {packet!r}")
        self.packet = packet


class TestClient:
    __test__ = False  # not a pytest test class

    def __init__(self, target: Target, log: WireLog, name: str = "c1", level: int = 4) -> None:
        self.target = target
        self.log = log
        self.name = name
        self.level = level
        self.decoder = Decoder(level, peer="server", keep_raw=True)
        self.closed = False
        self.sock = self._open()

    def _open(self) -> socket.socket:
        t = self.target
        sock = socket.create_connection((t.host, t.port), timeout=t.timeout)
        if t.tls:
            context = ssl.create_default_context(cafile=t.cafile)
            sock = context.wrap_socket(sock, server_hostname=t.host)
        return sock

    # -- sending -------------------------------------------------------------------------------

    def send(self, packet: Packet | bytes, note: str = "") -> None:
        """A packet (strictly encoded) or raw bytes (written as they are)."""
        if isinstance(packet, bytes):
            raw, summary = packet, note or "raw bytes"
        else:
            raw, summary = encode(packet), repr(packet)
        self.log.add(self.name, EventKind.SENT, summary, raw)
        try:
            self.sock.sendall(raw)
        except OSError as exc:
            self._closed_by_broker(f"while sending: {exc}")
            raise BrokerClosed(f"connection closed by the broker ({exc})") from None

    def connect(self, client_id: str, **fields: object) -> Connack:
        """CONNECT (with the target's credentials unless given) and wait for the CONNACK."""
        fields.setdefault("username", self.target.username)
        fields.setdefault("password", self.target.password.encode() if self.target.password
                          else None)
        self.send(Connect(client_id=client_id, protocol_level=self.level, **fields))  # type: ignore[arg-type]
        return self.expect(Connack)

    # -- receiving -----------------------------------------------------------------------------

    def recv(self, timeout: float | None = None) -> Packet:
        """The next packet; raises BrokerClosed, WaitTimeout or BrokerViolation."""
        deadline = time.monotonic() + (self.target.timeout if timeout is None else timeout)
        while True:
            try:
                packet = self.decoder.next_packet()
            except ProtocolViolation as exc:
                self.log.add(self.name, EventKind.BROKER_VIOLATION, exc.detail,
                             statements=exc.statements)
                raise BrokerViolation(exc) from None
            if packet is not None:
                self.log.add(self.name, EventKind.RECEIVED, repr(packet), self.decoder.last_raw)
                return packet
            self.decoder.feed(self._read(deadline))

    def expect(self, cls: type[P], timeout: float | None = None) -> P:
        packet = self.recv(timeout)
        if not isinstance(packet, cls):
            raise Unexpected(cls.__name__, packet)
        return packet

    def barrier(self) -> list[Packet]:
        """PINGREQ, then every packet up to the PINGRESP: once it arrives the broker has
        processed all we sent before it, so what did not come has not happened."""
        self.send(Pingreq(protocol_level=self.level))
        before: list[Packet] = []
        while True:
            packet = self.recv()
            if isinstance(packet, Pingresp):
                return before
            before.append(packet)

    def expect_close(self, timeout: float | None = None) -> list[Packet]:
        """Read until the broker closes the connection; the packets it sent on the way (e.g.
        a DISCONNECT).  Raises WaitTimeout if it keeps the connection open."""
        deadline = time.monotonic() + (self.target.timeout if timeout is None else timeout)
        got: list[Packet] = []
        while True:
            try:
                got.append(self.recv(max(0.0, deadline - time.monotonic())))
            except BrokerClosed:
                return got

    def _read(self, deadline: float) -> bytes:
        if self.closed:
            raise BrokerClosed("connection already closed")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            self.log.add(self.name, EventKind.TIMEOUT, "no packet within the time limit")
            raise WaitTimeout("no packet within the time limit")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            self.log.add(self.name, EventKind.TIMEOUT, "no packet within the time limit")
            raise WaitTimeout("no packet within the time limit") from None
        except OSError as exc:  # reset by the broker
            self._closed_by_broker(str(exc))
            raise BrokerClosed(f"connection reset by the broker ({exc})") from None
        if not data:
            self._closed_by_broker("EOF")
            raise BrokerClosed("connection closed by the broker")
        return data

    def _closed_by_broker(self, how: str) -> None:
        if not self.closed:
            self.closed = True
            self.log.add(self.name, EventKind.CLOSED_BY_BROKER, how)

    # -- ending --------------------------------------------------------------------------------

    def close(self) -> None:
        """Half-close first (the broker sees EOF after all we sent), then close."""
        if not self.closed:
            self.closed = True
            self.log.add(self.name, EventKind.CLOSED_BY_US, "shutdown(SHUT_WR), close")
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_WR)
        self.sock.close()

    def __enter__(self) -> TestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
