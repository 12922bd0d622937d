"""PUBLISH flows both ways, flow control, sizes, aliases, expiry and properties (no sockets)."""

from __future__ import annotations

from mqttspec import (
    Disconnect,
    Properties,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
)

from .engine_peer import Peer, make_core, of_type, only


def pair(level: int = 5, **options: object) -> tuple[Peer, Peer]:
    """A subscriber on "t/#" (QoS 2) and a publisher, both connected."""
    core = make_core(**options)
    sub, pub = Peer(core, level), Peer(core, level)
    sub.connect("sub")
    sub.subscribe("t/#")
    pub.connect("pub")
    return sub, pub


def test_qos0_forwarded() -> None:
    sub, pub = pair(4)
    assert pub.publish("t/a", b"hi") == []
    msg = only(sub.received(), Publish)
    assert (msg.topic, msg.payload, msg.qos, msg.dup, msg.retain) == ("t/a", b"hi", 0, False,
                                                                         False)


def test_qos1_both_directions() -> None:
    sub, pub = pair(4)
    ack = only(pub.publish("t/a", qos=1, packet_id=7), Puback)
    assert ack.packet_id == 7
    msg = only(sub.received(), Publish)
    assert msg.qos == 1 and msg.packet_id is not None and not msg.dup
    sub.send(Puback(packet_id=msg.packet_id, protocol_level=4))
    assert sub.core.sessions["sub"].inflight == {}


def test_qos2_both_directions() -> None:
    sub, pub = pair()
    assert only(pub.publish("t/a", qos=2, packet_id=9), Pubrec).packet_id == 9
    msg = only(sub.received(), Publish)  # method B: passed on at once
    assert msg.qos == 2
    # a re-sent PUBLISH before PUBREL is acknowledged again, not delivered again
    assert only(pub.publish("t/a", qos=2, packet_id=9, dup=True), Pubrec).packet_id == 9
    assert sub.received() == []
    assert only(pub.send(Pubrel(packet_id=9, protocol_level=5)), Pubcomp).reason_code == 0
    # subscriber side: PUBREC -> PUBREL -> PUBCOMP
    assert msg.packet_id is not None
    rel = only(sub.send(Pubrec(packet_id=msg.packet_id, protocol_level=5)), Pubrel)
    assert rel.packet_id == msg.packet_id
    assert sub.send(Pubcomp(packet_id=msg.packet_id, protocol_level=5)) == []
    assert sub.core.sessions["sub"].inflight == {}
    # after PUBCOMP the same Packet Identifier is a new message
    only(pub.publish("t/a", qos=2, packet_id=9), Pubrec)
    assert only(sub.received(), Publish).qos == 2


def test_pubrel_for_unknown_packet_id() -> None:
    _, pub = pair()
    assert only(pub.send(Pubrel(packet_id=5, protocol_level=5)), Pubcomp).reason_code == 0x92


def test_no_matching_subscribers_reason_code() -> None:
    _, pub = pair()
    assert only(pub.publish("elsewhere", qos=1), Puback).reason_code == 0x10
    assert only(pub.publish("elsewhere", qos=2, packet_id=2), Pubrec).reason_code == 0x10
    _, pub = pair(4)
    assert only(pub.publish("elsewhere", qos=1), Puback).reason_code == 0


def test_qos_is_the_minimum_of_published_and_granted() -> None:
    core = make_core()
    sub, pub = Peer(core), Peer(core)
    sub.connect("sub")
    sub.subscribe("t", qos=1)
    pub.connect("pub")
    pub.publish("t", qos=2)
    assert only(sub.received(), Publish).qos == 1
    pub.publish("t", qos=0)
    assert only(sub.received(), Publish).qos == 0


def test_maximum_qos_downgrades_subscriptions_and_refuses_higher_publish() -> None:
    core = make_core(maximum_qos=1)
    sub = Peer(core)
    sub.connect("sub")
    assert only(sub.subscribe("t", qos=2), Suback).reason_codes == (1,)
    pub = Peer(core)
    pub.connect("pub")
    assert only(pub.publish("t", qos=2), Disconnect).reason_code == 0x9B
    assert pub.closed
    old = Peer(core, 4)  # 3.1.1 was not told: accepted, forwarded at QoS 1
    old.connect("old")
    only(old.publish("t", qos=2), Pubrec)
    assert only(sub.received(), Publish).qos == 1


def test_retain_not_available_v5_is_a_disconnect() -> None:
    core = make_core(retain_available=False)
    pub = Peer(core)
    pub.connect()
    assert only(pub.publish("t", retain=True), Disconnect).reason_code == 0x9A


def test_overlapping_subscriptions_one_copy_all_identifiers_max_qos() -> None:
    core = make_core()
    sub, pub = Peer(core), Peer(core)
    sub.connect("sub")
    sub.subscribe("a/+", qos=0, properties=Properties(subscription_identifiers=(1,)))
    sub.subscribe("a/#", qos=2, packet_id=2, properties=Properties(subscription_identifiers=(2,)))
    sub.subscribe("a/b", qos=1, packet_id=3)
    pub.connect("pub")
    pub.publish("a/b", qos=2)
    msg = only(sub.received(), Publish)
    assert msg.qos == 2
    assert sorted(msg.properties.subscription_identifiers) == [1, 2]
    assert "MQTT-3.3.4-2" in core.trace.snapshot()["5.0"]


def test_overlapping_subscriptions_v311_one_copy() -> None:
    core = make_core()
    sub, pub = Peer(core, 4), Peer(core, 4)
    sub.connect("sub")
    sub.subscribe("a/+", "a/#", qos=1)
    pub.connect("pub")
    pub.publish("a/b", qos=2)
    assert only(sub.received(), Publish).qos == 1
    assert "MQTT-3.3.5-1" in core.trace.snapshot()["3.1.1"]


def test_no_local() -> None:
    core = make_core()
    peer = Peer(core)
    peer.connect("me")
    peer.subscribe("t", qos=0, no_local=True)
    peer.publish("t")
    assert peer.received() == []
    other = Peer(core)
    other.connect("other")
    other.publish("t")
    assert only(peer.received(), Publish).topic == "t"
    assert "MQTT-3.8.3-3" in core.trace.snapshot()["5.0"]


def test_retain_as_published() -> None:
    core = make_core()
    keep, clear, pub = Peer(core), Peer(core), Peer(core)
    keep.connect("keep")
    keep.subscribe("t", qos=0, retain_as_published=True)
    clear.connect("clear")
    clear.subscribe("t", qos=0)
    pub.connect("pub")
    pub.publish("t", b"r", retain=True)
    assert only(keep.received(), Publish).retain
    assert not only(clear.received(), Publish).retain
    assert {"MQTT-3.3.1-12", "MQTT-3.3.1-13"} <= set(core.trace.snapshot()["5.0"])


def test_dollar_topics_not_matched_by_leading_wildcards() -> None:
    core = make_core()
    sub, pub = Peer(core), Peer(core)
    sub.connect("sub")
    sub.subscribe("#", "+/x", qos=0)
    sub.subscribe("$SYS/#", qos=0, packet_id=2)
    pub.connect("pub")
    pub.publish("$SYS/x")
    assert [p.topic for p in of_type(sub.received(), Publish)] == ["$SYS/x"]


def test_properties_forwarded_unaltered_and_in_order() -> None:
    sub, pub = pair()
    props = Properties(payload_format_indicator=1, content_type="text/plain",
                       response_topic="reply/here", correlation_data=b"\x00\x01",
                       user_properties=(("b", "2"), ("a", "1"), ("b", "1")))
    pub.publish("t/x", b"body", qos=1, properties=props)
    got = only(sub.received(), Publish).properties
    assert got.payload_format_indicator == 1 and got.content_type == "text/plain"
    assert got.response_topic == "reply/here" and got.correlation_data == b"\x00\x01"
    assert got.user_properties == (("b", "2"), ("a", "1"), ("b", "1"))


def test_message_expiry_decremented_and_expired_messages_dropped() -> None:
    core = make_core()
    sub, pub = Peer(core), Peer(core)
    sub.connect("sub", clean=False, properties=Properties(session_expiry_interval=100))
    sub.subscribe("t", qos=1)
    sub.send(Disconnect(protocol_level=5), now=1.0)
    pub.connect("pub")
    pub.publish("t", b"long", qos=1, packet_id=1, now=2.0,
                properties=Properties(message_expiry_interval=10))
    pub.publish("t", b"short", qos=1, packet_id=2, now=2.0,
                properties=Properties(message_expiry_interval=3))
    back = Peer(core)
    msgs = of_type(back.connect("sub", clean=False, now=6.5,
                                properties=Properties(session_expiry_interval=100)), Publish)
    assert [m.payload for m in msgs] == [b"long"]  # "short" expired while queued
    assert msgs[0].properties.message_expiry_interval == 6  # 10 minus 4 whole seconds


def test_receive_maximum_of_the_client_is_respected() -> None:
    core = make_core()
    sub, pub = Peer(core), Peer(core)
    sub.connect("sub", properties=Properties(receive_maximum=2))
    sub.subscribe("t", qos=1)
    pub.connect("pub")
    for i in range(1, 6):
        pub.publish("t", bytes([i]), qos=1, packet_id=i)
    first = of_type(sub.received(), Publish)
    assert [m.payload for m in first] == [b"\x01", b"\x02"]
    more = sub.send(Puback(packet_id=first[0].packet_id or 0, protocol_level=5))
    assert [m.payload for m in of_type(more, Publish)] == [b"\x03"]
    assert sub.conn.outstanding == 2
    assert len(sub.core.sessions["sub"].queue) == 2


def test_receive_maximum_of_the_server_is_enforced() -> None:
    core = make_core(receive_maximum=2)
    pub = Peer(core)
    pub.connect("pub")
    only(pub.publish("t", qos=2, packet_id=1), Pubrec)
    only(pub.publish("t", qos=2, packet_id=2), Pubrec)
    assert only(pub.publish("t", qos=2, packet_id=3), Disconnect).reason_code == 0x93
    assert pub.closed


def test_maximum_packet_size_outgoing_discards_the_message() -> None:
    core = make_core()
    sub, pub = Peer(core), Peer(core)
    sub.connect("sub", properties=Properties(maximum_packet_size=64))
    sub.subscribe("t", qos=1)
    pub.connect("pub")
    pub.publish("t", b"x" * 100, qos=1, packet_id=1)
    pub.publish("t", b"small", qos=1, packet_id=2)
    msgs = of_type(sub.received(), Publish)
    assert [m.payload for m in msgs] == [b"small"]
    assert list(core.sessions["sub"].inflight) == [msgs[0].packet_id]  # nothing left behind


def test_maximum_packet_size_incoming() -> None:
    core = make_core(maximum_packet_size=50)
    pub = Peer(core)
    pub.connect("pub")
    assert only(pub.publish("t", b"x" * 60), Disconnect).reason_code == 0x95
    assert pub.closed


def test_topic_alias_client_to_server() -> None:
    sub, pub = pair(topic_alias_maximum=2)
    pub.publish("t/a", b"1", properties=Properties(topic_alias=1))
    pub.publish("", b"2", properties=Properties(topic_alias=1))
    msgs = of_type(sub.received(), Publish)
    assert [(m.topic, m.payload) for m in msgs] == [("t/a", b"1"), ("t/a", b"2")]
    assert all(m.properties.topic_alias is None for m in msgs)
    assert only(pub.publish("", properties=Properties(topic_alias=2)), Disconnect) \
        .reason_code == 0x82  # alias never mapped
    _, pub = pair(topic_alias_maximum=2)
    assert only(pub.publish("t", properties=Properties(topic_alias=3)), Disconnect) \
        .reason_code == 0x94


def test_topic_alias_mappings_do_not_outlive_the_connection() -> None:
    core = make_core()
    pub = Peer(core)
    pub.connect("pub", clean=False, properties=Properties(session_expiry_interval=60))
    pub.publish("t", properties=Properties(topic_alias=1))
    pub.send(Disconnect(protocol_level=5))
    again = Peer(core)
    again.connect("pub", clean=False, properties=Properties(session_expiry_interval=60))
    assert only(again.publish("", properties=Properties(topic_alias=1)), Disconnect) \
        .reason_code == 0x82
    assert "MQTT-3.3.2-7" in core.trace.snapshot()["5.0"]


def test_topic_alias_server_to_client() -> None:
    core = make_core()
    sub, pub = Peer(core), Peer(core)
    sub.connect("sub", properties=Properties(topic_alias_maximum=1))
    sub.subscribe("#", qos=0)
    pub.connect("pub")
    for topic in ("a", "a", "b"):
        pub.publish(topic)
    msgs = of_type(sub.received(), Publish)
    assert [(m.topic, m.properties.topic_alias) for m in msgs] == [
        ("a", 1), ("", 1), ("b", None)]  # aliases count from 1
    assert "MQTT-3.3.2-8" in core.trace.snapshot()["5.0"]


def test_no_topic_alias_without_topic_alias_maximum() -> None:
    sub, pub = pair()
    pub.publish("t/a")
    pub.publish("t/a")
    assert all(m.properties.topic_alias is None for m in of_type(sub.received(), Publish))


def test_request_problem_information_0_strips_reason_strings() -> None:
    core = make_core(shared_subscription_available=False)
    talk, quiet = Peer(core), Peer(core)
    talk.connect("talk")
    quiet.connect("quiet", properties=Properties(request_problem_information=0))
    assert only(talk.subscribe("$share/g/t"), Suback).properties.reason_string
    ack = only(quiet.subscribe("$share/g/t"), Suback)
    assert ack.reason_codes == (0x9E,) and ack.properties.reason_string is None
    # ... but a DISCONNECT may still say why
    d = only(quiet.publish("t", qos=1, properties=Properties(topic_alias=99)), Disconnect)
    assert d.reason_code == 0x94 and d.properties.reason_string


def test_protocol_error_from_the_decoder_gives_its_reason_code() -> None:
    _, pub = pair()
    # PUBLISH with both QoS bits set: Malformed Packet
    assert only(pub.send_bytes(bytes.fromhex("3603000161")), Disconnect).reason_code == 0x81
    _, pub = pair(4)
    assert pub.send_bytes(bytes.fromhex("3603000161")) == [] and pub.closed


def test_ordering_per_topic_and_qos() -> None:
    sub, pub = pair(4)
    for i in range(1, 21):
        pub.publish("t/o", bytes([i]), qos=1 + i % 2, packet_id=i)
        pub.received()
    msgs = of_type(sub.received(), Publish)
    assert [m.payload[0] for m in msgs] == list(range(1, 21))
    assert len({m.packet_id for m in msgs}) == 20
