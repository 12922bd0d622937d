"""Sessions across connections: resume and redelivery, expiry, Will Messages (no sockets)."""

from __future__ import annotations

from mqttspec import Connack, Disconnect, Properties, Puback, Publish, Pubrec, Pubrel, Will

from .engine_peer import Peer, make_core, of_type, only

PERSIST = Properties(session_expiry_interval=300)


def test_inflight_redelivered_on_resume_with_dup_and_same_ids() -> None:
    core = make_core()
    sub, pub = Peer(core, 4), Peer(core, 4)
    sub.connect("sub", clean=False)
    sub.subscribe("t", qos=2)
    pub.connect("pub")
    pub.publish("t", b"one", qos=1, packet_id=1)
    pub.publish("t", b"two", qos=2, packet_id=2)
    pub.publish("t", b"three", qos=2, packet_id=3)
    one, two, three = of_type(sub.received(), Publish)
    sub.send(Pubrec(packet_id=three.packet_id or 0, protocol_level=4))  # -> PUBREL sent
    sub.conn.connection_lost(1.0)  # the network fails
    back = Peer(core, 4)
    out = back.connect("sub", clean=False, now=2.0)
    assert only(out[:1], Connack).session_present
    resent = out[1:]
    assert [(type(p).__name__, getattr(p, "packet_id", None)) for p in resent] == [
        ("Publish", one.packet_id), ("Publish", two.packet_id), ("Pubrel", three.packet_id)]
    assert all(p.dup for p in of_type(resent, Publish))
    assert [p.payload for p in of_type(resent, Publish)] == [b"one", b"two"]


def test_messages_queued_while_offline_qos0_dropped() -> None:
    core = make_core()
    sub, pub = Peer(core), Peer(core)
    sub.connect("sub", clean=False, properties=PERSIST)
    sub.subscribe("t", qos=1)
    sub.send(Disconnect(protocol_level=5))
    pub.connect("pub")
    pub.publish("t", b"q0", qos=0)
    pub.publish("t", b"q1", qos=1)
    back = Peer(core)
    msgs = of_type(back.connect("sub", clean=False, properties=PERSIST), Publish)
    assert [(m.payload, m.dup) for m in msgs] == [(b"q1", False)]


def test_clean_start_discards_the_session() -> None:
    core = make_core()
    sub, pub = Peer(core), Peer(core)
    sub.connect("sub", clean=False, properties=PERSIST)
    sub.subscribe("t", qos=1)
    sub.send(Disconnect(protocol_level=5))
    back = Peer(core)
    assert not only(back.connect("sub", clean=True), Connack).session_present
    pub.connect("pub")
    pub.publish("t", qos=1)
    assert back.received() == []  # the subscription went with the old session


def test_session_expiry_zero_ends_with_the_connection() -> None:
    core = make_core()
    sub = Peer(core)
    sub.connect("sub", clean=False)  # no Session Expiry Interval: 0
    sub.subscribe("t")
    sub.send(Disconnect(protocol_level=5))
    assert "sub" not in core.sessions


def test_session_expires_after_the_interval() -> None:
    core = make_core()
    sub = Peer(core)
    sub.connect("sub", clean=False, properties=Properties(session_expiry_interval=10))
    sub.send(Disconnect(protocol_level=5), now=5.0)
    assert core.next_deadline() == 15.0
    core.tick(14.9)
    assert "sub" in core.sessions
    core.tick(15.0)
    assert "sub" not in core.sessions and core.next_deadline() is None


def test_session_expiry_capped_by_config() -> None:
    core = make_core(session_expiry_max=5)
    sub = Peer(core)
    ack = only(sub.connect("s", clean=False, properties=Properties(session_expiry_interval=60)),
               Connack)
    assert ack.properties.session_expiry_interval == 5


def test_disconnect_may_change_session_expiry_but_not_from_zero() -> None:
    core = make_core()
    peer = Peer(core)
    peer.connect("a", properties=Properties(session_expiry_interval=1))
    peer.send(Disconnect(properties=Properties(session_expiry_interval=50), protocol_level=5))
    assert core.sessions["a"].expiry_interval == 50
    peer = Peer(core)
    peer.connect("b")
    d = only(peer.send(Disconnect(properties=Properties(session_expiry_interval=50),
                                  protocol_level=5)), Disconnect)
    assert d.reason_code == 0x82


def watcher(core: object, topic: str = "will/#") -> Peer:
    peer = Peer(core)  # type: ignore[arg-type]
    peer.connect("watcher")
    peer.subscribe(topic, qos=1)
    return peer


def test_will_published_on_abnormal_close_not_on_disconnect() -> None:
    for level in (4, 5):
        core = make_core()
        w = watcher(core)
        peer = Peer(core, level)
        peer.connect("dies", will=Will(topic="will/x", payload=b"bye", qos=1))
        peer.conn.connection_lost(1.0)
        msg = only(w.received(), Publish)
        assert (msg.topic, msg.payload, msg.qos, msg.retain) == ("will/x", b"bye", 1, False)
        peer = Peer(core, level)
        peer.connect("polite", will=Will(topic="will/y", payload=b"bye"))
        peer.send(Disconnect(protocol_level=level))
        assert w.received() == []


def test_will_on_disconnect_with_will_message_0x04() -> None:
    core = make_core()
    w = watcher(core)
    peer = Peer(core)
    peer.connect("p", will=Will(topic="will/x", payload=b"bye"))
    peer.send(Disconnect(reason_code=0x04, protocol_level=5))
    assert only(w.received(), Publish).payload == b"bye"


def test_will_retain_and_properties() -> None:
    core = make_core()
    peer = Peer(core)
    props = Properties(content_type="c", user_properties=(("z", "1"), ("a", "2")),
                       will_delay_interval=0, message_expiry_interval=100)
    peer.connect("p", will=Will(topic="will/r", payload=b"gone", retain=True, properties=props))
    peer.conn.connection_lost(1.0)
    late = Peer(core)
    late.connect("late")
    msg = only(of_type(late.subscribe("will/#", qos=0), Publish), Publish)
    assert msg.retain and msg.payload == b"gone"
    assert msg.properties.user_properties == (("z", "1"), ("a", "2"))
    assert msg.properties.content_type == "c"
    assert msg.properties.will_delay_interval is None


def test_v311_will_retain() -> None:
    core = make_core()
    peer = Peer(core, 4)
    peer.connect("p", will=Will(topic="will/r", payload=b"gone", retain=True))
    peer.conn.connection_lost(1.0)
    late = Peer(core, 4)
    late.connect("late")
    msg = only(of_type(late.subscribe("will/#", qos=0), Publish), Publish)
    assert msg.retain and msg.payload == b"gone"
    assert "MQTT-3.1.2-17" in core.trace.snapshot()["3.1.1"]


def test_will_delay_and_reconnection_within_it() -> None:
    core = make_core()
    w = watcher(core)
    will = Will(topic="will/x", payload=b"bye", properties=Properties(will_delay_interval=5))
    peer = Peer(core)
    peer.connect("p", clean=False, will=will, properties=PERSIST)
    peer.conn.connection_lost(10.0)
    assert w.received() == [] and core.next_deadline() == 15.0
    again = Peer(core)
    again.connect("p", clean=False, properties=PERSIST, now=12.0)  # within the delay
    core.tick(20.0)
    assert w.received() == []


def test_will_delay_elapses() -> None:
    core = make_core()
    w = watcher(core)
    will = Will(topic="will/x", payload=b"bye", properties=Properties(will_delay_interval=5))
    peer = Peer(core)
    peer.connect("p", clean=False, will=will, properties=PERSIST)
    peer.conn.connection_lost(10.0)
    core.tick(14.0)
    assert w.received() == []
    core.tick(15.0)
    assert only(w.received(), Publish).payload == b"bye"


def test_will_published_when_the_session_ends_before_the_delay() -> None:
    core = make_core()
    w = watcher(core)
    will = Will(topic="will/x", payload=b"bye", properties=Properties(will_delay_interval=60))
    peer = Peer(core)
    peer.connect("p", will=will, properties=Properties(session_expiry_interval=2))
    peer.conn.connection_lost(0.0)
    core.tick(2.0)
    assert only(w.received(), Publish).payload == b"bye"
    assert "p" not in core.sessions


def test_will_on_takeover() -> None:
    core = make_core()
    w = watcher(core)
    old = Peer(core, 4)
    old.connect("same", will=Will(topic="will/x", payload=b"taken"))
    Peer(core, 4).connect("same")
    assert only(w.received(), Publish).payload == b"taken"


def test_will_on_protocol_error_and_keep_alive_timeout() -> None:
    core = make_core()
    w = watcher(core)
    peer = Peer(core)
    peer.connect("a", will=Will(topic="will/a", payload=b"1"))
    peer.send_bytes(bytes.fromhex("3603000161"))  # malformed
    peer = Peer(core, 4)
    peer.connect("b", will=Will(topic="will/b", payload=b"2"), keep_alive=1)
    peer.conn.check_keep_alive(2.0)
    assert [m.payload for m in of_type(w.received(), Publish)] == [b"1", b"2"]


def test_puback_with_error_code_is_final() -> None:
    core = make_core()
    sub, pub = Peer(core), Peer(core)
    sub.connect("sub")
    sub.subscribe("t", qos=2)
    pub.connect("pub")
    pub.publish("t", qos=2)
    msg = only(sub.received(), Publish)
    assert sub.send(Pubrec(packet_id=msg.packet_id or 0, reason_code=0x80,
                           protocol_level=5)) == []  # no PUBREL
    assert core.sessions["sub"].inflight == {}
    pub.publish("t", qos=1, packet_id=2)
    msg = only(sub.received(), Publish)
    sub.send(Puback(packet_id=msg.packet_id or 0, reason_code=0x80, protocol_level=5))
    assert core.sessions["sub"].inflight == {}


def test_pubrec_for_unknown_id_v5() -> None:
    core = make_core()
    peer = Peer(core)
    peer.connect()
    assert only(peer.send(Pubrec(packet_id=3, protocol_level=5)), Pubrel).reason_code == 0x92


def test_incoming_qos2_state_survives_reconnection() -> None:
    core = make_core()
    w = watcher(core, "t")
    pub = Peer(core, 4)
    pub.connect("pub", clean=False)
    pub.publish("t", qos=2, packet_id=4)
    assert len(of_type(w.received(), Publish)) == 1
    pub.conn.connection_lost(1.0)
    again = Peer(core, 4)
    again.connect("pub", clean=False)
    only(again.publish("t", qos=2, packet_id=4, dup=True), Pubrec)
    assert w.received() == []  # not delivered twice


def test_session_state_lasts_while_connected_and_is_stored_between_connections() -> None:
    core = make_core()
    sub, pub = Peer(core), Peer(core)
    sub.connect("sub", clean=False, properties=Properties(session_expiry_interval=1))
    sub.subscribe("t", qos=1)
    pub.connect("pub")
    core.tick(100.0)  # long past the interval, but the connection is open
    pub.publish("t", qos=1, now=100.0)
    assert only(sub.received(), Publish).topic == "t"
    sub.send(Disconnect(protocol_level=5), now=100.0)
    core.tick(100.5)
    assert "sub" in core.sessions  # the interval counts from the close
    core.tick(101.0)
    assert "sub" not in core.sessions
    assert {"MQTT-4.1.0-1", "MQTT-4.1.0-2"} <= set(core.trace.snapshot()["5.0"])
    old = Peer(core, 4)  # 3.1.1: CleanSession 0 keeps the state until the client resets it
    old.connect("old", clean=False)
    old.subscribe("u", qos=1)
    old.conn.connection_lost(1.0)
    core.tick(10_000.0)
    again = Peer(core, 4)
    assert only(again.connect("old", clean=False), Connack).session_present
    pub.publish("u", b"kept", qos=1)
    assert only(again.received(), Publish).payload == b"kept"
    assert {"MQTT-4.1.0-1", "MQTT-4.1.0-2"} <= set(core.trace.snapshot()["3.1.1"])


def test_retained_messages_outlive_the_session_that_published_them() -> None:
    core = make_core()
    pub = Peer(core, 4)
    pub.connect("pub", clean=True)
    pub.publish("r", b"kept", retain=True)
    pub.send(Disconnect(protocol_level=4))  # CleanSession 1: the session ends here
    assert "pub" not in core.sessions
    sub = Peer(core, 4)
    sub.connect("sub")
    assert [m.payload for m in of_type(sub.subscribe("r"), Publish)] == [b"kept"]
    assert "MQTT-3.1.2-7" in core.trace.snapshot()["3.1.1"]


def test_no_will_flag_no_will_message() -> None:
    core = make_core()
    w = watcher(core, "#")
    peer = Peer(core, 4)
    peer.connect("quiet")  # Will Flag 0
    peer.conn.connection_lost(1.0)  # an abnormal close
    assert w.received() == []
    assert "MQTT-3.1.2-12" in core.trace.snapshot()["3.1.1"]
