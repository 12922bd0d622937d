"""What the server may send an MQTT 5 client: Reason Code tables, the configured User Property,
Request Problem Information, the client's Maximum Packet Size and Receive Maximum."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mqttspec import (
    NO_PROPERTIES,
    Auth,
    Connack,
    Disconnect,
    Packet,
    Pingreq,
    Pingresp,
    Properties,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Unsuback,
    decode_packet,
    encode,
)
from reference_broker import outgoing
from reference_broker.model import Message

from .engine_peer import Peer, make_core, of_type, only

EXTRA = ("via", "reference broker")
REASON = "a reason string long enough to matter"

# each packet the server sends with diagnostics, and the two statements that forbid a Reason
# String / a User Property that would make it exceed the client's Maximum Packet Size
DIAGNOSTIC = [
    (Connack(reason_code=0x87, protocol_level=5), "MQTT-3.2.2-19", "MQTT-3.2.2-20"),
    (Puback(packet_id=1, reason_code=0x87, protocol_level=5), "MQTT-3.4.2-2", "MQTT-3.4.2-3"),
    (Pubrec(packet_id=1, reason_code=0x87, protocol_level=5), "MQTT-3.5.2-2", "MQTT-3.5.2-3"),
    (Pubrel(packet_id=1, reason_code=0x92, protocol_level=5), "MQTT-3.6.2-2", "MQTT-3.6.2-3"),
    (Pubcomp(packet_id=1, reason_code=0x92, protocol_level=5), "MQTT-3.7.2-2", "MQTT-3.7.2-3"),
    (Suback(packet_id=1, reason_codes=(0x80,), protocol_level=5), "MQTT-3.9.2-1",
     "MQTT-3.9.2-2"),
    (Unsuback(packet_id=1, reason_codes=(0x11,), protocol_level=5), "MQTT-3.11.2-1",
     "MQTT-3.11.2-2"),
    (Disconnect(reason_code=0x87, protocol_level=5), "MQTT-3.14.2-3", "MQTT-3.14.2-4"),
    (Auth(reason_code=0x18, properties=Properties(authentication_method="M"),
          protocol_level=5), "MQTT-3.15.2-2", "MQTT-3.15.2-3"),
]


def connected(**options: object) -> Peer:
    peer = Peer(make_core(server_user_property="=".join(EXTRA), **options))
    assert only(peer.connect("o"), Connack).reason_code == 0
    return peer


def with_props(packet: Packet, reason: str | None, user: tuple[tuple[str, str], ...]
               ) -> Packet:
    props = packet.properties  # type: ignore[attr-defined]
    out: Packet = replace(packet, properties=replace(  # type: ignore[call-arg]
        props, reason_string=reason, user_properties=user))
    return out


def hits(peer: Peer) -> set[str]:
    return set(peer.core.trace.snapshot()["5.0"])


@pytest.mark.parametrize(("packet", "reason_rule", "user_rule"), DIAGNOSTIC,
                         ids=[type(p).__name__ for p, _, _ in DIAGNOSTIC])
def test_diagnostics_are_left_out_of_a_packet_they_make_too_large(
        packet: Packet, reason_rule: str, user_rule: str) -> None:
    peer = connected()
    full = with_props(packet, REASON, ())  # the server adds its User Property
    no_reason = len(encode(with_props(packet, None, (EXTRA,))))
    bare = len(encode(with_props(packet, None, ())))

    peer.conn.max_packet_out = no_reason  # room for the User Property only
    got = only(peer.conn.send(full) and peer.received(), type(packet))
    assert got.properties.reason_string is None  # type: ignore[attr-defined]
    assert got.properties.user_properties == (EXTRA,)  # type: ignore[attr-defined]
    assert reason_rule in hits(peer) and user_rule not in hits(peer)

    peer.conn.max_packet_out = bare  # room for neither
    got = only(peer.conn.send(full) and peer.received(), type(packet))
    assert got.properties.reason_string is None  # type: ignore[attr-defined]
    assert got.properties.user_properties == ()  # type: ignore[attr-defined]
    assert user_rule in hits(peer)

    peer.conn.max_packet_out = bare - 1  # too large even without them: not sent at all
    assert peer.conn.send(full) is False and peer.received() == []
    assert "MQTT-3.1.2-24" in hits(peer)


def test_a_reason_code_foreign_to_the_packet_is_never_sent() -> None:
    peer = connected()
    with pytest.raises(ValueError, match="PUBACK with Reason Code 0x84"):
        peer.conn.send(Puback(packet_id=1, reason_code=0x84, protocol_level=5))
    assert peer.received() == []
    peer.publish("t", qos=1)
    assert {"MQTT-3.2.2-8", "MQTT-3.4.2-1"} <= hits(peer)


def test_server_user_property_on_acknowledgements_not_on_publish() -> None:
    peer = Peer(make_core(server_user_property="=".join(EXTRA)))
    assert only(peer.connect("o"), Connack).properties.user_properties == (EXTRA,)
    out = peer.subscribe("t", qos=1)
    assert only(out, Suback).properties.user_properties == (EXTRA,)
    out = peer.publish("t", qos=1, properties=Properties(user_properties=(("app", "1"),)))
    assert of_type(out, Puback)[0].properties.user_properties == (EXTRA,)
    assert of_type(out, Publish)[0].properties.user_properties == (("app", "1"),)
    assert only(peer.send(Pingreq(protocol_level=5)), Pingresp)


def test_request_problem_information_0_keeps_user_property_off_acknowledgements() -> None:
    peer = Peer(make_core(server_user_property="=".join(EXTRA)))
    ack = only(peer.connect("o", properties=Properties(request_problem_information=0)), Connack)
    assert ack.properties.user_properties == (EXTRA,)  # CONNACK may still carry it
    assert only(peer.subscribe("t"), Suback).properties.user_properties == ()
    assert "MQTT-3.1.2-29" in hits(peer)


def test_refused_subscription_reason_string_dropped_for_a_small_client() -> None:
    peer = Peer(make_core(shared_subscription_available=False))
    peer.connect("small", properties=Properties(maximum_packet_size=24))
    ack = only(peer.subscribe("$share/g/t"), Suback)
    assert ack.reason_codes == (0x9E,) and ack.properties.reason_string is None
    assert "MQTT-3.9.2-1" in hits(peer)


def test_refused_connect_reason_string_dropped_for_a_small_client() -> None:
    peer = Peer(make_core(allow_anonymous=False))
    ack = only(peer.connect("c", properties=Properties(maximum_packet_size=8)), Connack)
    assert ack.reason_code == 0x87 and ack.properties.reason_string is None
    assert peer.closed and "MQTT-3.2.2-19" in hits(peer)


def test_quota_holds_back_publish_only() -> None:
    core = make_core()
    sub, pub = Peer(core), Peer(core)
    sub.connect("sub", properties=Properties(receive_maximum=1))
    sub.subscribe("t", qos=1)
    pub.connect("pub")
    pub.publish("t", b"1", qos=1, packet_id=1)
    pub.publish("t", b"2", qos=1, packet_id=2)
    assert [m.payload for m in of_type(sub.received(), Publish)] == [b"1"]  # quota now 0
    assert only(sub.send(Pingreq(protocol_level=5)), Pingresp)  # answered at once
    assert only(sub.subscribe("u", packet_id=2), Suback).reason_codes == (2,)
    assert {"MQTT-3.3.4-10", "MQTT-4.9.0-3"} <= hits(sub)


# -- PUBLISH encoded once per message (outgoing.publish_wire) ----------------------------------

@pytest.mark.parametrize("level", [3, 4, 5])
@pytest.mark.parametrize("qos", [0, 1, 2])
@pytest.mark.parametrize("topic", ["t", "a/" + "é" * 70])  # a Remaining Length of 1 or 2 bytes
def test_publish_wire_splices_the_packet_identifier(level: int, qos: int, topic: str) -> None:
    props = Properties(user_properties=(("k", "v"),)) if level == 5 else NO_PROPERTIES
    message = Message(topic, b"payload", qos, False, props)
    for pid in ([None] if not qos else [1, 258, 65535]):
        data = outgoing.publish_wire(message, qos, True, props, level, pid)
        assert decode_packet(data, level) == Publish(
            topic=topic, payload=b"payload", qos=qos, retain=True, packet_id=pid,
            properties=props, protocol_level=level)
    assert list(message.encoded) == [(level, qos, True)]  # one encoding, reused


def test_publish_wire_keeps_per_subscriber_properties_apart() -> None:
    props = Properties(content_type="text/plain")
    message = Message("t", b"x", 1, False, props)
    own = outgoing.publish_wire(message, 1, False, props, 5, 7)
    with_id = replace(props, subscription_identifiers=(3,))
    theirs = outgoing.publish_wire(message, 1, False, with_id, 5, 7)
    assert decode_packet(theirs, 5).properties == with_id  # type: ignore[attr-defined]
    assert decode_packet(own, 5).properties == props  # type: ignore[attr-defined]
    assert list(message.encoded) == [(5, 1, False)]  # only the message's own properties


def test_fan_out_subscribers_share_one_encoding() -> None:
    core = make_core()
    subs = [Peer(core, 4) for _ in range(3)]
    for i, sub in enumerate(subs):
        sub.connect(f"s{i}")
        sub.subscribe("fan/out" if i else "fan/+", qos=1)  # exact and wildcard filters
    pub = Peer(core, 4)
    pub.connect("p")
    pub.publish("fan/out", b"m", qos=1)
    outs = [sub.conn.take_output() for sub in subs]
    assert [len(out) for out in outs] == [1, 1, 1]
    heads = {out[0][:-len(b"m") - 2] for out in outs}  # all but Packet Identifier and payload
    assert len(heads) == 1
