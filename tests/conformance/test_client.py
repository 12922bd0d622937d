"""The suite's test client against scripted fake brokers: each way a broker can misbehave
becomes the right typed outcome, every wait is bounded, and the wire log records it all."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from conformance.client import BrokerClosed, BrokerViolation, TestClient, Unexpected, WaitTimeout
from conformance.target import Target, TargetError, load_profile, parse_address, parse_levels
from conformance.wirelog import EventKind, WireLog
from mqttspec import Connack, Pingreq, Publish

Script = Callable[[socket.socket], object]


@pytest.fixture
def fake_broker() -> Iterator[Callable[[Script], Target]]:
    """A one-connection server on 127.0.0.1 running `script` on the accepted socket."""
    servers: list[tuple[socket.socket, threading.Thread]] = []

    def start(script: Script) -> Target:
        server = socket.create_server(("127.0.0.1", 0))

        def serve() -> None:
            conn, _ = server.accept()
            with conn:
                script(conn)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        servers.append((server, thread))
        return Target(port=server.getsockname()[1], timeout=0.5)

    yield start
    for server, thread in servers:
        server.close()
        thread.join(2)


def read_some(conn: socket.socket) -> bytes:
    conn.settimeout(2)
    return conn.recv(1024)


def test_connack_received_and_logged(fake_broker: Callable[[Script], Target]) -> None:
    def script(conn: socket.socket) -> None:
        read_some(conn)
        conn.sendall(bytes.fromhex("20020000"))  # CONNACK, accepted
        read_some(conn)

    log = WireLog()
    with TestClient(fake_broker(script), log, level=4) as client:
        assert client.connect("c") == Connack(protocol_level=4)
    kinds = [e.kind for e in log.events]
    assert kinds[:2] == [EventKind.SENT, EventKind.RECEIVED]
    assert log.events[1].hex == "20 02 00 00"
    assert "Connack" in log.render()


def test_malformed_bytes_from_the_broker_are_a_violation(
        fake_broker: Callable[[Script], Target]) -> None:
    def script(conn: socket.socket) -> None:
        read_some(conn)
        conn.sendall(bytes.fromhex("20020100") + bytes.fromhex("20020105"))
        read_some(conn)

    log = WireLog()
    with TestClient(fake_broker(script), log, level=4) as client:
        client.connect("c")  # the first CONNACK is fine
        with pytest.raises(BrokerViolation) as info:
            client.recv()  # Session Present with a refusal code
    assert "MQTT-3.2.2-4" in info.value.violation.statements
    assert log.events[-2].kind is EventKind.BROKER_VIOLATION  # then our close
    assert log.events[-2].hex == "20 02 01 05"  # the offending bytes, for the reader and pcap


def test_silence_is_a_bounded_timeout(fake_broker: Callable[[Script], Target]) -> None:
    done = threading.Event()
    log = WireLog()
    target = fake_broker(lambda conn: done.wait(3))
    with TestClient(target, log) as client:
        started = time.monotonic()
        with pytest.raises(WaitTimeout):
            client.recv(timeout=0.2)
        assert time.monotonic() - started < 2
        with pytest.raises(WaitTimeout):
            client.expect_close(timeout=0.2)
    done.set()
    assert log.events[-2].kind is EventKind.TIMEOUT


def test_close_and_barrier(fake_broker: Callable[[Script], Target]) -> None:
    def script(conn: socket.socket) -> None:
        read_some(conn)  # PINGREQ
        # PUBLISH v5: topic "a", property length 0, payload "hi"; then PINGRESP
        conn.sendall(bytes.fromhex("3006000161" "00" "6869") + bytes.fromhex("d000"))
        read_some(conn)  # PINGREQ again
        conn.sendall(bytes.fromhex("d000" "e0018b"))  # PINGRESP, DISCONNECT 0x8B shutting down

    log = WireLog()
    with TestClient(fake_broker(script), log, level=5) as client:
        assert client.barrier() == [Publish(topic="a", payload=b"hi", protocol_level=5)]
        client.send(Pingreq(protocol_level=5))
        with pytest.raises(Unexpected):
            client.expect(Connack)
        assert [p.reason_code for p in client.expect_close()] == [0x8B]  # type: ignore[union-attr]
    assert EventKind.CLOSED_BY_BROKER in [e.kind for e in log.events]
    with pytest.raises(BrokerClosed):
        client.recv()


def test_target_rules(tmp_path: pytest.TempPathFactory) -> None:
    with pytest.raises(TargetError, match="loopback"):
        Target(host="192.0.2.1")
    with pytest.raises(TargetError):
        Target(port=0)
    assert parse_address("127.0.0.2:1884") == ("127.0.0.2", 1884)
    assert parse_levels("5.0, 3.1") == (3, 5)
    with pytest.raises(TargetError):
        parse_levels("6")
    profile = tmp_path / "p.json"  # type: ignore[operator]
    profile.write_text('{"port": 1999, "versions": ["3.1.1"], '
                       '"capabilities": {"shared_subscriptions": false}}')
    target = load_profile(profile)
    assert (target.port, target.levels) == (1999, (4,))
    assert not target.capabilities.shared_subscriptions
    profile.write_text('{"capabilities": {"teleport": true}}')
    with pytest.raises(TargetError, match="teleport"):
        load_profile(profile)
