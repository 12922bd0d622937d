"""Integration: the MQTT over WebSocket listener, driven byte by byte with a raw client.

The listener shares the broker core and the per-connection logic of TCP: tests mix WebSocket
and TCP clients, and check that the CONNECT timeout, keep alive, the connection cap and the
Maximum Packet Size hold on WebSocket connections too.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqttspec import (
    Connack,
    Connect,
    Disconnect,
    Pingreq,
    Pingresp,
    Publish,
    Suback,
    Subscribe,
    Subscription,
    Will,
    encode,
)
from mqttspec.raw import raw_vbi
from reference_broker import BrokerConfig, ThreadedBroker
from tests.mqttspec.test_fuzz_invariant import mutated_stream

from .raw_client import RawClient
from .ws_client import BINARY, CLOSE, CONT, PING, PONG, TEXT, WsClient, client_frame

CONFIG = BrokerConfig(websocket_port=0, maximum_packet_size=4096)


@pytest.fixture
def broker() -> Iterator[ThreadedBroker]:
    with ThreadedBroker(CONFIG) as running:
        yield running


def ws_port(broker: ThreadedBroker) -> int:
    return broker.ports["ws"]


def connect(client: WsClient, client_id: str, level: int = 5, keep_alive: int = 0,
            will: Will | None = None) -> None:
    client.send_packet(Connect(client_id=client_id, protocol_level=level, keep_alive=keep_alive,
                               will=will))
    ack = client.recv_packet()
    assert isinstance(ack, Connack) and ack.reason_code == 0, ack


def test_ports_are_reported_and_distinct(broker: ThreadedBroker) -> None:
    ports = broker.ports
    assert set(ports) == {"tcp", "ws"} and ports["tcp"] == broker.port
    assert ports["ws"] != ports["tcp"] and ports["ws"] > 0


def test_handshake_then_mqtt_both_ways_and_with_tcp(broker: ThreadedBroker) -> None:
    with WsClient(ws_port(broker)) as client, RawClient(broker.port) as tcp:
        response = client.open("chat, mqtt")
        assert response.headers["sec-websocket-protocol"] == "mqtt"  # MQTT-6.0.0-4
        assert response.headers["upgrade"].lower() == "websocket"
        connect(client, "ws-sub")
        client.send_packet(Subscribe(packet_id=1, subscriptions=(
            Subscription(topic_filter="mix/#", qos=1),), protocol_level=5))
        assert isinstance(client.recv_packet(), Suback)
        tcp.send(Connect(client_id="tcp-pub", protocol_level=5))
        assert isinstance(tcp.recv(), Connack)
        tcp.send(Publish(topic="mix/a", payload=b"from tcp", protocol_level=5))
        message = client.recv_packet()  # arrives in a binary frame (MQTT-6.0.0-1)
        assert isinstance(message, Publish) and message.payload == b"from tcp"
    trace = broker.trace_snapshot()["5.0"]
    assert trace["MQTT-6.0.0-4"] == 1 and trace["MQTT-6.0.0-2"] >= 2


def test_mqtt_3_1_subprotocol_and_protocol_level(broker: ThreadedBroker) -> None:
    with WsClient(ws_port(broker), level=3) as client:
        assert client.open("mqttv3.1").headers["sec-websocket-protocol"] == "mqttv3.1"
        connect(client, "old", level=3)
        client.send_packet(Pingreq(protocol_level=3))
        assert isinstance(client.recv_packet(), Pingresp)


@pytest.mark.parametrize("protocols", [None, "chat", "MQTT"])
def test_handshake_without_mqtt_subprotocol_is_refused(broker: ThreadedBroker,
                                                       protocols: str | None) -> None:
    with WsClient(ws_port(broker)) as client:
        response = client.request(protocols)
        assert response.status == 400 and b"subprotocol" in response.body
        assert "sec-websocket-accept" not in response.headers
        assert client.read_to_eof() == b""
    assert broker.trace_snapshot()["3.1.1"]["MQTT-6.0.0-3"] == 1  # no CONNECT: level unknown


@pytest.mark.parametrize(("raw", "status"), [
    (b"hello\r\n\r\n", 400),
    (encode(Connect(client_id="tcp-here", protocol_level=5)), 400),  # MQTT without HTTP
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 426),  # plain HTTP, no Upgrade
    (b"GET / HTTP/1.1\r\n" + b"X-Long: " + b"a" * 9000 + b"\r\n\r\n", 431),
])
def test_garbage_http_gets_an_error_and_close(broker: ThreadedBroker, raw: bytes,
                                              status: int) -> None:
    with WsClient(ws_port(broker)) as client:
        assert client.request(raw=raw).status == status
        assert client.read_to_eof() == b""
    with WsClient(ws_port(broker)) as client:  # still serving
        client.open()


@pytest.mark.parametrize("level", [4, 5])
def test_text_frame_closes_the_connection_and_publishes_the_will(
        broker: ThreadedBroker, level: int) -> None:
    with WsClient(ws_port(broker), level) as client, RawClient(broker.port) as watch:
        watch.send(Connect(client_id="watch", protocol_level=5))
        assert isinstance(watch.recv(), Connack)
        watch.send(Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter="w"),),
                             protocol_level=5))
        watch.recv()
        client.open()
        connect(client, "texter", level, will=Will(topic="w", payload=b"gone"))
        client.send_frame(TEXT, b"\x30\x03\x00\x01w")  # a PUBLISH, but in a text frame
        assert client.expect_close().close_code == 1003  # MQTT-6.0.0-1
        will = watch.recv()  # the network connection closed without DISCONNECT
        assert isinstance(will, Publish) and will.payload == b"gone"
    version = "5.0" if level == 5 else "3.1.1"
    assert broker.trace_snapshot()[version]["MQTT-6.0.0-1"] == 1


def test_one_frame_with_two_packets_and_half_a_third(broker: ThreadedBroker) -> None:
    publish = encode(Publish(topic="two", payload=b"half and half", protocol_level=5))
    with WsClient(ws_port(broker)) as client:
        client.open()
        client.send_packet(
            Connect(client_id="packed", protocol_level=5),
            Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter="two"),),
                      protocol_level=5),
            publish[:7])
        assert isinstance(client.recv_packet(), Connack)
        assert isinstance(client.recv_packet(), Suback)
        client.send_packet(publish[7:], Pingreq(protocol_level=5))
        message = client.recv_packet()
        assert isinstance(message, Publish) and message.payload == b"half and half"
        assert isinstance(client.recv_packet(), Pingresp)


def test_a_packet_split_across_three_frames(broker: ThreadedBroker) -> None:
    data = encode(Connect(client_id="split-in-three", protocol_level=5))
    with WsClient(ws_port(broker)) as client:
        client.open()
        for piece in (data[:1], data[1:5], data[5:]):  # three whole binary messages
            client.send_frame(BINARY, piece)
        assert isinstance(client.recv_packet(), Connack)


def test_fragmented_messages_with_a_ping_inside(broker: ThreadedBroker) -> None:
    data = encode(Connect(client_id="fragments", protocol_level=5)) + encode(
        Pingreq(protocol_level=5))
    with WsClient(ws_port(broker)) as client:
        client.open()
        client.send_frame(BINARY, data[:3], fin=False)
        client.send_frame(PING, b"between")  # control frames may come between fragments
        client.send_frame(CONT, data[3:10], fin=False)
        client.send_frame(CONT, data[10:])
        pong = client.recv_frame()
        assert (pong.opcode, pong.payload) == (PONG, b"between")
        assert isinstance(client.recv_packet(), Connack)
        assert isinstance(client.recv_packet(), Pingresp)


def test_ping_pong_before_connect(broker: ThreadedBroker) -> None:
    with WsClient(ws_port(broker)) as client:
        client.open()
        client.send_frame(PONG, b"unsolicited")  # ignored (RFC 6455 5.5.3)
        client.send_frame(PING, b"are you there")
        frame = client.recv_frame()
        assert (frame.fin, frame.opcode, frame.payload) == (True, PONG, b"are you there")


def test_close_handshake(broker: ThreadedBroker) -> None:
    with WsClient(ws_port(broker)) as client:
        client.open()
        connect(client, "closer")
        client.send_frame(CLOSE, (1000).to_bytes(2, "big") + b"bye")
        frame = client.expect_close()  # the server answers Close and closes TCP
        assert frame.close_code == 1000


@pytest.mark.parametrize("kind", ["unmasked", "reserved bits", "reserved opcode"])
def test_bad_frames_fail_the_connection_with_1002(broker: ThreadedBroker, kind: str) -> None:
    with WsClient(ws_port(broker)) as client:
        client.open()
        connect(client, "bad-frame")
        packet = encode(Pingreq(protocol_level=5))
        if kind == "unmasked":
            client.send_frame(BINARY, packet, masked=False)  # RFC 6455 5.1
        elif kind == "reserved bits":
            client.send_frame(BINARY, packet, rsv=1)
        else:
            client.send_frame(0x3, packet)
        assert client.expect_close().close_code == 1002


def test_huge_declared_frame_and_oversized_packet(broker: ThreadedBroker) -> None:
    """A frame declaring 2^62 bytes costs nothing until they come; the PUBLISH inside it
    that exceeds the Maximum Packet Size is refused from its header, as over TCP."""
    with WsClient(ws_port(broker)) as client:
        client.open()
        connect(client, "huge")
        client.send_frame(BINARY, bytes([0x30]) + raw_vbi(268_435_455), length=1 << 62)
        reply = client.recv_packet()
        assert isinstance(reply, Disconnect) and reply.reason_code == 0x95
        assert client.expect_close().close_code == 1000


def test_mqtt_protocol_error_gives_disconnect_then_close(broker: ThreadedBroker) -> None:
    with WsClient(ws_port(broker)) as client:
        client.open()
        connect(client, "twice")
        client.send_packet(Connect(client_id="twice", protocol_level=5))
        reply = client.recv_packet()
        assert isinstance(reply, Disconnect) and reply.reason_code == 0x82
        assert client.expect_close().close_code == 1000


def test_connect_timeout_keep_alive_and_cap_hold_on_websocket() -> None:
    config = BrokerConfig(websocket_port=0, connect_timeout=0.3, max_connections=2)
    with ThreadedBroker(config) as broker:
        port = broker.ports["ws"]
        with WsClient(port) as silent:  # no handshake at all: closed by the CONNECT timeout
            assert silent.read_to_eof() == b""
        with WsClient(port) as quiet:  # handshake, then no CONNECT
            quiet.open()
            assert quiet.expect_close().close_code == 1000
        with WsClient(port) as sleepy, RawClient(broker.port) as second:
            sleepy.open()
            connect(sleepy, "sleepy", keep_alive=1)
            second.send(Connect(client_id="second", protocol_level=5))
            assert isinstance(second.recv(), Connack)
            with WsClient(port) as third:  # the cap counts TCP and WebSocket alike
                third.open()
                third.send_packet(Connect(client_id="third", protocol_level=5))
                refused = third.recv_packet()
                assert isinstance(refused, Connack) and refused.reason_code == 0x89
                assert third.expect_close().close_code == 1000
            gone = sleepy.recv_packet()  # 1.5 x keep alive without a packet
            assert isinstance(gone, Disconnect) and gone.reason_code == 0x8D
            assert sleepy.expect_close().close_code == 1000


def test_broker_stop_says_so_over_websocket() -> None:
    with ThreadedBroker(BrokerConfig(websocket_port=0)) as broker, \
            WsClient(broker.ports["ws"]) as client:
        client.open()
        connect(client, "stopping")
        broker.stop()
        reply = client.recv_packet()
        assert isinstance(reply, Disconnect) and reply.reason_code == 0x8B
        assert client.expect_close().close_code == 1000


@pytest.fixture(scope="module")
def fuzz_broker() -> Iterator[ThreadedBroker]:
    with ThreadedBroker(BrokerConfig(websocket_port=0, connect_timeout=1.0)) as running:
        yield running


def frames() -> st.SearchStrategy[bytes]:
    """Client frames right or wrong: any opcode, flags, mask bit and payload."""
    one = st.builds(lambda op, payload, fin, masked, rsv: client_frame(
        op, payload, fin=fin, masked=masked, rsv=rsv),
        st.sampled_from([BINARY] * 6 + [CONT, TEXT, CLOSE, PING, PONG, 0x3, 0xB]),
        st.one_of(st.binary(max_size=40), mutated_stream().map(lambda b: b[:200])),
        st.booleans(), st.booleans() | st.just(True), st.just(0) | st.integers(0, 7))
    return st.lists(one, max_size=5).map(b"".join)


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(data=st.one_of(frames(), st.binary(max_size=64)))
def test_fuzzed_frames_after_the_handshake(fuzz_broker: ThreadedBroker, data: bytes) -> None:
    """Whatever frames arrive, the broker answers in well-formed unmasked frames, ends the
    connection at EOF or on error, and keeps serving others."""
    port = fuzz_broker.ports["ws"]
    with WsClient(port) as client:
        client.open()
        try:
            client.send(data)
            client.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the broker may already have closed it
        client.buffer += client.read_to_eof()
        while client.buffer:
            frame = client.recv_frame()  # asserts server frames are unmasked
            assert frame.opcode in (BINARY, PONG, CLOSE)
    with WsClient(port) as probe:
        probe.open()
        connect(probe, "probe")
