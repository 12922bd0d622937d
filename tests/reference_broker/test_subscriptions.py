"""Retained messages, subscription options, shared subscriptions, SUBACK/UNSUBACK codes."""

from __future__ import annotations

from mqttspec import Disconnect, Properties, Puback, Publish, Suback, Unsuback, Unsubscribe

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
    out = old.send(Unsubscribe(packet_id=6, topic_filters=("zz",),
                           protocol_level=4))
    assert only(out, Unsuback).reason_codes == ()


def test_unsubscribe_completes_messages_in_flight() -> None:
    core = make_core()
    sub, pub = Peer(core), Peer(core)
    sub.connect("sub")
    sub.subscribe("t", qos=1)
    pub.connect("pub")
    pub.publish("t", qos=1)
    msg = only(sub.received(), Publish)
    sub.send(Unsubscribe(packet_id=9, topic_filters=("t",), protocol_level=5))
    assert msg.packet_id in core.sessions["sub"].inflight
    sub.send(Puback(packet_id=msg.packet_id or 0, protocol_level=5))
    assert core.sessions["sub"].inflight == {}


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
