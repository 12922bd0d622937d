"""The network engine: run FuzzCases against a broker on the loopback, many at once.

Strategy: one thread, one `selectors` loop (epoll on Linux), up to `concurrency` non-blocking
connections in flight.  Per case: a fresh TCP connection, a valid CONNECT spliced from a
pre-encoded template per protocol level with a fixed-width unique client ID (no encoding per
case), CONNACK awaited, the case's frames written one `send` each, then the PINGREQ barrier:
its PINGRESP (the one after those owed to the case's own PINGREQs) means the broker processed
everything before it and kept the connection (BARRIER), EOF or reset means it closed (CLOSED),
neither within `timeout` is a HANG.  After the barrier we half-close (`shutdown(SHUT_WR)`) and
read to EOF, so the broker closes too; what it sent after the CONNACK is the observation's
`received`.  Connections that fail before the frames are REFUSED (TCP refused, closed or
silent before CONNACK) or CONNACK_REFUSED (a non-zero return code).  Errors that are ours, not
the broker's (no ephemeral port left, no file descriptor), are REFUSED with a detail starting
"local:".

Sockets: TCP_NODELAY, so each frame leaves in its own segment; TCP_QUICKACK re-armed after
every read, because a broker that leaves Nagle on (Mosquitto's default) holds its second small
write until our ACK, which Linux delays by ~40 ms (44 ms per case instead of 0.3).  Our FIN
goes first, so the TIME_WAIT is ours: Linux reuses loopback TIME_WAIT ports (tcp_tw_reuse=2,
the default), which held ~20,000 of them steady at ~14,000 connections/s;
`reset_after_barrier` closes with a reset instead (no TIME_WAIT here).

Bounds: every wait has a deadline (`connect_timeout`, `timeout`, `close_timeout`), checked by a
scan every 50 ms; the run ends when the cases run out, after `limit` cases, after `seconds`
(cases in flight are let finish, each within its own deadlines), or when `tick` asks to stop
(cases in flight are then abandoned and listed in `RunStats.in_flight`, for crash attribution,
with the ring of recent cases).  With `reuse`, a valid case expecting ALIVE whose barrier was
answered leaves its connection parked for the next such case of the same level (at most
`reuse_limit` cases per connection; each keeps a ring of the cases it carried).
"""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import socket
import time
from collections import deque
from collections.abc import Callable, Iterable
from itertools import islice

from fuzz.case import Ending, Expect, FuzzCase, Observation
from fuzz.engine_stats import Done, InFlight, RunStats, check_bounded
from fuzz.engine_wire import (
    CONNACK_TYPE,
    PINGREQ,
    PINGRESP_TYPE,
    ConnectTemplates,
    NotLoopback,
    header,
    linger0,
    loopback,
    pingreqs,
    quiet,
    walk,
)

__all__ = ["Done", "Engine", "InFlight", "NotLoopback", "RunStats", "check_bounded", "probe",
           "run_cases"]

CONNECT_TIMEOUT = 3.5  # covers the SYN retransmissions at 1 s and 3 s (a full accept queue)
SCAN_INTERVAL = 0.05  # seconds between deadline scans and `tick` calls
RECV_SIZE = 65536
MAX_RECEIVED = 1 << 20  # bytes kept per case; more is counted but dropped
GONE = f"connect: {os.strerror(errno.ECONNREFUSED)}"  # the detail when nothing listens
GONE_AFTER = 16  # TCP connections refused in a row that end a run (the listener is gone)
QUICKACK = getattr(socket, "TCP_QUICKACK", 0)  # Linux: ACK at once, see the docstring
LOCAL_ERRORS = {errno.EADDRNOTAVAIL, errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM,
                errno.EADDRINUSE}

OnResult = Callable[[FuzzCase, Observation], None]
IndexedResult = Callable[[int, FuzzCase, Observation], None]  # with the case's index
Tick = Callable[[int], bool]  # called with the number of finished cases; True stops the run


CONNECTING, CONNACK, BARRIER, CLOSING = "connecting", "awaiting CONNACK", "barrier", "closing"


class _Conn:
    __slots__ = ("sock", "index", "case", "state", "deadline", "buf", "received", "started",
                 "out", "sent_at", "ending", "detail", "history", "uses", "dropped", "scan",
                 "owed", "answered")

    def __init__(self, sock: socket.socket, index: int, case: FuzzCase, now: float,
                 history: int) -> None:
        self.sock = sock
        self.history: deque[tuple[int, FuzzCase]] = deque(maxlen=history)
        self.uses = 0
        self.out: deque[bytes] = deque()
        self.buf = bytearray()
        self.received = bytearray()
        self.state = CONNECTING
        self.deadline = now
        self.begin(index, case, now)

    def begin(self, index: int, case: FuzzCase, now: float) -> None:
        self.index, self.case, self.started = index, case, now
        self.received.clear()
        self.buf.clear()
        self.scan = self.dropped = self.answered = 0
        self.owed = pingreqs(case.frames)  # PINGRESPs due to the case's own PINGREQs
        self.sent_at = 0.0
        self.ending: Ending | None = None
        self.detail = ""
        self.uses += 1
        self.history.append((index, case))


class Engine:
    """One run's state; `run_cases` is the way to use it."""

    def __init__(self, host: str, port: int, *, concurrency: int = 128, timeout: float = 1.0,
                 connect_timeout: float | None = None, close_timeout: float | None = None,
                 on_result: IndexedResult | None = None, reuse: bool = False,
                 reuse_limit: int = 100, history: int = 8, recent: int = 1024,
                 stop_after_refused: int | None = 200, reset_after_barrier: bool = False
                 ) -> None:
        self.family, literal = loopback(host)
        self.address = (literal, port)
        self.concurrency = max(1, concurrency)
        self.timeout = timeout
        self.connect_timeout = (max(CONNECT_TIMEOUT, timeout) if connect_timeout is None
                                else connect_timeout)
        self.close_timeout = timeout if close_timeout is None else close_timeout
        self.on_result = on_result
        self.reuse, self.reuse_limit, self.history = reuse, reuse_limit, history
        self.stop_after_refused = stop_after_refused
        self.reset_after_barrier = reset_after_barrier
        self.templates = ConnectTemplates()
        self.sel = selectors.DefaultSelector()
        self.active: dict[int, _Conn] = {}
        self.idle: dict[int, list[_Conn]] = {}
        self.stats = RunStats()
        self.recent: deque[Done] = deque(maxlen=recent)
        self.refused_run = 0  # REFUSED in a row, for any reason
        self.gone_run = 0  # TCP connections refused in a row: nothing listens any more

    # -- starting a case ----------------------------------------------------------------------

    def start(self, index: int, case: FuzzCase, now: float) -> None:
        self.stats.started += 1
        parked = self.idle.get(case.level) if self._reusable(case) else None
        while parked and not quiet(parked[-1].sock):  # closed, or sent something, while idle
            parked.pop().sock.close()
        if parked:
            conn = parked.pop()
            conn.begin(index, case, now)
            self.active[conn.sock.fileno()] = conn
            self._send_frames(conn, now)
            return
        try:
            sock = socket.socket(self.family, socket.SOCK_STREAM)
        except OSError as exc:
            self._report(index, case, Observation(Ending.REFUSED, detail=f"local: {exc}"), now,
                         now)
            return
        conn = _Conn(sock, index, case, now, self.history)
        self.stats.connections += 1
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if QUICKACK:
            sock.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
        code = sock.connect_ex(self.address)
        if code not in (0, errno.EINPROGRESS, errno.EAGAIN):
            self._fail_connect(conn, code, now)
            return
        fd = sock.fileno()
        self.active[fd] = conn
        conn.state, conn.deadline = CONNECTING, now + self.connect_timeout
        if case.connect:  # optimistic: on the loopback the handshake is usually done already
            connect = self.templates.for_level(case.level)
            try:
                sent = sock.send(connect)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                self._fail_connect(conn, exc.errno or errno.ECONNREFUSED, now)
                return
            if sent:
                conn.sent_at = now
                conn.state, conn.deadline = CONNACK, now + self.timeout
                if sent < len(connect):
                    conn.out.append(connect[sent:])
                    self.sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, conn)
                else:
                    self.sel.register(sock, selectors.EVENT_READ, conn)
                return
        self.sel.register(sock, selectors.EVENT_WRITE, conn)

    def _reusable(self, case: FuzzCase) -> bool:
        return self.reuse and case.connect and case.expect is Expect.ALIVE

    def _fail_connect(self, conn: _Conn, code: int, now: float) -> None:
        local = "local: " if code in LOCAL_ERRORS else ""
        self._finish(conn, Ending.REFUSED, f"{local}connect: {os.strerror(code)}", now)

    # -- events -------------------------------------------------------------------------------

    def on_writable(self, conn: _Conn, now: float) -> None:
        if conn.state == CONNECTING:
            code = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                self._fail_connect(conn, code, now)
                return
            if conn.case.connect:
                conn.out.append(self.templates.for_level(conn.case.level))
                conn.state, conn.deadline = CONNACK, now + self.timeout
                self._flush(conn, now)
            else:
                self._send_frames(conn, now)
            return
        self._flush(conn, now)

    def on_readable(self, conn: _Conn, now: float) -> None:
        try:
            data = conn.sock.recv(RECV_SIZE)
            if QUICKACK:
                conn.sock.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # reset by the broker
            self._eof(conn, f"reset ({exc.strerror or exc})", now)
            return
        if not data:
            self._eof(conn, "", now)
            return
        if conn.state == CONNACK:
            conn.buf += data
            self._connack(conn, now)
            return
        self._keep(conn, data)
        if conn.state == BARRIER:
            self._barrier(conn, now)

    def _keep(self, conn: _Conn, data: bytes | bytearray) -> None:
        room = MAX_RECEIVED - len(conn.received)
        if len(data) > room:
            conn.dropped += len(data) - max(room, 0)
            data = data[:max(room, 0)]
        conn.received += data

    def _connack(self, conn: _Conn, now: float) -> None:
        buf = conn.buf
        found = header(buf, 0)
        if found is None or found[0] + found[1] > len(buf):
            return  # not all there yet
        body_at, length = found
        if body_at < 0 or buf[0] >> 4 != CONNACK_TYPE:
            what = "malformed packet" if body_at < 0 else f"packet 0x{buf[0]:02x}"
            self._finish(conn, Ending.REFUSED, f"{what} instead of CONNACK", now)
            return
        end = body_at + length
        code = buf[body_at + 1] if length >= 2 else -1
        if code != 0:
            self._keep(conn, buf[:end])
            how = f"return code 0x{code:02x}" if code >= 0 else f"short CONNACK {buf[:end].hex()}"
            self._close(conn, Ending.CONNACK_REFUSED, how, now)
            return
        self._keep(conn, buf[end:])
        buf.clear()
        self._send_frames(conn, now)

    def _send_frames(self, conn: _Conn, now: float) -> None:
        conn.out.extend(frame for frame in conn.case.frames if frame)
        conn.out.append(PINGREQ)
        conn.state, conn.deadline = BARRIER, now + self.timeout
        self._flush(conn, now)
        if conn.state == BARRIER and conn.received:
            self._barrier(conn, now)

    def _flush(self, conn: _Conn, now: float) -> None:
        """Write the queued frames, one `send` each; a partial write waits for writable."""
        sock = conn.sock
        while conn.out:
            frame = conn.out[0]
            try:
                sent = sock.send(frame)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:  # the broker closed while we wrote
                conn.out.clear()
                self._drain(conn)
                self._eof(conn, f"write failed ({exc.strerror or exc})", now)
                return
            if sent:
                conn.sent_at = now
            if sent < len(frame):
                conn.out[0] = frame[sent:]
                self._watch(conn, selectors.EVENT_READ | selectors.EVENT_WRITE)
                return
            conn.out.popleft()
        self._watch(conn, selectors.EVENT_READ)

    def _watch(self, conn: _Conn, events: int) -> None:
        try:
            key = self.sel.get_key(conn.sock)
        except KeyError:
            self.sel.register(conn.sock, events, conn)
            return
        if key.events != events:
            self.sel.modify(conn.sock, events, conn)

    def _drain(self, conn: _Conn) -> None:
        """Whatever the broker sent before it closed (non-blocking, bounded)."""
        for _ in range(64):
            try:
                data = conn.sock.recv(RECV_SIZE)
            except OSError:
                return
            if not data:
                return
            self._keep(conn, data)

    def _barrier(self, conn: _Conn, now: float) -> None:
        conn.scan, firsts = walk(conn.received, conn.scan)
        conn.answered += sum(1 for first in firsts if first >> 4 == PINGRESP_TYPE)
        if conn.answered <= conn.owed:
            return
        if self._reusable(conn.case) and conn.uses < self.reuse_limit:
            self._park(conn, now)
            return
        if self.reset_after_barrier:
            linger0(conn.sock)
            self._finish(conn, Ending.BARRIER, "", now)
            return
        self._close(conn, Ending.BARRIER, "", now)

    def _eof(self, conn: _Conn, how: str, now: float) -> None:
        if conn.state == CLOSING:
            assert conn.ending is not None
            self._finish(conn, conn.ending, conn.detail, now)
        elif conn.state in (CONNECTING, CONNACK):
            self._finish(conn, Ending.REFUSED, "closed before CONNACK" + (f": {how}" if how
                                                                            else ""), now)
        else:
            self._finish(conn, Ending.CLOSED, how, now)

    def _close(self, conn: _Conn, ending: Ending, detail: str, now: float) -> None:
        """Half-close and read to EOF; the case ends with `ending` when the broker closes."""
        conn.state, conn.ending, conn.detail = CLOSING, ending, detail
        conn.deadline = now + self.close_timeout
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._finish(conn, ending, detail, now)
            return
        self._watch(conn, selectors.EVENT_READ)

    def caught_up(self, conn: _Conn, now: float) -> bool:
        """Before a deadline counts, read what already arrived: a callback that held the loop
        (an oracle's probe) must not turn answers waiting in the socket into timeouts."""
        state, fd = conn.state, conn.sock.fileno()
        if state == CONNECTING:
            try:
                conn.sock.getpeername()
            except OSError:
                return False
            self.on_writable(conn, now)
        else:
            for _ in range(8):
                size = len(conn.received) + len(conn.buf)
                self.on_readable(conn, now)
                if fd not in self.active or conn.state != state:
                    break
                if len(conn.received) + len(conn.buf) == size:
                    break
        return fd not in self.active or conn.state != state

    def on_deadline(self, conn: _Conn, now: float) -> None:
        if self.caught_up(conn, now):
            return
        if conn.state == CONNECTING:
            self._finish(conn, Ending.REFUSED, "connect timed out", now)
        elif conn.state == CONNACK:
            self._finish(conn, Ending.REFUSED, f"no CONNACK within {self.timeout:g} s", now)
        elif conn.state == BARRIER:
            answered = (f" ({conn.answered} PINGRESP for the case's {conn.owed} PINGREQ and "
                        "ours)" if conn.owed else "")
            self._close(conn, Ending.HANG, f"no PINGRESP nor close within {self.timeout:g} s"
                        + answered, now)
            conn.detail += "; closed after our half-close"
        else:
            assert conn.ending is not None
            if conn.ending is Ending.HANG:
                conn.detail = conn.detail.replace("closed after", "still open after")
            else:
                conn.detail = (conn.detail + "; " if conn.detail else "") + \
                    f"still open {self.close_timeout:g} s after our half-close"
            linger0(conn.sock)
            self._finish(conn, conn.ending, conn.detail, now)

    # -- ending a case ------------------------------------------------------------------------

    def _finish(self, conn: _Conn, ending: Ending, detail: str, now: float) -> None:
        self._forget(conn)
        conn.sock.close()
        if conn.dropped:
            detail += f"{'; ' if detail else ''}{conn.dropped} more bytes received, not kept"
        self._report(conn.index, conn.case,
                     Observation(ending, bytes(conn.received), now - conn.started, detail),
                     conn.started, conn.sent_at)

    def _park(self, conn: _Conn, now: float) -> None:
        self._forget(conn)
        self.idle.setdefault(conn.case.level, []).append(conn)
        self._report(conn.index, conn.case, Observation(Ending.BARRIER, bytes(conn.received),
                                                        now - conn.started, "reused"),
                     conn.started, conn.sent_at)

    def _forget(self, conn: _Conn) -> None:
        fd = conn.sock.fileno()
        if self.active.pop(fd, None) is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(conn.sock)

    def _report(self, index: int, case: FuzzCase, obs: Observation, started: float,
                sent_at: float) -> None:
        self.stats.finished += 1
        self.stats.endings[obs.ending] += 1
        self.recent.append(Done(index, case, started, started + obs.seconds, sent_at,
                                obs.ending, obs.detail))
        if obs.ending is Ending.REFUSED:
            self.refused_run += 1
            self.gone_run = self.gone_run + 1 if obs.detail == GONE else 0
        else:
            self.refused_run = self.gone_run = 0
        if self.on_result is not None:
            self.on_result(index, case, obs)

    # -- the loop -----------------------------------------------------------------------------

    def run(self, cases: Iterable[FuzzCase], *, limit: int | None, seconds: float | None,
            tick: Tick | None, first_index: int = 0, index_step: int = 1) -> RunStats:
        t0 = time.monotonic()
        stop_at = t0 + seconds if seconds is not None else float("inf")
        source = enumerate(islice(cases, limit))
        exhausted = False
        next_scan = t0 + SCAN_INTERVAL
        select = self.sel.select
        active = self.active
        try:
            while True:
                now = time.monotonic()
                if not exhausted and not self.stats.stopped and now >= stop_at:
                    exhausted = True
                budget = self.concurrency  # cases refused at once do not keep this loop going
                while not exhausted and len(active) < self.concurrency and budget > 0:
                    budget -= 1
                    if self._refused_enough():
                        break
                    try:
                        position, case = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    self.start(first_index + position * index_step, case, now)
                if (exhausted or self.stats.stopped) and not active:
                    break
                for key, mask in select(SCAN_INTERVAL if active else 0):
                    conn: _Conn = key.data
                    now = time.monotonic()
                    if mask & selectors.EVENT_WRITE:
                        self.on_writable(conn, now)
                        if conn.sock.fileno() not in active:
                            continue  # finished (closed: -1) or parked
                    if mask & selectors.EVENT_READ and conn.state != CONNECTING:
                        self.on_readable(conn, now)
                now = time.monotonic()
                if now >= next_scan:
                    next_scan = now + SCAN_INTERVAL
                    for conn in [c for c in active.values() if c.deadline <= now]:
                        self.on_deadline(conn, now)
                    if tick is not None and tick(self.stats.finished):
                        self._abandon("stopped by the watcher")
                        break
                if self._refused_enough():
                    self._abandon(f"nothing listens at {self.address[0]}:{self.address[1]} "
                                  "any more" if self.gone_run >= GONE_AFTER else
                                  f"{self.refused_run} connections refused in a row")
                    break
        finally:
            for conn in list(active.values()):
                linger0(conn.sock)
                self._forget(conn)
                conn.sock.close()
            for parked in self.idle.values():
                for conn in parked:
                    conn.sock.close()
            self.idle.clear()
            self.sel.close()
        self.stats.elapsed = time.monotonic() - t0
        self.stats.recent = list(self.recent)
        return self.stats

    def _refused_enough(self) -> bool:
        limit = self.stop_after_refused
        if limit is None:
            return False
        return self.refused_run >= limit or self.gone_run >= min(limit, GONE_AFTER)

    def _abandon(self, why: str) -> None:
        self.stats.stopped = why
        self.stats.in_flight = sorted(
            (InFlight(c.index, c.case, c.state, c.sent_at, tuple(c.history)[:-1])
             for c in self.active.values()), key=lambda f: f.sent_at, reverse=True)


def run_cases(host: str, port: int, cases: Iterable[FuzzCase], *, concurrency: int = 128,
              timeout: float = 1.0, connect_timeout: float | None = None,
              close_timeout: float | None = None, on_result: OnResult | None = None,
              limit: int | None = None, seconds: float | None = None, tick: Tick | None = None,
              reuse: bool = False, reuse_limit: int = 100, history: int = 8, recent: int = 1024,
              stop_after_refused: int | None = 200, reset_after_barrier: bool = False
              ) -> RunStats:
    """Run `cases` against the broker at `host`:`port` (loopback only), `concurrency` at once;
    `on_result(case, observation)` for each finished case.

    `timeout` bounds the CONNACK and the barrier, `connect_timeout` the TCP handshake
    (default: 3.5 s or `timeout`, whichever is longer: a broker whose accept queue is full
    drops SYNs, which come again after 1 and 3 s) and `close_timeout` the wait for EOF after
    our half-close (default `timeout`).  The run stops after `limit` cases or `seconds` (one
    of them is needed unless `cases` is a collection), when `tick(finished)` (called every
    50 ms) returns True, after `stop_after_refused` REFUSED in a row, or after 16 TCP
    connections refused in a row (nothing listens any more: the ring of recent cases still
    holds the cases before it went away).
    `reset_after_barrier` closes with a reset instead of the half-close once the barrier is
    answered (no TIME_WAIT on our side, for hosts that do not reuse TIME_WAIT ports on the
    loopback).  `reuse`: see the module's docstring."""
    check_bounded(cases, limit, seconds)
    indexed: IndexedResult | None = None
    if on_result is not None:
        def indexed(_index: int, case: FuzzCase, obs: Observation) -> None:
            on_result(case, obs)
    engine = Engine(host, port, concurrency=concurrency, timeout=timeout,
                    connect_timeout=connect_timeout, close_timeout=close_timeout,
                    on_result=indexed, reuse=reuse, reuse_limit=reuse_limit, history=history,
                    recent=recent, stop_after_refused=stop_after_refused,
                    reset_after_barrier=reset_after_barrier)
    return engine.run(cases, limit=limit, seconds=seconds, tick=tick)


def run_one(host: str, port: int, case: FuzzCase, *, timeout: float = 1.0) -> Observation:
    """`case` alone on a fresh connection (HANG if it did not finish within its bounds)."""
    found: list[Observation] = []
    run_cases(host, port, [case], concurrency=1, timeout=timeout,
              on_result=lambda _case, obs: found.append(obs), stop_after_refused=None)
    return found[0] if found else Observation(Ending.HANG, detail="the case did not finish")


def probe(host: str, port: int, *, level: int = 4, timeout: float = 1.0) -> Observation:
    """A fresh connection: CONNECT, CONNACK, PINGREQ, PINGRESP (BARRIER when all is well)."""
    case = FuzzCase(seed=0, level=level, frames=(), generator="probe", expect=Expect.ALIVE)
    return run_one(host, port, case, timeout=timeout)
