"""The network engine: observations against the reference broker, and its bounds against fake
servers that never answer, refuse, or close at the wrong moment."""

from __future__ import annotations

import contextlib
import select
import socket
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fuzz.case import Ending, Expect, FuzzCase, Observation
from fuzz.engine import NotLoopback, RunStats, probe, run_cases
from fuzz.engine_parallel import run_parallel
from fuzz.engine_wire import ConnectTemplates, pingreqs, walk
from interop.brokers import RunningBroker, free_port, launch
from interop.profiles import profile_for
from mqttspec import RawPacket

ROOT = Path(__file__).resolve().parents[2]
Behave = Callable[[socket.socket], object]  # what a fake server does with one connection
CONNACK_OK = b"\x20\x02\x00\x00"
PINGRESP = b"\xd0\x00"


def valid(seed: int, level: int = 4) -> FuzzCase:
    return FuzzCase(seed, level, (b"\xc0\x00",), generator="valid", expect=Expect.ALIVE)


def malformed(seed: int, level: int = 4) -> FuzzCase:
    """Three obviously malformed packets, each refused by a conforming broker."""
    kind = seed % 3
    frames = [(b"\xc1\x00",),  # PINGREQ with reserved flags set
              (RawPacket(8, 2).u16(1).build(),),  # SUBSCRIBE without any topic filter
              (b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00",)][kind]  # a second CONNECT
    name = ["reserved-flags", "empty-subscribe", "second-connect"][kind]
    return FuzzCase(seed, level, frames, generator=f"malformed:{name}", malformation=name,
                    expect=Expect.CLOSE)


def standin(count: int) -> list[FuzzCase]:
    return [valid(i, 4 + i % 2) if i % 2 else malformed(i, 4 + (i // 2) % 2)
            for i in range(count)]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBroker]:
    broker = profile_for("reference").start(tmp_path_factory.mktemp("reference"))
    yield broker
    broker.stop()


def collect(host: str, port: int, cases: list[FuzzCase], **options: object
            ) -> tuple[dict[FuzzCase, Observation], RunStats]:
    seen: dict[FuzzCase, Observation] = {}
    stats = run_cases(host, port, cases, on_result=seen.__setitem__, **options)  # type: ignore[arg-type]
    return seen, stats


def test_valid_and_malformed_cases_end_as_the_reference_broker_is_expected_to(
        reference: RunningBroker) -> None:
    cases = standin(300)
    seen, stats = collect(reference.host, reference.port, cases, concurrency=32)
    assert stats.finished == len(seen) == 300 and not stats.stopped
    for case, obs in seen.items():
        wanted = Ending.BARRIER if case.expect is Expect.ALIVE else Ending.CLOSED
        assert obs.ending is wanted, (case, obs)
    assert all(seen[c].received == PINGRESP * 2 for c in cases if c.expect is Expect.ALIVE)


def test_a_case_that_connects_itself_and_one_that_disconnects(
        reference: RunningBroker) -> None:
    connect = RawPacket(1).string("MQTT").u8(4).u8(2).u16(60).string("own-connect").build()
    own = FuzzCase(1, 4, (connect,), connect=False, expect=Expect.ALIVE)
    leaves = FuzzCase(2, 4, (b"\xc0\x00", b"\xe0\x00"))  # PINGREQ, DISCONNECT
    seen, _ = collect(reference.host, reference.port, [own, leaves])
    assert seen[own].ending is Ending.BARRIER and seen[own].received.startswith(CONNACK_OK)
    # the PINGRESP to the case's own PINGREQ is not the barrier's: the broker then closed
    assert seen[leaves].ending is Ending.CLOSED and seen[leaves].received == PINGRESP


def test_generated_cases_each_get_one_observation(reference: RunningBroker) -> None:
    generators = pytest.importorskip("fuzz.generators")
    cases = [case for case, _ in zip(generators.generate(7), range(300), strict=False)]
    seen, stats = collect(reference.host, reference.port, cases, concurrency=64)
    assert stats.finished == 300 and len(seen) == len(set(cases))
    endings = Counter(obs.ending for obs in seen.values())
    assert not endings[Ending.REFUSED] and not endings[Ending.CONNACK_REFUSED], endings


def test_reuse_carries_valid_cases_on_fewer_connections(reference: RunningBroker) -> None:
    cases = [valid(i) for i in range(100)]
    seen, stats = collect(reference.host, reference.port, cases, concurrency=4, reuse=True)
    assert all(obs.ending is Ending.BARRIER for obs in seen.values())
    assert stats.connections < len(cases)


def test_probe_and_the_loopback_rule(reference: RunningBroker) -> None:
    assert probe(reference.host, reference.port).ending is Ending.BARRIER
    for host in ("192.0.2.1", "example.com", "0.0.0.0"):
        with pytest.raises(NotLoopback):
            run_cases(host, 1883, [valid(0)])
    with pytest.raises(ValueError, match="unbounded"):
        run_cases("127.0.0.1", 1883, iter([valid(0)]))


def test_wire_helpers() -> None:
    assert walk(b"\xd0\x00\x30\x03\x00\x01a\x90", 0) == (7, [0xD0, 0x30])
    assert walk(b"\x30\xff\xff\xff\xff\x01", 0) == (0, [])  # a length over 4 bytes stops it
    assert pingreqs((b"\xc0\x00", b"\x30\x03\x00\x01a", b"\xc1\x00")) == 2
    templates = ConnectTemplates()
    first, second = templates.for_level(3), templates.for_level(3)
    assert first != second and len(first) == len(second) and first[4:10] == b"MQIsdp"


# -- fake servers for the bounds ---------------------------------------------------------------

class FakeServer:
    """A 127.0.0.1 server running `behave(conn)` per connection on a thread; stopped on exit."""

    def __init__(self, behave: Behave) -> None:
        self.behave = behave
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(5)
        for conn in self.conns:
            conn.close()
        self.listener.close()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            ready, _, _ = select.select([self.listener], [], [], 0.05)
            if ready:
                conn, _ = self.listener.accept()
                self.conns.append(conn)
                threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            self.behave(conn)

    def read_some(self, conn: socket.socket) -> bytes:
        """What came in within 0.05 s (b"" on EOF); bounded by the stop event."""
        while not self.stopping.is_set():
            ready, _, _ = select.select([conn], [], [], 0.05)
            if ready:
                return conn.recv(4096) or b"EOF"
        return b"EOF"


def connack_then_silence(server: FakeServer) -> Behave:
    def behave(conn: socket.socket) -> None:
        server.read_some(conn)
        conn.sendall(CONNACK_OK)
        while server.read_some(conn) != b"EOF":
            pass  # never answers, never closes while the peer writes
        server.stopping.wait(10)  # and stays open after the peer's half-close
    return behave


def serve(make: Callable[[FakeServer], Behave]) -> FakeServer:
    server = FakeServer(lambda conn: None)
    server.behave = make(server)
    return server


def test_a_server_that_never_answers_is_a_hang_within_the_bound() -> None:
    with serve(connack_then_silence) as server:
        seen, stats = collect("127.0.0.1", server.port, [valid(1), valid(2)], timeout=0.3)
    assert stats.finished == 2
    for obs in seen.values():
        assert obs.ending is Ending.HANG and "still open after our half-close" in obs.detail
        assert obs.seconds < 0.3 + 0.3 + 1.0  # the bound holds (generously): no stall


def test_refusals_before_the_case_runs() -> None:
    port = free_port()  # nothing listens there
    seen, _ = collect("127.0.0.1", port, [valid(1)])
    assert seen[valid(1)].ending is Ending.REFUSED and "refused" in seen[valid(1)].detail

    def closes(server: FakeServer) -> Behave:
        return lambda conn: conn.close()

    def silent(server: FakeServer) -> Behave:
        return lambda conn: server.stopping.wait(10)

    def code_5(server: FakeServer) -> Behave:
        def behave(conn: socket.socket) -> None:
            server.read_some(conn)
            conn.sendall(b"\x20\x02\x00\x05")
            server.read_some(conn)
            conn.close()
        return behave

    outcomes = {}
    for make in (closes, silent, code_5):
        with serve(make) as server:
            seen, _ = collect("127.0.0.1", server.port, [valid(1)], timeout=0.3)
        outcomes[make.__name__] = seen[valid(1)]
    assert outcomes["closes"].ending is Ending.REFUSED
    assert "closed before CONNACK" in outcomes["closes"].detail
    assert outcomes["silent"].ending is Ending.REFUSED
    assert "no CONNACK" in outcomes["silent"].detail
    assert outcomes["code_5"].ending is Ending.CONNACK_REFUSED
    assert outcomes["code_5"].received == b"\x20\x02\x00\x05"


def test_a_dead_port_stops_the_run_after_enough_refusals() -> None:
    port = free_port()
    stats = run_cases("127.0.0.1", port, (valid(i) for i in range(10_000)), limit=10_000,
                      stop_after_refused=50)
    assert stats.stopped == f"nothing listens at 127.0.0.1:{port} any more"
    assert stats.finished < 50


def test_a_watcher_stops_the_run_and_gets_the_cases_in_flight() -> None:
    with serve(connack_then_silence) as server:
        stats = run_cases("127.0.0.1", server.port, [valid(i) for i in range(20)],
                          concurrency=8, timeout=5.0, tick=lambda finished: True)
    assert stats.stopped == "stopped by the watcher"
    assert len(stats.in_flight) == 8 and {f.case.seed for f in stats.in_flight} < set(range(20))


def test_parallel_workers_take_cases_by_index(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "reference_broker", "--host", "127.0.0.1",
               "--port", str(port)]
    process = launch("reference", command, tmp_path, port, env={"PYTHONPATH": str(ROOT)},
                     cwd=ROOT)
    try:
        cases = standin(200)
        seen: dict[FuzzCase, Observation] = {}
        stats = run_parallel("127.0.0.1", port, cases, workers=2, concurrency=16,
                             on_result=seen.__setitem__)
        generated = run_parallel("127.0.0.1", port, iter(cases), workers=2, limit=50,
                                 concurrency=16)
    finally:
        process.stop()
    assert stats.finished == 200 and set(seen) == set(cases)
    assert all(obs.ending is (Ending.BARRIER if case.expect is Expect.ALIVE else Ending.CLOSED)
               for case, obs in seen.items())
    assert generated.finished == 50
