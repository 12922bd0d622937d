"""Many small MQTT clients on one thread: sockets, the strict codec, and the QoS flows.

Strategy: `Net` owns every connection of a run and one `selectors` loop.  Reads are driven by
readiness (nothing is read until `poll`/`wait` runs, so the runner decides when time passes);
writes are blocking with a timeout (the packets are small).  Each `Conn` decodes with
`Decoder(level, peer="server")`, so anything the broker sends that the spec forbids is noticed
(the decoder's `ProtocolViolation`).  The client side of the protocol is done here, by the book,
so that the model only sees application messages:
- QoS 1 PUBLISH in: delivered, PUBACK; QoS 2 PUBLISH in: delivered once, PUBREC, and its Packet
  Identifier kept until PUBREL (a re-sent PUBLISH with it is not delivered again, MQTT-4.3.3-10
  in 5.0 / MQTT-4.3.3-2 in 3.1.1), PUBREL -> PUBCOMP;
- our QoS 1/2 PUBLISH: kept in the client session (`ClientState.outbound`) until PUBACK or
  PUBCOMP; PUBREC -> PUBREL; re-sent in order with DUP on resumption (MQTT-4.4.0-1).
A `ClientState` is the client's half of a session: it survives connections when the broker
says Session Present, and is replaced otherwise.  Each connection keeps a short log of the
packets both ways for a finding's evidence.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from mqttspec import (
    Connack,
    Disconnect,
    Packet,
    Pingreq,
    Pingresp,
    ProtocolViolation,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Unsuback,
    encode,
)
from mqttspec.decoder import Decoder

LOG_LINES = 48
READ_SIZE = 65536


@dataclass(slots=True)
class Outbound:
    """One of our QoS 1/2 messages not yet completely acknowledged."""

    publish: Publish
    mid: str
    stage: str = "publish"  # "pubrel": PUBREC received, PUBREL sent, waiting for PUBCOMP


@dataclass(slots=True)
class ClientState:
    """The client's session state (MQTT 5 / 3.1.1 section 4.1), kept across connections."""

    inbound_qos2: set[int] = field(default_factory=set)  # PUBREC sent, no PUBREL yet
    outbound: dict[int, Outbound] = field(default_factory=dict)  # in send order
    last_id: int = 0

    def next_packet_id(self) -> int:
        """A Packet Identifier free among our unacknowledged messages (MQTT-2.2.1-3 / 2.3.1-2)."""
        for _ in range(0xFFFF):
            self.last_id = self.last_id % 0xFFFF + 1
            if self.last_id not in self.outbound:
                return self.last_id
        raise RuntimeError("all 65535 Packet Identifiers are in use")


def describe(p: Packet) -> str:
    """A one-line summary of a packet for logs."""
    name = type(p).__name__.upper()
    if isinstance(p, Publish):
        flags = f"q{p.qos}" + (" r" if p.retain else "") + (" dup" if p.dup else "")
        pid = f" id={p.packet_id}" if p.packet_id is not None else ""
        return f"PUBLISH {flags}{pid} {p.topic} {p.payload[-24:]!r}"
    if isinstance(p, Connack):
        return f"CONNACK present={int(p.session_present)} code=0x{p.reason_code:02X}"
    if isinstance(p, Suback | Unsuback):
        return f"{name} id={p.packet_id} codes={list(p.reason_codes)}"
    if isinstance(p, Puback | Pubrec | Pubrel | Pubcomp):
        code = f" code=0x{p.reason_code:02X}" if p.reason_code else ""
        return f"{name} id={p.packet_id}{code}"
    if isinstance(p, Disconnect):
        return f"DISCONNECT code=0x{p.reason_code:02X}"
    return name


class Conn:
    """One network connection of one client."""

    def __init__(self, net: Net, serial: int, slot: int, client_id: str, level: int,
                 state: ClientState, sock: socket.socket) -> None:
        self.net = net
        self.serial = serial
        self.slot = slot  # -1 for probe and cleanup connections
        self.client_id = client_id
        self.level = level
        self.state = state
        self.sock: socket.socket | None = sock
        self.decoder = Decoder(level, peer="server")
        self.log: deque[str] = deque(maxlen=LOG_LINES)
        self.opened_at = net.clock()
        self.last_sent = self.opened_at
        self.keep_alive = 0
        self.connack: Connack | None = None
        self.replies: dict[int, Suback | Unsuback] = {}
        self.pings_sent = 0
        self.pings_answered = 0
        self.ping_times: deque[float] = deque()  # when each unanswered PINGREQ left
        self.server_disconnect: Disconnect | None = None
        self.closed_at: float | None = None
        self.closed_by = ""  # "client" or "server"
        self.close_detail = ""
        self.expect_close = False  # the broker closing it is expected (takeover, DISCONNECT)
        self.received: list[Publish] = []  # probe connections: what arrived, in order

    @property
    def open(self) -> bool:
        return self.closed_at is None

    @property
    def ping_since(self) -> float | None:
        """When the oldest unanswered PINGREQ was sent."""
        return self.ping_times[0] if self.ping_times else None

    def name(self) -> str:
        return f"conn{self.serial} {self.client_id} v{self.level}"

    def note(self, arrow: str, text: str) -> None:
        self.log.append(f"{self.net.clock() - self.net.started:9.3f} {arrow} {text}")

    def send(self, packet: Packet) -> bool:
        """Write one packet; False (and the connection closed) when the socket fails."""
        if self.sock is None:
            return False
        data = encode(packet, verify=False)
        try:
            self.sock.sendall(data)
        except OSError as exc:
            self.note("!!", f"send failed: {exc}")
            self.net.lost(self, f"send failed: {exc.strerror or exc}")
            return False
        self.last_sent = self.net.clock()
        self.note("->", describe(packet))
        if isinstance(packet, Pingreq):
            self.pings_sent += 1
            self.ping_times.append(self.last_sent)
        return True

    def ping(self) -> int:
        """Send PINGREQ; the number of PINGRESP that will answer it."""
        self.send(Pingreq(protocol_level=self.level))
        return self.pings_sent


PublishHandler = Callable[[Conn, Publish], None]
AckHandler = Callable[[Conn, Outbound, int], None]
CloseHandler = Callable[[Conn], None]


class Net:
    """Every connection of a run, and the one loop that reads them."""

    def __init__(self, host: str, port: int, *, on_publish: PublishHandler,
                 on_done: AckHandler, on_close: CloseHandler, connect_timeout: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.host, self.port = host, port
        self.on_publish, self.on_done, self.on_close = on_publish, on_done, on_close
        self.connect_timeout = connect_timeout
        self.clock = clock
        self.started = clock()
        self.selector = selectors.DefaultSelector()
        self.conns: dict[int, Conn] = {}
        self.closed: deque[Conn] = deque(maxlen=256)  # recently closed, for evidence
        self._serial = 0

    def open(self, slot: int, client_id: str, level: int, state: ClientState
             ) -> Conn | str:
        """A new TCP connection, or one line saying why there is none."""
        try:
            sock = socket.create_connection((self.host, self.port), self.connect_timeout)
        except OSError as exc:
            return f"TCP connect failed: {exc.strerror or exc}"
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self.connect_timeout)  # bounds blocking writes
        self._serial += 1
        conn = Conn(self, self._serial, slot, client_id, level, state, sock)
        self.conns[conn.serial] = conn
        self.selector.register(sock, selectors.EVENT_READ, conn)
        return conn

    def find(self, serial: int) -> Conn | None:
        found = self.conns.get(serial)
        if found is not None:
            return found
        return next((c for c in self.closed if c.serial == serial), None)

    def close(self, conn: Conn, detail: str) -> None:
        """Close our side without a DISCONNECT (an abnormal close, for the broker)."""
        self._release(conn, "client", detail)

    def lost(self, conn: Conn, detail: str) -> None:
        """The connection ended without our asking (EOF, reset, a broken packet)."""
        if conn.open:
            self._release(conn, "server", detail)
            self.on_close(conn)

    def _release(self, conn: Conn, by: str, detail: str) -> None:
        if not conn.open:
            return
        conn.closed_at, conn.closed_by, conn.close_detail = self.clock(), by, detail
        conn.note("--", f"closed by {by}: {detail}")
        sock, conn.sock = conn.sock, None
        if sock is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(sock)
            sock.close()
        self.conns.pop(conn.serial, None)
        self.closed.append(conn)

    def close_all(self) -> None:
        for conn in list(self.conns.values()):
            self.close(conn, "end of run")
        if self.selector.get_map() is not None:
            self.selector.close()

    # -- reading ----------------------------------------------------------------------------

    def poll(self, timeout: float = 0.0) -> None:
        """Read what has arrived (waiting up to `timeout` for something) and act on it."""
        if not self.conns:
            if timeout > 0:
                time.sleep(min(timeout, 0.05))
            return
        for key, _ in self.selector.select(max(0.0, timeout)):
            conn: Conn = key.data
            if conn.open:
                self._read(conn)

    def wait(self, done: Callable[[], bool], timeout: float) -> bool:
        """Poll until `done()` or `timeout` seconds; whether it is done."""
        deadline = self.clock() + timeout
        while not done():
            left = deadline - self.clock()
            if left <= 0:
                return done()
            self.poll(min(left, 0.05))
        return True

    def _read(self, conn: Conn) -> None:
        assert conn.sock is not None
        try:
            data = conn.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError, TimeoutError):
            return
        except OSError as exc:
            self.lost(conn, f"read failed: {exc.strerror or exc}")
            return
        if not data:
            self.lost(conn, "end of stream")
            return
        conn.decoder.feed(data)
        try:
            for packet in conn.decoder:
                conn.note("<-", describe(packet))
                self._dispatch(conn, packet)
                if not conn.open:
                    return
        except ProtocolViolation as exc:
            conn.note("!!", f"malformed from the broker: {exc}")
            self.lost(conn, f"the broker sent a malformed packet: {exc}")

    def _dispatch(self, conn: Conn, p: Packet) -> None:
        state, level = conn.state, conn.level
        if isinstance(p, Publish):
            if p.qos == 1:
                self.on_publish(conn, p)
                assert p.packet_id is not None
                conn.send(Puback(packet_id=p.packet_id, protocol_level=level))
            elif p.qos == 2:
                assert p.packet_id is not None
                if p.packet_id not in state.inbound_qos2:
                    state.inbound_qos2.add(p.packet_id)
                    self.on_publish(conn, p)
                conn.send(Pubrec(packet_id=p.packet_id, protocol_level=level))
            else:
                self.on_publish(conn, p)
        elif isinstance(p, Pubrel):
            state.inbound_qos2.discard(p.packet_id)
            conn.send(Pubcomp(packet_id=p.packet_id, protocol_level=level))
        elif isinstance(p, Puback | Pubcomp):
            out = state.outbound.pop(p.packet_id, None)
            if out is not None:
                self.on_done(conn, out, p.reason_code)
        elif isinstance(p, Pubrec):
            out = state.outbound.get(p.packet_id)
            if out is None:
                return
            if p.reason_code >= 0x80:  # refused: the flow ends here (MQTT-4.3.3-4)
                del state.outbound[p.packet_id]
                self.on_done(conn, out, p.reason_code)
                return
            out.stage = "pubrel"
            conn.send(Pubrel(packet_id=p.packet_id, protocol_level=level))
        elif isinstance(p, Suback | Unsuback):
            conn.replies[p.packet_id] = p
        elif isinstance(p, Connack):
            conn.connack = p
        elif isinstance(p, Pingresp):
            conn.pings_answered += 1
            if conn.ping_times:
                conn.ping_times.popleft()
        elif isinstance(p, Disconnect):
            conn.server_disconnect = p

    def resend(self, conn: Conn) -> None:
        """On a resumed session, re-send what is unacknowledged, in order, with the original
        Packet Identifiers: PUBLISH with DUP 1, or PUBREL (MQTT-4.4.0-1, MQTT-4.6.0-1)."""
        for pid, out in list(conn.state.outbound.items()):
            if out.stage == "pubrel":
                conn.send(Pubrel(packet_id=pid, protocol_level=conn.level))
            else:
                p = out.publish
                conn.send(Publish(topic=p.topic, payload=p.payload, qos=p.qos, retain=p.retain,
                                  dup=True, packet_id=pid, protocol_level=conn.level))
