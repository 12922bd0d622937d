"""Integration at the byte level: timeouts, limits, malformed input, fuzzing through a socket."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqttspec import (
    Connack,
    Connect,
    Decoder,
    Disconnect,
    Pingreq,
    Pingresp,
    Publish,
    Subscribe,
    Subscription,
    encode,
)
from mqttspec.raw import RawPacket, raw_vbi
from reference_broker import BrokerConfig, ThreadedBroker, flows
from tests.mqttspec.test_fuzz_invariant import mutated_stream

from .engine_peer import declared_level
from .raw_client import RawClient


@pytest.fixture
def broker() -> Iterator[ThreadedBroker]:
    with ThreadedBroker(BrokerConfig(connect_timeout=0.3, maximum_packet_size=4096)) as b:
        yield b


def alive(port: int) -> None:
    """The broker still accepts a client and answers PINGREQ."""
    with RawClient(port) as client:
        client.send(Connect(client_id="probe", protocol_level=5))
        assert isinstance(client.recv(), Connack)
        client.send(Pingreq(protocol_level=5))
        assert isinstance(client.recv(), Pingresp)


def test_garbage_first_is_closed_without_reply(broker: ThreadedBroker) -> None:
    with RawClient(broker.port) as client:
        client.send(b"GET / HTTP/1.1\r\n\r\n")
        assert client.read_to_eof() == []
    alive(broker.port)


def test_no_connect_in_time_is_closed(broker: ThreadedBroker) -> None:
    with RawClient(broker.port) as client:
        assert client.read_to_eof() == []  # connect_timeout is 0.3 s


def test_keep_alive_timeout_v5(broker: ThreadedBroker) -> None:
    with RawClient(broker.port) as client:
        client.send(Connect(client_id="ka", keep_alive=1, protocol_level=5))
        packets = client.read_to_eof()  # within 1.5 s of the CONNECT
        assert [type(p) for p in packets] == [Connack, Disconnect]
        last = packets[-1]
        assert isinstance(last, Disconnect) and last.reason_code == 0x8D


def test_declared_oversized_packet_refused_from_its_header(broker: ThreadedBroker) -> None:
    with RawClient(broker.port) as client:
        client.send(Connect(client_id="big", protocol_level=5))
        ack = client.recv()
        assert isinstance(ack, Connack) and ack.properties.maximum_packet_size == 4096
        # a PUBLISH announcing 256 MB: only the fixed header is sent
        client.send(bytes([0x30]) + raw_vbi(268_435_455))
        packets = client.read_to_eof()
        assert len(packets) == 1 and isinstance(packets[0], Disconnect)
        assert packets[0].reason_code == 0x95


def test_malformed_publish_v311_closes_v5_says_why(broker: ThreadedBroker) -> None:
    with RawClient(broker.port, level=4) as client:
        client.send(Connect(client_id="m4", protocol_level=4))
        assert isinstance(client.recv(), Connack)
        client.send(RawPacket(3, 0b0110).string("t").raw(b"x").build())  # QoS 3
        assert client.read_to_eof() == []
    with RawClient(broker.port) as client:
        client.send(Connect(client_id="m5", protocol_level=5))
        assert isinstance(client.recv(), Connack)
        client.send(RawPacket(3, 0b0110).string("t").raw(b"x").build())
        packets = client.read_to_eof()
        assert len(packets) == 1 and isinstance(packets[0], Disconnect)
        assert packets[0].reason_code == 0x81 and packets[0].properties.reason_string


def test_connection_cap() -> None:
    with ThreadedBroker(BrokerConfig(max_connections=1)) as broker, \
            RawClient(broker.port) as first:
        first.send(Connect(client_id="one", protocol_level=5))
        assert isinstance(first.recv(), Connack)
        with RawClient(broker.port) as second:  # opened after the first was accepted
            second.send(Connect(client_id="two", protocol_level=5))
            packets = second.read_to_eof()
        assert len(packets) == 1 and isinstance(packets[0], Connack)
        assert packets[0].reason_code == 0x89


def test_pipelined_packets_in_one_segment(broker: ThreadedBroker) -> None:
    with RawClient(broker.port) as client:
        client.send(b"".join(encode(p) for p in (
            Connect(client_id="pipe", protocol_level=5),
            Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter="p", qos=0),),
                      protocol_level=5),
            Publish(topic="p", payload=b"1", protocol_level=5),
            Pingreq(protocol_level=5))))
        kinds = [type(client.recv()).__name__ for _ in range(4)]
        assert kinds == ["Connack", "Suback", "Publish", "Pingresp"]


@pytest.fixture(scope="module")
def fuzz_broker() -> Iterator[ThreadedBroker]:
    with ThreadedBroker(BrokerConfig(connect_timeout=1.0)) as b:
        yield b


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=96), mutated_stream()))
def test_fuzzed_bytes_through_a_socket(fuzz_broker: ThreadedBroker, data: bytes) -> None:
    """Whatever arrives, the broker answers with well-formed packets of the client's protocol
    version, closes the connection at EOF, and keeps serving others."""
    with RawClient(fuzz_broker.port, timeout=5.0) as client:
        try:
            client.send(data)
            client.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the broker may already have closed it
        reply = client.read_bytes_to_eof()
    level = declared_level(data)
    decoder = Decoder(protocol_level=level if level in (3, 4, 5) else 4, peer="server")
    decoder.feed(reply)
    packets = list(decoder)  # raises ProtocolViolation on anything ill-formed
    assert decoder.buffered == 0
    assert not packets or isinstance(packets[0], Connack)
    alive(fuzz_broker.port)


def test_a_client_that_does_not_read_is_paused_not_buffered_without_end() -> None:
    """The subscriber never reads: the broker stops writing to it (flow control), keeps at
    most max_queued messages for it, and keeps serving the publisher."""
    config = BrokerConfig(max_queued=50)
    with ThreadedBroker(config) as broker, RawClient(broker.port) as sub, \
            RawClient(broker.port) as pub:
        sub.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sub.send(Connect(client_id="deaf", protocol_level=5))
        assert isinstance(sub.recv(), Connack)
        sub.send(Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter="f"),),
                           protocol_level=5))
        sub.recv()
        pub.send(Connect(client_id="loud", protocol_level=5))
        assert isinstance(pub.recv(), Connack)
        message = encode(Publish(topic="f", payload=b"x" * 60_000, protocol_level=5))
        for _ in range(200):  # 12 MB, far more than the socket buffers hold
            pub.send(message)
        pub.send(Pingreq(protocol_level=5))
        assert isinstance(pub.recv(), Pingresp)  # processed, and the publisher is served
        conn = broker.call(lambda: broker.broker.core.sessions["deaf"].connection)
        assert conn is not None and broker.call(lambda: conn.paused)
        queued = broker.call(lambda: len(broker.broker.core.sessions["deaf"].queue))
        assert queued <= 50


def test_an_internal_error_closes_only_that_connection(broker: ThreadedBroker,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A transient error while a packet is processed (here: one forced on PUBLISH) closes the
    network connection it arrived on; the broker serves the next client."""
    def fail(*_: object) -> None:
        raise MemoryError("a transient error")

    monkeypatch.setattr(flows, "publish_in", fail)
    with RawClient(broker.port, level=4) as client:
        client.send(Connect(client_id="unlucky", protocol_level=4))
        assert isinstance(client.recv(), Connack)
        client.send(Publish(topic="t", payload=b"x", protocol_level=4))
        assert client.read_to_eof() == []
    monkeypatch.undo()
    alive(broker.port)
    assert "MQTT-4.8.0-2" in broker.trace_snapshot()["3.1.1"]
