"""Client to server in MQTT 5: which PUBLISH is a new message, the QoS 2 exchange around
message expiry and refusals, and the reason strings of the acknowledgements (no sockets)."""

from __future__ import annotations

from mqttspec import Properties, Puback, Pubcomp, Publish, Pubrec, Pubrel

from .engine_peer import Peer, make_core, of_type, only
from .test_auth_engine import ACL, login, secure


def hits(peer: Peer) -> set[str]:
    return set(peer.core.trace.snapshot()["5.0"])


def test_qos1_same_packet_identifier_is_a_new_message_dup_or_not() -> None:
    core = make_core()
    sub, pub = Peer(core), Peer(core)
    sub.connect("sub")
    sub.subscribe("t", qos=0)
    pub.connect("pub")
    assert only(pub.publish("t", b"1", qos=1, packet_id=7), Puback).packet_id == 7
    assert only(pub.publish("t", b"2", qos=1, packet_id=7, dup=True), Puback).packet_id == 7
    assert [m.payload for m in of_type(sub.received(), Publish)] == [b"1", b"2"]
    assert "MQTT-4.3.2-5" in hits(pub)


def test_qos2_exchange_completes_after_the_message_expired() -> None:
    pub = Peer(make_core())
    pub.connect("pub")
    only(pub.publish("t", qos=2, packet_id=4, now=0.0,
                     properties=Properties(message_expiry_interval=1)), Pubrec)
    comp = only(pub.send(Pubrel(packet_id=4, protocol_level=5), now=5.0), Pubcomp)
    assert (comp.packet_id, comp.reason_code) == (4, 0)
    assert "MQTT-4.3.3-13" in hits(pub)


def test_refused_qos2_packet_identifier_is_not_kept() -> None:
    core = secure(ACL)
    bob = login(core, 5, "bob", b"builder", "bob")[0]
    assert only(bob.publish("alice/x", qos=2, packet_id=6), Pubrec).reason_code == 0x87
    comp = only(bob.send(Pubrel(packet_id=6, protocol_level=5)), Pubcomp)
    assert comp.reason_code == 0x92 and comp.properties.reason_string  # nothing was kept
    # the same Packet Identifier again: a new message, refused again, not "already received"
    assert only(bob.publish("alice/x", qos=2, packet_id=6), Pubrec).reason_code == 0x87
    assert "MQTT-4.3.3-9" in hits(bob)


def test_unknown_packet_identifiers_are_answered_with_a_reason_string() -> None:
    peer = Peer(make_core())
    peer.connect("c")
    rel = only(peer.send(Pubrec(packet_id=9, protocol_level=5)), Pubrel)
    assert rel.reason_code == 0x92 and rel.properties.reason_string
    comp = only(peer.send(Pubrel(packet_id=9, protocol_level=5)), Pubcomp)
    assert comp.reason_code == 0x92 and comp.properties.reason_string
    assert {"MQTT-3.6.2-1", "MQTT-3.7.2-1"} <= hits(peer)
