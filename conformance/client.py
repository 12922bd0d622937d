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
from collections.abc import Callable
from typing import TypeVar

from conformance.target import Target, TargetError
from conformance.websocket import FrameViolation, WebSocket, open_websocket
from conformance.wirelog import EventKind, WireLog
from mqttspec import (
    NO_PROPERTIES,
    Connack,
    Connect,
    Decoder,
    Disconnect,
    Packet,
    Pingreq,
    Pingresp,
    Properties,
    ProtocolViolation,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Subscribe,
    Subscription,
    Unsuback,
    Unsubscribe,
    encode,
)

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
    """One connection to the broker.  Low level: `send` anything, `recv` / `expect` the next
    packet.  High level, for the behavioural cases: `subscribe`, `publish` (drives the QoS
    flow to its end), `expect_publish`, `ack`, `disconnect`."""

    __test__ = False  # not a pytest test class
    websocket_protocols: tuple[str, ...] = ("mqtt",)  # offered in the WebSocket handshake

    def __init__(self, target: Target, log: WireLog, name: str = "c1", level: int = 4,
                 on_retain: Callable[[str], None] | None = None, *,
                 transport: str = "tcp") -> None:
        if transport not in ("tcp", "websocket"):
            raise ValueError(f"transport {transport!r} is not 'tcp' or 'websocket'")
        self.target = target
        self.transport = transport  # "websocket": MQTT over WebSocket (section 6)
        self.log = log
        self.name = name
        self.level = level
        self.decoder = Decoder(level, peer="server", keep_raw=True)
        self.closed = False
        self.on_retain = on_retain  # told of every topic we publish a retained message to
        self._next_id = 0
        self.case_deadline = float("inf")  # monotonic time the whole case must end by
        self.connack: Connack | None = None  # set by CaseContext.connected
        self.held: list[Publish] = []  # PUBLISHes that came while we waited for an ack
        self.sock = self._open()

    def _open(self) -> socket.socket | WebSocket:
        t = self.target
        port = t.port
        if self.transport == "websocket":
            if t.websocket_port is None:
                raise TargetError("the target has no WebSocket port (websocket_port)")
            port = t.websocket_port
        sock = socket.create_connection((t.host, port), timeout=t.timeout)
        # each packet leaves at once: no Nagle delay waiting on the broker's delayed ACK
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if t.tls:
            context = ssl.create_default_context(cafile=t.cafile)
            sock = context.wrap_socket(sock, server_hostname=t.host)
        if self.transport == "websocket":
            try:
                return open_websocket(sock, t.host, port, t.websocket_path,
                                      protocols=self.websocket_protocols,
                                      on_event=lambda text: self.log.note(text, self.name))
            except BaseException:
                sock.close()
                raise
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
                             self.decoder.unread(), statements=exc.statements)
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
        now = time.monotonic()
        if now >= self.case_deadline:
            self.log.add(self.name, EventKind.TIMEOUT, "the case's time limit ran out")
            raise WaitTimeout(f"the case's time limit ({self.target.case_timeout} s) ran out")
        remaining = min(deadline, self.case_deadline) - now
        if remaining <= 0:
            self.log.add(self.name, EventKind.TIMEOUT, "no packet within the time limit")
            raise WaitTimeout("no packet within the time limit")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            self.log.add(self.name, EventKind.TIMEOUT, "no packet within the time limit")
            raise WaitTimeout("no packet within the time limit") from None
        except FrameViolation as exc:  # MQTT over WebSocket: a bad frame from the broker
            self.log.add(self.name, EventKind.BROKER_VIOLATION, exc.message,
                         statements=exc.statements)
            self.closed = True
            raise BrokerViolation(ProtocolViolation(exc.message, exc.statements)) from None
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

    def read_raw_until_close(self, timeout: float | None = None) -> tuple[bytes, bool]:
        """Every byte the broker sends until it closes the connection, undecoded (for an
        answer the client's protocol level cannot read, e.g. a CONNACK refusing a version
        it did not speak), and whether it closed (False: still open at the deadline)."""
        deadline = time.monotonic() + (self.target.timeout if timeout is None else timeout)
        data = bytearray()
        while True:
            try:
                chunk = self._read(deadline)
            except BrokerClosed:
                return bytes(data), True
            except WaitTimeout:
                return bytes(data), False
            self.log.add(self.name, EventKind.RECEIVED, "raw bytes (not decoded)", chunk)
            data += chunk


    # -- the usual flows -----------------------------------------------------------------------

    def packet_id(self) -> int:
        """The next Packet Identifier of ours (1..65535, wrapping)."""
        self._next_id = self._next_id % 65535 + 1
        return self._next_id

    def subscribe(self, *filters: str | Subscription, qos: int = 0,
                  properties: Properties = NO_PROPERTIES) -> Suback:
        """SUBSCRIBE to the filters (strings get `qos`) and wait for the SUBACK."""
        subs = tuple(f if isinstance(f, Subscription) else Subscription(topic_filter=f, qos=qos)
                     for f in filters)
        pid = self.packet_id()
        self.send(Subscribe(packet_id=pid, subscriptions=subs, properties=properties,
                            protocol_level=self.level))
        suback = self.expect(Suback)
        if suback.packet_id != pid:
            raise Unexpected(f"SUBACK for packet {pid}", suback)
        return suback

    def unsubscribe(self, *filters: str, properties: Properties = NO_PROPERTIES) -> Unsuback:
        pid = self.packet_id()
        self.send(Unsubscribe(packet_id=pid, topic_filters=filters, properties=properties,
                              protocol_level=self.level))
        unsuback = self.expect(Unsuback)
        if unsuback.packet_id != pid:
            raise Unexpected(f"UNSUBACK for packet {pid}", unsuback)
        return unsuback

    def publish(self, topic: str, payload: bytes = b"", qos: int = 0, retain: bool = False,
                properties: Properties = NO_PROPERTIES, complete: bool = True) -> Packet | None:
        """PUBLISH; with `complete`, wait for the PUBACK (QoS 1) or run PUBREC / PUBREL /
        PUBCOMP (QoS 2) and return the last acknowledgement.  Other packets arriving on the
        way (e.g. PUBLISHes to our own subscriptions) are kept for `expect_publish`."""
        pid = self.packet_id() if qos else None
        if retain and self.on_retain is not None:
            self.on_retain(topic)
        self.send(Publish(topic=topic, payload=payload, qos=qos, retain=retain, packet_id=pid,
                          properties=properties, protocol_level=self.level))
        if not qos or not complete:
            return None
        assert pid is not None
        if qos == 1:
            return self._expect_ack(Puback, pid)
        pubrec = self._expect_ack(Pubrec, pid)
        if self.level == 5 and pubrec.reason_code >= 0x80:
            return pubrec  # a refused QoS 2 flow ends here (MQTT 5 section 4.3.3)
        self.send(Pubrel(packet_id=pid, protocol_level=self.level))
        return self._expect_ack(Pubcomp, pid)

    def _expect_ack(self, cls: type[P], pid: int) -> P:
        while True:
            packet = self.recv()
            if isinstance(packet, cls) and getattr(packet, "packet_id", None) == pid:
                return packet
            if isinstance(packet, Publish):
                self.held.append(packet)
                continue
            raise Unexpected(f"{cls.__name__} for packet {pid}", packet)

    def expect_publish(self, timeout: float | None = None, ack: bool = True) -> Publish:
        """The next PUBLISH from the broker; with `ack`, acknowledge it as its QoS asks
        (QoS 2: PUBREC, then PUBCOMP once the PUBREL comes)."""
        packet = self.held.pop(0) if self.held else self.recv(timeout)
        if not isinstance(packet, Publish):
            raise Unexpected("PUBLISH", packet)
        if ack:
            self.ack(packet)
        return packet

    def ack(self, p: Publish) -> None:
        if p.qos == 1 and p.packet_id is not None:
            self.send(Puback(packet_id=p.packet_id, protocol_level=self.level))
        elif p.qos == 2 and p.packet_id is not None:
            self.send(Pubrec(packet_id=p.packet_id, protocol_level=self.level))
            pubrel = self._expect_ack(Pubrel, p.packet_id)
            self.send(Pubcomp(packet_id=pubrel.packet_id, protocol_level=self.level))

    def no_publish(self) -> list[Packet]:
        """Barrier, and return what came before the PINGRESP (plus PUBLISHes held back)."""
        held, self.held = self.held, []
        return [*held, *self.barrier()]

    def disconnect(self, reason_code: int = 0, properties: Properties = NO_PROPERTIES) -> None:
        """A normal DISCONNECT, then half-close."""
        self.send(Disconnect(reason_code=reason_code, properties=properties,
                             protocol_level=self.level))
        self.close()

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
