"""Server to client in MQTT 5: re-delivery on resume, packets too large to send, and the
rules of shared subscriptions (no sockets)."""

from __future__ import annotations

from mqttspec import Connack, Properties, Puback, Publish, Pubrec, Pubrel

from .engine_peer import Peer, make_core, of_type, only

PERSIST = Properties(session_expiry_interval=300)


def hits(peer: Peer) -> set[str]:
    return set(peer.core.trace.snapshot()["5.0"])


def test_v5_resume_resends_with_dup_and_without_expiring_what_was_sent() -> None:
    core = make_core()
    sub, pub = Peer(core), Peer(core)
    sub.connect("sub", clean=False, properties=PERSIST)
    sub.subscribe("t", qos=2)
    pub.connect("pub")
    pub.publish("t", b"one", qos=1, packet_id=1)
    pub.publish("t", b"two", qos=2, packet_id=2, properties=Properties(message_expiry_interval=2))
    pub.publish("t", b"three", qos=2, packet_id=3)
    one, two, three = of_type(sub.received(), Publish)
    sub.send(Pubrec(packet_id=three.packet_id or 0, protocol_level=5))
    sub.conn.connection_lost(1.0)
    back = Peer(core)
    out = back.connect("sub", clean=False, properties=PERSIST, now=10.0)  # "two" expired
    assert only(out[:1], Connack).session_present
    assert [(type(p).__name__, getattr(p, "packet_id", None)) for p in out[1:]] == [
        ("Publish", one.packet_id), ("Publish", two.packet_id), ("Pubrel", three.packet_id)]
    again = of_type(out, Publish)
    assert all(p.dup for p in again) and [p.payload for p in again] == [b"one", b"two"]
    assert {"MQTT-4.4.0-1", "MQTT-3.3.1-1", "MQTT-4.3.3-3", "MQTT-4.3.3-7"} <= hits(back)


def test_publish_too_large_for_the_client_is_treated_as_delivered() -> None:
    core = make_core()
    sub, pub = Peer(core), Peer(core)
    sub.connect("sub", clean=False, properties=PERSIST)
    sub.subscribe("t", qos=1)
    pub.connect("pub")
    pub.publish("t", b"x" * 100, qos=1, packet_id=1)
    assert len(of_type(sub.received(), Publish)) == 1  # not acknowledged
    sub.conn.connection_lost(1.0)
    back = Peer(core)  # comes back with a smaller Maximum Packet Size
    out = back.connect("sub", clean=False, now=2.0, properties=Properties(
        session_expiry_interval=300, maximum_packet_size=64))
    assert of_type(out, Publish) == []
    assert core.sessions["sub"].inflight == {} and back.conn.outstanding == 0
    pub.publish("t", b"y" * 100, qos=1, packet_id=2)  # from the queue: the same
    pub.publish("t", b"small", qos=1, packet_id=3)
    assert [m.payload for m in of_type(back.received(), Publish)] == [b"small"]
    assert "MQTT-3.1.2-25" in hits(back)


def shared_pair() -> tuple[Peer, Peer, Peer]:
    """Two members of "$share/g/t" (expiry 300 s) and a publisher."""
    core = make_core()
    first, second, pub = Peer(core), Peer(core), Peer(core)
    for peer, name in ((first, "m1"), (second, "m2")):
        peer.connect(name, clean=False, properties=PERSIST)
        peer.subscribe("$share/g/t", qos=2)
    pub.connect("pub")
    return first, second, pub


def test_shared_qos2_delivery_is_completed_by_the_same_member_on_reconnect() -> None:
    first, second, pub = shared_pair()
    pub.publish("t", b"m", qos=2, packet_id=1)
    assert len(of_type(first.received(), Publish)) == 1
    first.conn.connection_lost(1.0)
    back = Peer(first.core)
    resent = of_type(back.connect("m1", clean=False, properties=PERSIST, now=2.0), Publish)
    assert [(m.payload, m.dup) for m in resent] == [(b"m", True)]
    assert second.received() == []
    assert "MQTT-4.8.2-4" in hits(back)


def test_shared_message_dies_with_the_members_session() -> None:
    first, second, pub = shared_pair()
    pub.publish("t", b"m", qos=1, packet_id=1)
    assert len(of_type(first.received(), Publish)) == 1
    first.conn.connection_lost(1.0)
    first.core.tick(1000.0)  # the session expires before the member reconnects
    assert "m1" not in first.core.sessions
    assert second.received() == []  # not handed to the other member
    assert "MQTT-4.8.2-5" in hits(first)


def test_shared_message_refused_by_the_member_is_discarded() -> None:
    first, second, pub = shared_pair()
    pub.publish("t", b"m1", qos=1, packet_id=1)
    pub.publish("t", b"m2", qos=2, packet_id=2)
    one = of_type(first.received(), Publish)[0]
    two = of_type(second.received(), Publish)[0]  # round robin
    assert first.send(Puback(packet_id=one.packet_id or 0, reason_code=0x80,
                             protocol_level=5)) == []
    assert second.send(Pubrec(packet_id=two.packet_id or 0, reason_code=0x80,
                              protocol_level=5)) == []  # no PUBREL: the flow ends
    assert first.received() == [] and second.received() == []
    assert first.core.sessions["m1"].inflight == {} == first.core.sessions["m2"].inflight
    assert "MQTT-4.8.2-6" in hits(first)


def test_shared_and_plain_subscriptions_give_one_copy_each_with_its_identifier() -> None:
    core = make_core()
    sub, pub = Peer(core), Peer(core)
    sub.connect("sub")
    sub.subscribe("$share/g/t", qos=1, properties=Properties(subscription_identifiers=(1,)))
    sub.subscribe("t", qos=0, packet_id=2, properties=Properties(subscription_identifiers=(2,)))
    pub.connect("pub")
    pub.publish("t", qos=1)
    copies = of_type(sub.received(), Publish)
    assert sorted((m.properties.subscription_identifiers, m.qos) for m in copies) == [
        ((1,), 1), ((2,), 0)]  # each at its own subscription's granted QoS
    assert {"MQTT-3.3.4-5", "MQTT-4.8.2-3"} <= hits(sub)


def test_pubrel_resent_on_resume() -> None:
    core = make_core()
    sub, pub = Peer(core), Peer(core)
    sub.connect("sub", clean=False, properties=PERSIST)
    sub.subscribe("t", qos=2)
    pub.connect("pub")
    pub.publish("t", qos=2)
    msg = only(sub.received(), Publish)
    assert only(sub.send(Pubrec(packet_id=msg.packet_id or 0, protocol_level=5)), Pubrel)
    sub.conn.connection_lost(1.0)
    out = Peer(core).connect("sub", clean=False, properties=PERSIST, now=2.0)
    assert only(out[1:], Pubrel).packet_id == msg.packet_id
