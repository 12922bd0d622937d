"""Malformed input through the engine: the broker closes the connection (MQTT 5: after a
DISCONNECT with the decoder's Reason Code) and records the statements the bytes broke, under
the version of the connection, before CONNECT as after it.

Every input is written with the raw builder, never with the strict encoder.
"""

from __future__ import annotations

import pytest

from mqttspec import Connack, Disconnect
from mqttspec.raw import RawPacket, RawProperties
from reference_broker.trace import version_of

from .engine_peer import Peer, declared_level, make_core, only

V311, V5 = 4, 5
MALFORMED, PROTOCOL_ERROR, TOPIC_ALIAS_INVALID = 0x81, 0x82, 0x94


def publish(level: int, topic: bytes, props: RawProperties | None = None) -> bytes:
    packet = RawPacket(3).string(topic)
    if level == 5:
        packet.properties(props)
    return packet.raw(b"x").build()


def subscribe(level: int, topic_filter: bytes, options: int = 0, packet_id: int = 1,
              flags: int = 0b0010) -> bytes:
    packet = RawPacket(8, flags).u16(packet_id)
    if level == 5:
        packet.properties()
    return packet.string(topic_filter).u8(options).build()


def unsubscribe(level: int, flags: int) -> bytes:
    packet = RawPacket(10, flags).u16(1)
    if level == 5:
        packet.properties()
    return packet.string("a").build()


def case(name: str, level: int, data: bytes, ids: tuple[str, ...], code: int = MALFORMED
         ) -> object:
    return pytest.param(level, data, ids, code, id=f"{name}-v{level}")


AFTER_CONNECT = [
    case("null character", V311, publish(V311, b"a\x00"), ("MQTT-1.5.3-2",)),
    case("null character", V5, publish(V5, b"a\x00"), ("MQTT-1.5.4-2",)),
    case("ill-formed UTF-8", V311, publish(V311, b"a\xc3\x28"), ("MQTT-1.5.3-1",)),
    case("ill-formed UTF-8", V5, publish(V5, b"a\xc3\x28"), ("MQTT-1.5.4-1",)),
    case("wildcard Topic Name", V311, publish(V311, b"a/+"), ("MQTT-3.3.2-2", "MQTT-4.7.1-1")),
    case("wildcard Topic Name", V5, publish(V5, b"a/#"), ("MQTT-3.3.2-2", "MQTT-4.7.0-1")),
    case("empty Topic Name", V311, publish(V311, b""), ("MQTT-4.7.3-1",)),
    case("empty Topic Filter", V5, subscribe(V5, b""), ("MQTT-4.7.3-1",)),
    case("Packet Identifier 0", V311, subscribe(V311, b"a", packet_id=0), ("MQTT-2.3.1-1",),
         PROTOCOL_ERROR),
    case("Packet Identifier 0", V5, subscribe(V5, b"a", packet_id=0), ("MQTT-2.2.1-3",),
         PROTOCOL_ERROR),
    case("SUBSCRIBE QoS byte", V311, subscribe(V311, b"a", options=0x04), ("MQTT-3.8.3-4",)),
    case("Subscription Options", V5, subscribe(V5, b"a", options=0x40), ("MQTT-3.8.3-5",)),
    case("SUBSCRIBE flags", V311, subscribe(V311, b"a", flags=0), ("MQTT-3.8.1-1",)),
    case("SUBSCRIBE flags", V5, subscribe(V5, b"a", flags=0), ("MQTT-3.8.1-1", "MQTT-2.1.3-1")),
    case("UNSUBSCRIBE flags", V311, unsubscribe(V311, 0b0011), ("MQTT-3.10.1-1",)),
    case("UNSUBSCRIBE flags", V5, unsubscribe(V5, 0b0011), ("MQTT-3.10.1-1",)),
    case("PUBREL flags", V311, RawPacket(6, 0).u16(1).build(), ("MQTT-3.6.1-1",)),
    case("PUBREL flags", V5, RawPacket(6, 0).u16(1).build(), ("MQTT-3.6.1-1",)),
    case("DISCONNECT flags", V311, RawPacket(14, 0b0010).build(), ("MQTT-3.14.1-1",)),
    case("DISCONNECT flags", V5, RawPacket(14, 0b0010).build(), ("MQTT-3.14.1-1",)),
    case("AUTH flags", V5, RawPacket(15, 0b0001).build(), ("MQTT-3.15.1-1",)),
    # PINGREQ whose Remaining Length 0 takes two bytes: 0x80 0x00
    case("non-minimal Variable Byte Integer", V5, bytes.fromhex("c0 80 00"), ("MQTT-1.5.5-1",)),
    # PUBLISH "a" with nothing after the Topic Name: no Property Length
    case("Property Length missing", V5, RawPacket(3).string("a").build(), ("MQTT-2.2.2-1",)),
    case("Topic Alias 0", V5, publish(V5, b"a", RawProperties().add(0x23, 0)),
         ("MQTT-3.3.2-8",), TOPIC_ALIAS_INVALID),
    case("Response Topic with a wildcard", V5,
         publish(V5, b"a", RawProperties().add(0x08, "reply/+")), ("MQTT-3.3.2-14",),
         PROTOCOL_ERROR),
]


@pytest.mark.parametrize(("level", "data", "ids", "code"), AFTER_CONNECT)
def test_malformed_packet_after_connect(level: int, data: bytes, ids: tuple[str, ...],
                                        code: int) -> None:
    peer = Peer(make_core(), level)
    assert isinstance(only(peer.connect("bad"), Connack), Connack)
    out = peer.send_bytes(data)
    assert peer.closed
    if level == 5:  # MQTT-4.13.1-1: DISCONNECT with the Reason Code, then close
        assert only(out, Disconnect).reason_code == code
    else:
        assert out == []  # MQTT-4.8.0-1: 3.1.1 just closes
    seen = peer.core.trace.snapshot()[version_of(level)]
    assert set(ids) <= set(seen)


def connect_bytes(name: bytes, level: int, flags: int = 0b0010) -> bytes:
    packet = RawPacket(1).string(name).u8(level).u8(flags).u16(60)
    if level == 5:
        packet.properties()
    return packet.string("c1").build()


def test_another_protocol_name_is_refused() -> None:
    peer = Peer(make_core())  # MQTT 5: CONNACK 0x84 may say so, then close
    assert only(peer.send_bytes(connect_bytes(b"MQTX", 5)), Connack).reason_code == 0x84
    assert peer.closed
    assert "MQTT-3.1.2-1" in peer.core.trace.snapshot()["5.0"]
    peer = Peer(make_core(), 4)  # MQTT 3.1.1: no return code fits, just close
    assert peer.send_bytes(connect_bytes(b"MQTX", 4)) == [] and peer.closed
    assert {"MQTT-3.1.2-1", "MQTT-3.2.2-6"} <= set(peer.core.trace.snapshot()["3.1.1"])


def test_unknown_protocol_version_is_refused_under_both_versions_rules() -> None:
    peer = Peer(make_core(), level=4)  # the answer is in the 3.x format anyone can read
    assert only(peer.send_bytes(connect_bytes(b"MQTT", 6)), Connack).reason_code == 0x01
    assert peer.closed
    trace = peer.core.trace.snapshot()
    assert "MQTT-3.1.2-2" in trace["3.1.1"] and "MQTT-3.1.2-2" in trace["5.0"]


def test_v311_malformed_connect_is_closed_without_connack() -> None:
    peer = Peer(make_core(), level=4)
    assert peer.send_bytes(connect_bytes(b"MQTT", 4, flags=0b0011)) == []  # reserved flag
    assert peer.closed
    assert {"MQTT-3.1.2-3", "MQTT-3.2.2-6"} <= set(peer.core.trace.snapshot()["3.1.1"])


@pytest.mark.parametrize(("data", "level"), [
    (connect_bytes(b"MQTT", 5), 5),
    (connect_bytes(b"MQIsdp", 3), 3),
    (connect_bytes(b"MQTX", 5), 5),  # a readable name: the level byte after it counts
    (connect_bytes(b"M\xc3\x28T", 5), None),  # the decoder stopped at the name
    (connect_bytes(b"MQ\x00T", 5), None),
    (bytes.fromhex("10 03 00 04 4d 51 54 54 05"), None),  # the name runs past the packet
    (bytes.fromhex("10 80 80 80 80 01"), None),  # no Remaining Length
    (bytes.fromhex("30 02 00 00"), None),  # not a CONNECT
])
def test_declared_level(data: bytes, level: int | None) -> None:
    assert declared_level(data) == level


def test_connect_refused_at_its_protocol_name_is_counted_as_3_1_1() -> None:
    """The decoder names 3.1.1 statements for a Protocol Name it cannot read (it has not
    reached the Protocol Level), whatever level byte follows."""
    peer = Peer(make_core())
    assert peer.send_bytes(connect_bytes(b"M\xc3\x28T", 5)) == [] and peer.closed
    trace = peer.core.trace.snapshot()
    assert "MQTT-1.5.3-1" in trace["3.1.1"] and "MQTT-1.5.3-1" not in trace["5.0"]
