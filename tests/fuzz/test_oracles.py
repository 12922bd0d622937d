"""The oracles: reaction and divergence on synthetic observations; crash, hang and refusal
against brokers that die, stop answering or refuse."""

from __future__ import annotations

import os
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path

from fuzz.case import Ending, Expect, FuzzCase, Observation
from fuzz.engine import run_cases
from fuzz.oracles import (
    FindingLog,
    Oracles,
    class_of,
    divergence_findings,
    divergence_table,
    reaction,
)
from interop.brokers import RunningBroker, free_port, launch
from interop.profiles import profile_for
from tests.fuzz.test_engine import (
    CONNACK_OK,
    PINGRESP,
    Behave,
    FakeServer,
    connack_then_silence,
    malformed,
    serve,
    standin,
    valid,
)

ROOT = Path(__file__).resolve().parents[2]


def seen(ending: Ending, detail: str = "") -> Observation:
    return Observation(ending, b"", 0.01, detail)


def test_reaction_flags_departures_from_the_expectation_only() -> None:
    bad, good = malformed(1), valid(2)
    accepted = reaction(bad, seen(Ending.BARRIER), "mosquitto", "2.0")
    assert accepted is not None and accepted.oracle == "reaction"
    assert accepted.signature == "reaction|empty-subscribe|close->BARRIER"
    assert "accepted bytes the spec requires it to refuse" in accepted.summary
    refused = reaction(good, seen(Ending.CLOSED))
    assert refused is not None and refused.signature == "reaction|valid|alive->CLOSED"
    assert reaction(bad, seen(Ending.CLOSED)) is None
    assert reaction(good, seen(Ending.BARRIER)) is None
    anything = FuzzCase(3, 4, (b"\x30\x00",), generator="x", expect=Expect.ANY)
    assert all(reaction(anything, seen(e)) is None for e in Ending)
    # the frames never ran: a refused connection is the refusal oracle's, not a departure
    assert reaction(good, seen(Ending.REFUSED)) is None


def test_thousands_of_identical_departures_are_one_finding_with_a_count() -> None:
    log = FindingLog()
    new = [log.add(reaction(malformed(3 * i + 1), seen(Ending.BARRIER))) for i in range(1000)]
    log.add(reaction(malformed(2), seen(Ending.BARRIER)))  # another class
    assert new.count(True) == 1
    by_signature = {f.signature: f for f in log.findings()}
    first = by_signature["reaction|empty-subscribe|close->BARRIER"]
    assert first.evidence["count"] == 1000 and len(first.evidence["examples"]) == 5
    assert first.case == malformed(1)
    assert by_signature["reaction|second-connect|close->BARRIER"].evidence["count"] == 1
    assert set(log.by_oracle()) == {"reaction"}


def test_divergence_table_and_a_finding_per_class_where_brokers_differ() -> None:
    cases = [malformed(i) for i in range(30)] + [valid(100 + i) for i in range(10)]

    def run(ending_for: Callable[[FuzzCase], Ending]) -> list[tuple[FuzzCase, Observation]]:
        return [(case, seen(ending_for(case))) for case in cases]

    def strict(case: FuzzCase) -> Ending:
        return Ending.BARRIER if case.expect is Expect.ALIVE else Ending.CLOSED

    def lenient(case: FuzzCase) -> Ending:  # answers PINGREQs with reserved flags
        return Ending.BARRIER if class_of(case) in ("valid", "reserved-flags") else strict(case)

    table = divergence_table({"a": run(strict), "b": run(lenient), "c": run(strict)})
    assert table.brokers == ["a", "b", "c"]
    assert table.cells["reserved-flags"]["b"] == {Ending.BARRIER: 10}
    assert table.cells["reserved-flags"]["a"] == {Ending.CLOSED: 10}
    assert table.differing == {"reserved-flags": 10}
    assert table.compared["valid"] == 10 and table.compared["second-connect"] == 10
    assert "reserved-flags: 10/10 differ" in table.render()
    [finding] = divergence_findings(table, {"a": "a 1", "b": "b 2", "c": "c 3"})
    assert finding.oracle == "divergence" and finding.signature == "divergence|reserved-flags"
    assert finding.broker == "a,b,c" and finding.broker_version == "a 1,b 2,c 3"
    assert finding.evidence["endings"]["b"] == {"BARRIER": 10}
    # a case only one broker ran is counted in its cells but compared with nobody
    extra = divergence_table({"a": run(strict) + [(valid(999), seen(Ending.HANG))],
                              "b": run(strict)})
    assert extra.cells["valid"]["a"][Ending.HANG] == 1 and not extra.differing


def subprocess_reference(tmp_path: Path) -> RunningBroker:
    port = free_port()
    command = [sys.executable, "-m", "reference_broker", "--host", "127.0.0.1",
               "--port", str(port)]
    process = launch("reference", command, tmp_path, port, env={"PYTHONPATH": str(ROOT)},
                     cwd=ROOT)
    return RunningBroker("reference", "reference (subprocess)", port, process=process)


def test_a_broker_killed_mid_run_is_a_crash_with_the_cases_in_flight(tmp_path: Path) -> None:
    broker = subprocess_reference(tmp_path)
    oracles = Oracles(broker)
    results: list[Observation] = []

    def on_result(case: FuzzCase, obs: Observation) -> None:
        results.append(obs)
        if len(results) == 100:
            assert broker.process is not None
            os.kill(broker.process.popen.pid, signal.SIGKILL)
            broker.process.popen.wait(5)
        oracles.on_result(case, obs)

    try:
        stats = run_cases(broker.host, broker.port, standin(5000), concurrency=32,
                          on_result=on_result, tick=oracles.tick)
        findings = oracles.finish(stats)
    finally:
        broker.stop()
    assert stats.stopped and stats.finished < 5000
    [crash] = [f for f in findings if f.oracle == "crash"]
    assert crash.signature == "crash|killed by SIGKILL"
    assert crash.evidence["status"] == "killed by SIGKILL" and crash.evidence["returncode"] == -9
    assert crash.evidence["suspects"] and crash.case is not None
    assert len(crash.evidence["window"]) >= 50
    assert not [f for f in findings if f.oracle == "reaction"]  # what followed is the crash's


def test_an_in_process_broker_that_goes_away_is_a_crash(tmp_path: Path) -> None:
    broker = profile_for("reference").start(tmp_path)
    oracles = Oracles(broker)
    count = [0]

    def on_result(case: FuzzCase, obs: Observation) -> None:
        count[0] += 1
        if count[0] == 50:
            broker.stop()
        oracles.on_result(case, obs)

    try:
        stats = run_cases(broker.host, broker.port, standin(3000), concurrency=16,
                          on_result=on_result, tick=oracles.tick)
    finally:
        broker.stop()
    [crash] = [f for f in oracles.finish(stats) if f.oracle == "crash"]
    assert "listener gone" in crash.evidence["status"] and stats.stopped


def fake(server: FakeServer) -> RunningBroker:
    return RunningBroker("fake", "fake 1", server.port)


def test_a_hang_confirmed_by_the_probe_stops_the_run() -> None:
    with serve(connack_then_silence) as server:
        oracles = Oracles(fake(server), timeout=0.3, confirm=0.3)
        stats = run_cases("127.0.0.1", server.port, [valid(i) for i in range(50)],
                          concurrency=4, timeout=0.3, on_result=oracles.on_result,
                          tick=oracles.tick)
        [hang] = [f for f in oracles.finish(stats) if f.oracle == "hang"]
    assert hang.signature == "hang|valid" and hang.evidence["probe"]["ending"] == "no answer"
    assert stats.stopped and stats.finished < 50


def answers_all_but(marker: bytes) -> Callable[[FakeServer], Behave]:
    """A broker that answers CONNECT and PINGREQ, but goes quiet on a connection once it
    has seen `marker` (neither answering nor closing)."""
    def make(server: FakeServer) -> Behave:
        def behave(conn: socket.socket) -> None:
            stuck = False
            while (data := server.read_some(conn)) != b"EOF":
                stuck = stuck or marker in data
                if data.startswith(b"\x10"):
                    conn.sendall(CONNACK_OK)
                elif not stuck:
                    conn.sendall(PINGRESP * data.count(b"\xc0\x00"))
            conn.close()
        return behave
    return make


def test_a_hang_the_probe_contradicts_is_left_to_the_reaction_oracle() -> None:
    stuck = FuzzCase(1, 4, (b"\xee\x00",), generator="malformed:x", malformation="x",
                     expect=Expect.CLOSE)
    with serve(answers_all_but(b"\xee\x00")) as server:
        oracles = Oracles(fake(server), timeout=0.3, confirm=0.3)
        stats = run_cases("127.0.0.1", server.port, [stuck, valid(2)], timeout=0.3,
                          on_result=oracles.on_result, tick=oracles.tick)
        findings = oracles.finish(stats)  # while the broker still listens
    assert not stats.stopped and oracles.unconfirmed_hangs == 1
    assert [f.signature for f in findings] == ["reaction|x|close->HANG"]


def test_refusals_confirmed_by_the_probe() -> None:
    def no_connack(server: FakeServer) -> Behave:
        return lambda conn: server.stopping.wait(10)

    with serve(no_connack) as server:
        oracles = Oracles(fake(server), timeout=0.2, confirm=0.2)
        stats = run_cases("127.0.0.1", server.port, [valid(1), valid(2)], timeout=0.2,
                          on_result=oracles.on_result, tick=oracles.tick)
        [refusal] = oracles.finish(stats)
    assert refusal.signature == "refusal|connack" and refusal.evidence["count"] == 2

    def code_5(server: FakeServer) -> Behave:
        def behave(conn: socket.socket) -> None:
            server.read_some(conn)
            conn.sendall(b"\x20\x02\x00\x05")
            server.read_some(conn)
            conn.close()
        return behave

    with serve(code_5) as server:
        oracles = Oracles(fake(server))
        stats = run_cases("127.0.0.1", server.port, [valid(1)], on_result=oracles.on_result)
        [refused] = oracles.finish(stats)
    assert refused.signature == "refusal|connack-05|level-4"


def test_a_hang_on_a_packet_declared_longer_than_sent_is_allowed() -> None:
    from fuzz.oracles import ends_on_a_packet_boundary

    hang = Observation(Ending.HANG)
    short = FuzzCase(1, 4, (bytes.fromhex("c1 00 30 10 00 01 61"),), expect=Expect.CLOSE)
    whole = FuzzCase(2, 4, (bytes.fromhex("c1 00"), bytes.fromhex("30 03 00 01 61")),
                     expect=Expect.CLOSE)
    assert not ends_on_a_packet_boundary(short) and ends_on_a_packet_boundary(whole)
    assert reaction(short, hang) is None  # the broker may wait for the rest of the PUBLISH
    found = reaction(whole, hang)
    assert found is not None and found.signature.endswith("close->HANG")
