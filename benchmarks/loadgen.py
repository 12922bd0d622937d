"""Load generator for broker_bench.py: MQTT 3.1.1 clients on raw non-blocking sockets.

Strategy: the generator must cost less than the broker it drives, so nothing is encoded or
decoded per message.  Every packet is built once with `mqttspec.encode` (QoS 1 PUBLISH for all
65,535 Packet Identifiers by splicing the identifier into one encoded packet, checked by
decoding it back); publishers write pre-joined blocks, subscribers count PUBLISH packets with a
minimal fixed-header walker (`walk`) and answer QoS 1 with PUBACKs built from the identifier
bytes they read.  Each client runs in its own process (multiprocessing) and talks to the parent
over a Pipe: ("ready" | "error", info), then ("go", t0, t_measure, t_end) in CLOCK_MONOTONIC
time (one clock for every process on Linux), then ("done", result).  Counts are taken between
t_measure and t_end (after a warm-up from t0); every loop ends by t_end and every socket wait
has a timeout.  `trivial_server` is the "generator ceiling" peer: a forking server that only
acknowledges (sink, for publishers) or blasts pre-encoded PUBLISH packets (source, for
subscribers), so the generator's own limit can be measured in the same way.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import select
import signal
import socket
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

try:
    import mqttspec as ms
except ImportError:  # a checkout that is not installed: run from its root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import mqttspec as ms

CONNACK_OK = ms.encode(ms.Connack())  # 20 02 00 00: Session Present 0, accepted
DISCONNECT = ms.encode(ms.Disconnect())
PUBACK_HEAD = ms.encode(ms.Puback(packet_id=1))[:2]  # 40 02, then the Packet Identifier
PUBLISH, PUBACK, SUBACK = 3, 4, 9
IO_TIMEOUT = 10.0  # seconds any single handshake step may take


@dataclass(frozen=True)
class Job:
    """What one client process does."""
    role: str  # "publisher" | "subscriber" | "idle"
    host: str
    port: int
    client_id: str
    topic: str = ""
    qos: int = 0
    payload: int = 64
    window: int = 100  # QoS 1 publishers: PUBLISH in flight at most
    count: int = 0  # idle: connections to hold


# -- packets -----------------------------------------------------------------------------------

def connect_packet(client_id: str) -> bytes:
    return ms.encode(ms.Connect(client_id=client_id, keep_alive=0, clean_start=True))


def subscribe_packet(topic: str, qos: int) -> bytes:
    return ms.encode(ms.Subscribe(packet_id=1, subscriptions=(
        ms.Subscription(topic_filter=topic, qos=qos),)))


def publish_qos0(topic: str, payload: int) -> bytes:
    return ms.encode(ms.Publish(topic=topic, payload=b"x" * payload))


def publish_qos1_all(topic: str, payload: int) -> list[bytes]:
    """PUBLISH QoS 1 for Packet Identifiers 1..65535 (index pid - 1), built from one encode."""
    body = b"x" * payload
    first = ms.encode(ms.Publish(topic=topic, payload=body, qos=1, packet_id=1))
    header = 2
    while first[header - 1] & 0x80:  # the Remaining Length's continuation bytes
        header += 1
    at = header + 2 + len(topic.encode())  # after the Topic Name
    head, tail = first[:at], first[at + 2:]
    out = [head + pid.to_bytes(2, "big") + tail for pid in range(1, 65536)]
    for pid in (1, 258, 65535):  # the splice is right: read back as the packet it claims to be
        assert ms.decode_packet(out[pid - 1], 4) == ms.Publish(
            topic=topic, payload=body, qos=1, packet_id=pid), "bad QoS 1 template"
    return out


def walk(buf: bytes, i: int, pids: list[bytes] | None) -> tuple[int, int, int]:
    """Walk whole packets in buf from i: (PUBLISH count, PUBACK count, index of the first
    incomplete packet).  The Packet Identifier bytes of each QoS > 0 PUBLISH go to `pids`."""
    n, pubs, acks = len(buf), 0, 0
    while i + 2 <= n:
        b0, length, h = buf[i], buf[i + 1], i + 2
        if length > 127:  # Remaining Length over several bytes
            length &= 127
            shift = 7
            while True:
                if h >= n:
                    return pubs, acks, i
                b = buf[h]
                h += 1
                length += (b & 127) << shift
                shift += 7
                if b < 128:
                    break
        end = h + length
        if end > n:
            break
        kind = b0 >> 4
        if kind == PUBLISH:
            pubs += 1
            if b0 & 6 and pids is not None:
                at = h + 2 + ((buf[h] << 8) | buf[h + 1])
                pids.append(buf[at:at + 2])
        elif kind == PUBACK:
            acks += 1
        i = end
    return pubs, acks, i


# -- connections -------------------------------------------------------------------------------

def read_packet(sock: socket.socket, deadline: float) -> bytes:
    """Exactly one whole packet from a blocking socket (handshakes only)."""
    data = _recv_exact(sock, 2, deadline)
    while data[-1] & 0x80:  # Remaining Length continues
        data += _recv_exact(sock, 1, deadline)
    length, shift = 0, 0
    for b in data[1:]:
        length += (b & 127) << shift
        shift += 7
    return data + _recv_exact(sock, length, deadline)


def _recv_exact(sock: socket.socket, n: int, deadline: float) -> bytes:
    data = b""
    while len(data) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no answer from the broker in time")
        sock.settimeout(left)
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("the broker closed the connection")
        data += chunk
    return data


def mqtt_connect(host: str, port: int, client_id: str, timeout: float = IO_TIMEOUT
                 ) -> socket.socket:
    deadline = time.monotonic() + timeout
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.sendall(connect_packet(client_id))
        answer = read_packet(sock, deadline)
        if answer != CONNACK_OK:
            raise RuntimeError(f"CONNECT refused: CONNACK {answer.hex()}")
    except BaseException:
        sock.close()
        raise
    return sock


# -- client processes --------------------------------------------------------------------------

class Flow:
    """End-to-end flow control shared by one load's processes (shared memory, no locks):
    publishers hold back while `backlog` messages are published but not yet counted by every
    subscriber, so no broker queue grows without bound (0: no limit, publish as fast as TCP
    takes it).  Every subscriber receives every message, in fan-in and fan-out alike."""

    def __init__(self, publishers: int, subscribers: int, backlog: int) -> None:
        self.sent = multiprocessing.RawArray("q", publishers)
        self.delivered = multiprocessing.RawArray("q", subscribers)
        self.backlog = backlog

    def allowed(self) -> int:
        if not self.backlog:
            return 1 << 30
        return int(self.backlog - (sum(self.sent) - min(self.delivered)))


def run_client(pipe: Connection, job: Job, flow: Flow, me: int) -> None:
    """Process entry point: set up, report ready, wait for "go", run, report the result."""
    sock: socket.socket | None = None
    try:
        sock = mqtt_connect(job.host, job.port, job.client_id)
        if job.role == "subscriber":
            sock.sendall(subscribe_packet(job.topic, job.qos))
            suback = read_packet(sock, time.monotonic() + IO_TIMEOUT)
            if suback[0] >> 4 != SUBACK or suback[-1] != job.qos:
                raise RuntimeError(f"SUBSCRIBE not granted at QoS {job.qos}: {suback.hex()}")
        else:  # little kernel buffering, so "sent" soon follows what the broker takes in
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        pipe.send(("ready", None))
        if not pipe.poll(60):
            return
        _, t0, t_measure, t_end = pipe.recv()
        time.sleep(max(0.0, t0 - time.monotonic()))
        sock.setblocking(False)
        window = Window(t_measure, t_end)
        if job.role == "subscriber":
            subscribe_loop(sock, job, window, flow, me)
        elif job.qos == 0:
            publish_loop_qos0(sock, job, window, flow, me)
        else:
            publish_loop_qos1(sock, job, window, flow, me)
        pipe.send(("done", window.result()))
    except Exception as exc:  # one line to the parent, which prints it
        pipe.send(("error", f"{job.role} {job.client_id}: {type(exc).__name__}: {exc}"))
    finally:
        if sock is not None:
            try:
                sock.setblocking(True)
                sock.settimeout(1.0)
                sock.sendall(DISCONNECT)
            except OSError:
                pass
            sock.close()


class Window:
    """Counts messages between t_measure and t_end, with this process's CPU time."""

    def __init__(self, t_measure: float, t_end: float) -> None:
        self.t_measure, self.t_end = t_measure, t_end
        self.count = 0
        self.base: tuple[int, float, float] | None = None
        self.final: tuple[int, float, float] | None = None

    def tick(self, now: float) -> bool:
        """Record the window's edges; False once it has ended."""
        if self.base is None and now >= self.t_measure:
            self.base = (self.count, now, time.process_time())
        if now >= self.t_end:
            if self.final is None:
                self.final = (self.count, now, time.process_time())
            return False
        return True

    def result(self) -> dict[str, float]:
        if self.base is None or self.final is None:
            return {"count": 0, "seconds": 0.0, "cpu": 0.0}
        return {"count": self.final[0] - self.base[0], "seconds": self.final[1] - self.base[1],
                "cpu": self.final[2] - self.base[2]}


def _wait(sock: socket.socket, write: bool, window: Window, now: float,
          longest: float = 0.05) -> tuple[bool, bool]:
    timeout = max(0.0, min(longest, window.t_end - now))
    r, w, _ = select.select([sock], [sock] if write else [], [], timeout)
    return bool(r), bool(w)


HELD_BACK = 0.0002  # seconds a publisher waits when the backlog is full


def publish_loop_qos0(sock: socket.socket, job: Job, window: Window, flow: Flow, me: int
                      ) -> None:
    packet = publish_qos0(job.topic, job.payload)
    size, per_block = len(packet), max(1, 65536 // len(packet))
    block = memoryview(packet * per_block)
    least = min(per_block, max(1, flow.backlog // 8))  # no dribbling one packet at a time
    pending, written = block[:0], 0
    while window.tick(now := time.monotonic()):
        if not pending:
            k = min(per_block, flow.allowed())
            if k < least:
                time.sleep(HELD_BACK)
                continue
            pending = block[:k * size]
            flow.sent[me] += k
        try:
            n = sock.send(pending)
        except BlockingIOError:
            _wait(sock, True, window, now)
            continue
        pending, written = pending[n:], written + n
        window.count = written // size
    if len(pending) % size:  # a packet half written: finish it before DISCONNECT
        sock.setblocking(True)
        sock.settimeout(2.0)
        sock.sendall(pending[:len(pending) % size])


def publish_loop_qos1(sock: socket.socket, job: Job, window: Window, flow: Flow, me: int
                      ) -> None:
    packets = publish_qos1_all(job.topic, job.payload)
    out = bytearray()
    buf = b""
    next_pid = inflight = 0
    while window.tick(now := time.monotonic()):
        held_back = False
        if inflight < job.window:
            k = min(job.window - inflight, flow.allowed())
            if k > 0:
                out += b"".join([packets[(next_pid + j) % 65535] for j in range(k)])
                next_pid, inflight = (next_pid + k) % 65535, inflight + k
                flow.sent[me] += k
            else:
                held_back = True
        readable, writable = _wait(sock, bool(out), window, now,
                                   HELD_BACK if held_back else 0.05)
        if readable:
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("the broker closed the connection")
            buf = buf + data if buf else data
            _, acks, used = walk(buf, 0, None)
            buf = buf[used:]
            window.count += acks
            inflight -= acks
        if writable and out:
            try:
                n = sock.send(out)
            except BlockingIOError:
                n = 0
            del out[:n]
    if len(out) % len(packets[0]):  # a packet half written: finish it before DISCONNECT
        sock.setblocking(True)
        sock.settimeout(2.0)
        sock.sendall(out[:len(out) % len(packets[0])])


def subscribe_loop(sock: socket.socket, job: Job, window: Window, flow: Flow, me: int
                   ) -> None:
    pids: list[bytes] | None = [] if job.qos else None
    out = bytearray()
    buf = b""
    while window.tick(now := time.monotonic()):
        readable, writable = _wait(sock, bool(out), window, now)
        if readable:
            data = sock.recv(262144)
            if not data:
                raise ConnectionError("the broker closed the connection")
            buf = buf + data if buf else data
            pubs, _, used = walk(buf, 0, pids)
            buf = buf[used:]
            window.count += pubs
            flow.delivered[me] = window.count
            if pids:
                out += b"".join([PUBACK_HEAD + pid for pid in pids])
                pids.clear()
        if out and (writable or len(out) > 65536):
            try:
                n = sock.send(out)
            except BlockingIOError:
                n = 0
            del out[:n]


def hold_idle(pipe: Connection, job: Job) -> None:
    """Open job.count idle connections (CONNECT + CONNACK, Keep Alive 0), report, hold them
    until told, then close them.  Connects in small batches so listen backlogs never overflow."""
    socks: list[socket.socket] = []
    try:
        batch = 32
        for start in range(0, job.count, batch):
            fresh = []
            for k in range(start, min(start + batch, job.count)):
                s = socket.create_connection((job.host, job.port), timeout=IO_TIMEOUT)
                socks.append(s)
                fresh.append(s)
                s.sendall(connect_packet(f"{job.client_id}-{k}"))
            deadline = time.monotonic() + IO_TIMEOUT
            for s in fresh:
                answer = read_packet(s, deadline)
                if answer != CONNACK_OK:
                    raise RuntimeError(f"connection {len(socks)}: CONNACK {answer.hex()}")
        pipe.send(("ready", len(socks)))
        pipe.poll(600)
    except Exception as exc:
        pipe.send(("error", f"idle {job.client_id} after {len(socks)} connections: "
                            f"{type(exc).__name__}: {exc}"))
    finally:
        for s in socks:
            s.close()


# -- the generator-ceiling peer ----------------------------------------------------------------

def trivial_server(pipe: Connection, payload: int, limit: float) -> None:
    """A forking server standing in for a broker that costs nothing: CONNACK to CONNECT, then
    a sink (PUBACK to QoS 1 PUBLISH, QoS 0 discarded) for publishers, or a source (SUBACK, then
    pre-encoded PUBLISH at the subscribed QoS, as fast as the client reads) for subscribers.
    Every connection child stops at EOF or after `limit` seconds; SIGTERM stops them all."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    pipe.send(listener.getsockname()[1])
    children: set[int] = set()
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping:
            if select.select([listener], [], [], 0.1)[0]:
                conn, _ = listener.accept()
                pid = os.fork()
                if pid == 0:
                    listener.close()
                    code = 0
                    try:
                        _serve_one(conn, payload, time.monotonic() + limit)
                    except Exception:
                        code = 1
                    os._exit(code)
                conn.close()
                children.add(pid)
            for pid in list(children):
                if os.waitpid(pid, os.WNOHANG)[0]:
                    children.discard(pid)
    finally:
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass


def _serve_one(conn: socket.socket, payload: int, deadline: float) -> None:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    read_packet(conn, deadline)  # CONNECT
    conn.sendall(CONNACK_OK)
    first = read_packet(conn, deadline)
    if first[0] >> 4 == 8:  # SUBSCRIBE: become a source at the requested QoS
        qos = first[-1] & 3
        conn.sendall(bytes((0x90, 3)) + first[2:4] + bytes((qos,)))
        if qos:
            block = b"".join(publish_qos1_all("ceiling/source", payload)[:1024])
        else:
            block = publish_qos0("ceiling/source", payload) * 1024
        _source(conn, memoryview(block), deadline)
    else:
        _sink(conn, first, deadline)


def _source(conn: socket.socket, block: memoryview, deadline: float) -> None:
    conn.setblocking(False)
    offset = 0
    while time.monotonic() < deadline:
        r, w, _ = select.select([conn], [conn], [], 0.1)
        if r and not conn.recv(262144):  # PUBACKs are read and dropped
            return
        if w:
            with contextlib.suppress(BlockingIOError):
                offset = (offset + conn.send(block[offset:])) % len(block)


def _sink(conn: socket.socket, first: bytes, deadline: float) -> None:
    pids: list[bytes] = []
    buf = first
    conn.settimeout(0.5)
    if not first[0] & 6:  # QoS 0: nothing to answer, the bytes are dropped unread
        while time.monotonic() < deadline:
            try:
                if not conn.recv(262144):
                    return
            except TimeoutError:
                continue
        return
    while time.monotonic() < deadline:
        _, _, used = walk(buf, 0, pids)
        buf = buf[used:]
        if pids:
            conn.sendall(b"".join([PUBACK_HEAD + pid for pid in pids]))
            pids.clear()
        try:
            data = conn.recv(262144)
        except TimeoutError:
            continue
        if not data:
            return
        buf = buf + data if buf else data
