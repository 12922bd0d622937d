"""Packet captures of failing cells, rebuilt from their wire logs.

Strategy: a wire log holds every byte each test client sent and received, with its time; that
is enough for a capture that Wireshark and tshark dissect as MQTT.  Each wire-log client gets
its own TCP connection 127.0.0.1:<ephemeral> <-> 127.0.0.1:1883 (the MQTT port, so dissectors
pick it up) opened by a three-way handshake; `sent` bytes go client -> broker, `received` and
`broker-violation` bytes broker -> client, in segments of at most one MSS with running
sequence and acknowledgement numbers; closed-by-us / closed-by-broker become a FIN from that
side, acknowledged by the other.  Bytes in a direction already closed open a fresh connection
(a client that reconnects under the same name).  Times are the run's start plus each event's
`at`, nudged to stay strictly increasing.  Scapy is imported lazily: without it, no captures
and one note saying so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

from conformance.wirelog import EventKind
from interop.report.model import PROBLEMS, CaseResult, Matrix, RowKey, safe_name

if TYPE_CHECKING:
    from scapy.packet import Packet

MQTT_PORT: Final = 1883
FIRST_CLIENT_PORT: Final = 49152
LOOPBACK: Final = "127.0.0.1"
NO_MAC: Final = "00:00:00:00:00:00"
MSS: Final = 1460
CLIENT_ISN: Final = 1_000_000
BROKER_ISN: Final = 7_000_000
_TICK: Final = 1e-6
_TO_BROKER: Final = frozenset({EventKind.SENT})
_TO_CLIENT: Final = frozenset({EventKind.RECEIVED, EventKind.BROKER_VIOLATION})


@dataclass(frozen=True, slots=True)
class Captures:
    """The captures written, by (broker, row), as paths relative to the report directory."""

    paths: dict[tuple[str, RowKey], Path] = field(default_factory=dict)
    note: str | None = None


def wants_capture(result: CaseResult) -> bool:
    return result.outcome in PROBLEMS and result.has_bytes


def capture_path(result: CaseResult) -> Path:
    name = f"{safe_name(result.case)}--{safe_name(result.version)}.pcap"
    return Path("pcap", safe_name(result.broker), name)


def write_captures(matrix: Matrix, out_dir: Path) -> Captures:
    """A .pcap per FAIL or ERROR cell whose wire log has bytes."""
    wanted = [r for run in matrix.ran for r in matrix.results_of(run.name) if wants_capture(r)]
    if not wanted:
        return Captures()
    try:
        from scapy.utils import wrpcap
    except ImportError:
        return Captures(note=f"Packet captures of {len(wanted)} failing cells not written: "
                             "scapy is not installed (pip install scapy).")
    started = {run.name: _epoch(run.started) for run in matrix.ran}
    paths: dict[tuple[str, RowKey], Path] = {}
    for result in wanted:
        relative = capture_path(result)
        target = out_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        wrpcap(str(target), capture_packets(result, started[result.broker]))
        paths[result.broker, result.key] = relative
    return Captures(paths)


def capture_packets(result: CaseResult, start: float = 0.0) -> list[Packet]:
    """The TCP segments of every connection in `result`'s wire log, in order."""
    capture = _Capture(start)
    connections: dict[str, _Connection] = {}
    for event in result.wire_log:
        conn = connections.get(event.client)
        if event.hex and (event.kind in _TO_BROKER or event.kind in _TO_CLIENT):
            from_client = event.kind in _TO_BROKER
            if conn is None or (conn.client_closed if from_client else conn.broker_closed):
                conn = connections[event.client] = capture.open(event.at)
            capture.data(conn, from_client, bytes.fromhex(event.hex), event.at)
        elif conn is not None and event.kind is EventKind.CLOSED_BY_US and not conn.client_closed:
            capture.close(conn, True, event.at)
        elif (conn is not None and event.kind is EventKind.CLOSED_BY_BROKER
              and not conn.broker_closed):
            capture.close(conn, False, event.at)
    return capture.packets


@dataclass(slots=True)
class _Connection:
    port: int
    client_next: int = CLIENT_ISN
    broker_next: int = BROKER_ISN
    client_closed: bool = False
    broker_closed: bool = False


class _Capture:
    """Segments of one case's connections, with each side's next sequence number."""

    def __init__(self, start: float) -> None:
        from scapy.layers.inet import IP, TCP
        from scapy.layers.l2 import Ether
        from scapy.packet import Raw

        self._ether, self._ip, self._tcp, self._raw = Ether, IP, TCP, Raw
        self.start = start
        self.packets: list[Packet] = []
        self._last = start - _TICK
        self._ports = iter(range(FIRST_CLIENT_PORT, 65536))

    def open(self, at: float) -> _Connection:
        conn = _Connection(next(self._ports))
        self._segment(conn, True, "S", at)
        self._segment(conn, False, "SA", at)
        self._segment(conn, True, "A", at)
        return conn

    def data(self, conn: _Connection, from_client: bool, payload: bytes, at: float) -> None:
        for offset in range(0, len(payload), MSS):
            self._segment(conn, from_client, "PA", at, payload[offset:offset + MSS])

    def close(self, conn: _Connection, from_client: bool, at: float) -> None:
        self._segment(conn, from_client, "FA", at)
        self._segment(conn, not from_client, "A", at)
        if from_client:
            conn.client_closed = True
        else:
            conn.broker_closed = True

    def _segment(self, conn: _Connection, from_client: bool, flags: str, at: float,
                 payload: bytes = b"") -> None:
        if from_client:
            sport, dport, seq, ack = conn.port, MQTT_PORT, conn.client_next, conn.broker_next
        else:
            sport, dport, seq, ack = MQTT_PORT, conn.port, conn.broker_next, conn.client_next
        # add_payload links the layers as `/` does, without copying each one
        packet: Packet = self._ether(src=NO_MAC, dst=NO_MAC)
        ip = self._ip(src=LOOPBACK, dst=LOOPBACK)
        tcp = self._tcp(sport=sport, dport=dport, flags=flags, seq=seq,
                        ack=ack if "A" in flags else 0, window=65535)
        packet.add_payload(ip)
        ip.add_payload(tcp)
        if payload:
            tcp.add_payload(self._raw(payload))
        self._last = max(self.start + at, self._last + _TICK)
        packet.time = self._last
        self.packets.append(packet)
        advance = len(payload) + (1 if "S" in flags or "F" in flags else 0)
        if from_client:
            conn.client_next += advance
        else:
            conn.broker_next += advance


def _epoch(started: str) -> float:
    try:
        return datetime.fromisoformat(started).timestamp()
    except ValueError:
        return 0.0

