"""Retained messages, subscription options, shared subscriptions, SUBACK/UNSUBACK codes."""

from __future__ import annotations

import pytest

from mqttspec import (
    Disconnect,
    Properties,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Unsuback,
    Unsubscribe,
)
from reference_broker.trace import version_of

from .engine_peer import Peer, make_core, of_type, only


def test_retained_stored_replaced_cleared() -> None:
    core = make_core()
    pub = Peer(core, 4)
    pub.connect("pub")
    pub.publish("r/a", b"old", retain=True)
    pub.publish("r/a", b"new", qos=1, retain=True)
    pub.publish("r/b", b"b", retain=True)
    pub.publish("r/b", b"not retained", retain=False)  # leaves the retained one alone
    sub = Peer(core, 4)
    sub.connect("sub")
    out = sub.subscribe("r/#", qos=2)
    assert isinstance(out[0], Suback)  # SUBACK first, then the retained messages
    msgs = of_type(out, Publish)
    assert {(m.topic, m.payload, m.qos, m.retain) for m in msgs} == {
        ("r/a", b"new", 1, True), ("r/b", b"b", 0, True)}
    pub.publish("r/a", b"", retain=True)  # clears, and is forwarded as normal
    live = only(sub.received(), Publish)
    assert live.payload == b"" and not live.retain
    late = Peer(core, 4)
    late.connect("late")
    assert [m.topic for m in of_type(late.subscribe("r/#"), Publish)] == ["r/b"]


def test_retain_handling() -> None:
    core = make_core()
    pub = Peer(core)
    pub.connect("pub")
    pub.publish("r", b"kept", retain=True)
    sub = Peer(core)
    sub.connect("sub")
    assert len(of_type(sub.subscribe("r", retain_handling=0), Publish)) == 1
    assert len(of_type(sub.subscribe("r", retain_handling=0, packet_id=2), Publish)) == 1
    assert of_type(sub.subscribe("r", retain_handling=1, packet_id=3), Publish) == []
    assert len(of_type(sub.subscribe("r2", "r", retain_handling=1, packet_id=4), Publish)) == 0
    other = Peer(core)
    other.connect("other")
    assert len(of_type(other.subscribe("r", retain_handling=1), Publish)) == 1
    third = Peer(core)
    third.connect("third")
    assert of_type(third.subscribe("r", retain_handling=2), Publish) == []


def test_retained_message_expiry() -> None:
    core = make_core()
    pub = Peer(core)
    pub.connect("pub")
    pub.publish("r", b"x", retain=True, properties=Properties(message_expiry_interval=5),
                now=0.0)
    sub = Peer(core)
    sub.connect("sub")
    msg = only(of_type(sub.subscribe("r", now=3.0), Publish), Publish)
    assert msg.properties.message_expiry_interval == 2
    late = Peer(core)
    late.connect("late")
    assert of_type(late.subscribe("r", now=5.0), Publish) == []
    assert len(core.retained) == 0


def test_subscription_replaced_not_duplicated() -> None:
    core = make_core()
    sub, pub = Peer(core, 4), Peer(core, 4)
    sub.connect("sub")
    sub.subscribe("t", qos=2)
    sub.subscribe("t", qos=0, packet_id=2)
    pub.connect("pub")
    pub.publish("t", qos=2)
    assert only(sub.received(), Publish).qos == 0


def test_unsubscribe() -> None:
    core = make_core()
    sub, pub = Peer(core), Peer(core)
    sub.connect("sub")
    sub.subscribe("a/+", "b")
    out = sub.send(Unsubscribe(packet_id=5, topic_filters=("a/+", "a/x"),
                           protocol_level=5))
    ack = only(out, Unsuback)
    assert ack.packet_id == 5 and ack.reason_codes == (0x00, 0x11)
    pub.connect("pub")
    pub.publish("a/x")
    assert sub.received() == []
    old = Peer(core, 4)
    old.connect("old")
    out = old.send(Unsubscribe(packet_id=6, topic_filters=("zz", "yy"), protocol_level=4))
    assert only(out, Unsuback).reason_codes == ()  # one UNSUBACK for both filters
    assert "MQTT-3.10.4-6" in core.trace.snapshot()["3.1.1"]


@pytest.mark.parametrize("level", [4, 5])
def test_unsubscribe_completes_messages_in_flight(level: int) -> None:
    core = make_core()
    sub, pub = Peer(core, level), Peer(core, level)
    sub.connect("sub")
    sub.subscribe("t", qos=2)
    pub.connect("pub")
    pub.publish("t", b"1", qos=1)
    pub.publish("t", b"2", qos=2, packet_id=2)
    one, two = of_type(sub.received(), Publish)
    ack = only(sub.send(Unsubscribe(packet_id=9, topic_filters=("t",), protocol_level=level)),
               Unsuback)
    assert ack.packet_id == 9
    assert set(core.sessions["sub"].inflight) == {one.packet_id, two.packet_id}
    sub.send(Puback(packet_id=one.packet_id or 0, protocol_level=level))
    rel = only(sub.send(Pubrec(packet_id=two.packet_id or 0, protocol_level=level)), Pubrel)
    assert sub.send(Pubcomp(packet_id=rel.packet_id, protocol_level=level)) == []
    assert core.sessions["sub"].inflight == {}
    seen = core.trace.snapshot()[version_of(level)]
    assert "MQTT-3.10.4-3" in seen and ("MQTT-2.3.1-7" if level < 5 else "MQTT-2.2.1-6") in seen


def test_unsuback_says_which_filters_had_no_subscription() -> None:
    peer = Peer(make_core())
    peer.connect("c")
    ack = only(peer.send(Unsubscribe(packet_id=3, topic_filters=("nope",), protocol_level=5)),
               Unsuback)
    assert ack.reason_codes == (0x11,) and "nope" in (ack.properties.reason_string or "")
    assert "MQTT-3.11.3-2" in peer.core.trace.snapshot()["5.0"]


@pytest.mark.parametrize("level", [4, 5])
def test_topics_are_matched_as_received_u_feff_included(level: int) -> None:
    core = make_core()
    sub, pub = Peer(core, level), Peer(core, level)
    sub.connect("sub")
    sub.subscribe("\ufeffa", qos=0)
    pub.connect("pub")
    pub.publish("a")
    assert sub.received() == []  # U+FEFF is a character like any other: no match
    pub.publish("\ufeffa")
    assert only(sub.received(), Publish).topic == "\ufeffa"  # never stripped
    seen = core.trace.snapshot()[version_of(level)]
    assert {"MQTT-1.5.3-3" if level < 5 else "MQTT-1.5.4-3", "MQTT-4.7.3-4"} <= set(seen)


@pytest.mark.parametrize("level", [4, 5])
def test_leading_wildcards_never_match_dollar_topics(level: int) -> None:
    core = make_core()
    sub, pub = Peer(core, level), Peer(core, level)
    sub.connect("sub")
    sub.subscribe("#", "+/x", qos=0)
    pub.connect("pub")
    pub.publish("$SYS/x")
    assert sub.received() == []
    pub.publish("a/x")
    assert only(sub.received(), Publish).topic == "a/x"
    assert "MQTT-4.7.2-1" in core.trace.snapshot()[version_of(level)]


def test_unavailable_features_get_suback_failure_codes() -> None:
    core = make_core(wildcard_subscription_available=False,
                     subscription_identifier_available=False,
                     shared_subscription_available=False)
    peer = Peer(core)
    peer.connect()
    assert only(peer.subscribe("a/+", "$share/g/a", "plain", qos=1), Suback).reason_codes == (
        0xA2, 0x9E, 1)
    ack = only(peer.subscribe("x", packet_id=2, properties=Properties(
        subscription_identifiers=(3,))), Suback)
    assert ack.reason_codes == (0xA1,)
    old = Peer(core, 4)
    old.connect("old")
    assert only(old.subscribe("a/#", "b", qos=1), Suback).reason_codes == (0x80, 1)
    ancient = Peer(core, 3)  # MQTT 3.1 has no failure code: the connection is closed
    ancient.connect("ancient")
    assert ancient.subscribe("a/#") == [] and ancient.closed


def test_shared_subscription_round_robin() -> None:
    core = make_core()
    members: list[Peer] = []
    for name in ("m1", "m2", "m3"):
        peer = Peer(core)
        peer.connect(name)
        peer.subscribe("$share/g/jobs/+", qos=1, properties=Properties(
            subscription_identifiers=(len(members) + 1,)))
        members.append(peer)
    plain = Peer(core)
    plain.connect("plain")
    plain.subscribe("jobs/#", qos=0)
    pub = Peer(core)
    pub.connect("pub")
    for i in range(6):
        pub.publish("jobs/x", bytes([i]), qos=1, packet_id=i + 1)
    got = [[m.payload[0] for m in of_type(p.received(), Publish)] for p in members]
    assert sorted(sum(got, [])) == list(range(6))
    assert all(len(g) == 2 for g in got)  # round robin
    assert len(of_type(plain.received(), Publish)) == 6  # non-shared get every message
    # a disconnected member is skipped while others are connected
    members[0].send(Disconnect(protocol_level=5))
    for i in range(4):
        pub.publish("jobs/y", bytes([i]), qos=1, packet_id=i + 1)
    assert len(of_type(members[1].received(), Publish)) + len(
        of_type(members[2].received(), Publish)) == 4


def test_shared_subscription_carries_its_own_identifier_and_no_retained() -> None:
    core = make_core()
    pub = Peer(core)
    pub.connect("pub")
    pub.publish("s/x", b"r", retain=True)
    sub = Peer(core)
    sub.connect("sub")
    out = sub.subscribe("$share/g/s/#", qos=0, properties=Properties(
        subscription_identifiers=(7,)))
    assert of_type(out, Publish) == []
    sub.subscribe("s/x", qos=0, packet_id=2, properties=Properties(
        subscription_identifiers=(8,)))
    sub.received()
    pub.publish("s/x", b"live")
    msgs = of_type(sub.received(), Publish)
    assert sorted(m.properties.subscription_identifiers for m in msgs) == [(7,), (8,)]
