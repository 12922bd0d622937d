"""CONNECT / CONNACK rules, keep alive and takeover, on the engine without sockets."""

from __future__ import annotations

from mqttspec import Connack, Connect, Disconnect, Pingreq, Pingresp, Properties, Will
from mqttspec.raw import RawPacket

from .engine_peer import Peer, make_core, only


def raw_connect(body_hex: str) -> bytes:
    """A CONNECT written byte by byte (never with the strict encoder)."""
    return RawPacket(1).raw(bytes.fromhex(body_hex)).build()


def test_v311_connack_success_and_session_present() -> None:
    core = make_core()
    ack = only(Peer(core, 4).connect("a", clean=False), Connack)
    assert (ack.reason_code, ack.session_present) == (0, False)
    # the session persists (CleanSession 0): a second connection finds it
    ack = only(Peer(core, 4).connect("a", clean=False), Connack)
    assert ack.session_present
    # CleanSession 1 discards it: Session Present 0
    ack = only(Peer(core, 4).connect("a", clean=True), Connack)
    assert not ack.session_present


def test_v31_client_identifier_rules() -> None:
    core = make_core()
    assert only(Peer(core, 3).connect("x" * 23), Connack).reason_code == 0
    peer = Peer(core, 3)
    assert only(peer.connect("x" * 24), Connack).reason_code == 2  # Identifier rejected
    assert peer.closed
    assert only(Peer(core, 3).connect(""), Connack).reason_code == 2


def test_v311_zero_length_client_id() -> None:
    core = make_core()
    peer = Peer(core, 4)
    assert only(peer.connect("", clean=False), Connack).reason_code == 2  # MQTT-3.1.3-8
    assert peer.closed
    peer = Peer(core, 4)
    assert only(peer.connect("", clean=True), Connack).reason_code == 0  # assigned
    assert peer.conn.client_id
    core = make_core(allow_zero_length_client_id=False)
    assert only(Peer(core, 4).connect("", clean=True), Connack).reason_code == 2


def test_v5_assigned_client_identifier() -> None:
    core = make_core()
    peer = Peer(core)
    ack = only(peer.connect(""), Connack)
    assigned = ack.properties.assigned_client_identifier
    assert ack.reason_code == 0 and assigned and assigned == peer.conn.client_id
    assert 1 <= len(assigned) <= 23 and assigned.isalnum()
    core = make_core(allow_zero_length_client_id=False)
    peer = Peer(core)
    assert only(peer.connect(""), Connack).reason_code == 0x85
    assert peer.closed


def test_v5_connack_declares_capabilities() -> None:
    core = make_core(maximum_qos=1, retain_available=False, receive_maximum=5,
                     maximum_packet_size=1000, topic_alias_maximum=3, server_keep_alive=7,
                     wildcard_subscription_available=False,
                     subscription_identifier_available=False,
                     shared_subscription_available=False, session_expiry_max=60)
    ack = only(Peer(core).connect("c", properties=Properties(session_expiry_interval=600)),
               Connack)
    p = ack.properties
    assert (p.maximum_qos, p.retain_available, p.receive_maximum) == (1, 0, 5)
    assert (p.maximum_packet_size, p.topic_alias_maximum, p.server_keep_alive) == (1000, 3, 7)
    assert (p.wildcard_subscription_available, p.subscription_identifier_available,
            p.shared_subscription_available) == (0, 0, 0)
    assert p.session_expiry_interval == 60  # capped, so told
    assert p.response_information is None  # not requested (MQTT-3.1.2-28)


def test_v5_response_information_on_request() -> None:
    ack = only(Peer(make_core()).connect(
        "rr", properties=Properties(request_response_information=1)), Connack)
    assert ack.properties.response_information == "response/rr"


def test_v5_will_qos_and_retain_beyond_capabilities_are_refused() -> None:
    core = make_core(maximum_qos=1, retain_available=False)
    peer = Peer(core)
    assert only(peer.connect(will=Will(topic="w", qos=2)), Connack).reason_code == 0x9B
    assert peer.closed
    peer = Peer(core)
    assert only(peer.connect(will=Will(topic="w", retain=True)), Connack).reason_code == 0x9A


def test_v5_authentication_method_is_refused_for_now() -> None:
    peer = Peer(make_core())
    ack = only(peer.connect(properties=Properties(authentication_method="SCRAM")), Connack)
    assert ack.reason_code == 0x8C and peer.closed


def test_second_connect_is_a_protocol_error() -> None:
    peer = Peer(make_core())
    peer.connect()
    d = only(peer.connect(), Disconnect)
    assert d.reason_code == 0x82 and peer.closed
    peer = Peer(make_core(), 4)
    peer.connect()
    assert peer.connect() == [] and peer.closed  # 3.x: just close


def test_first_packet_must_be_connect() -> None:
    peer = Peer(make_core())
    assert peer.send_bytes(bytes.fromhex("c000")) == []  # PINGREQ first
    assert peer.closed


def test_unsupported_protocol_level_gets_connack_0x01() -> None:
    # CONNECT "MQTT" level 6: answered in the 3.1.1 format with return code 1
    raw = raw_connect("00044d5154540602003c00016b")
    peer = Peer(make_core(), 4)
    assert only(peer.send_bytes(raw), Connack).reason_code == 1
    assert peer.closed


def test_malformed_v5_connect_gets_connack_with_reason_code() -> None:
    # reserved Connect Flag set: Malformed Packet (MQTT-3.1.2-3)
    peer = Peer(make_core())
    ack = only(peer.send_bytes(raw_connect("00044d515454050300000000016b")), Connack)
    assert ack.reason_code == 0x81
    assert peer.closed
    peer = Peer(make_core(), 4)  # 3.1.1: close without a CONNACK (MQTT-3.1.4-1)
    assert peer.send_bytes(raw_connect("00044d5154540403003c00016b")) == []
    assert peer.closed


def test_nothing_is_processed_after_a_refused_connect() -> None:
    core = make_core(allow_zero_length_client_id=False)
    peer = Peer(core, 4)
    data = bytes.fromhex("100c00044d5154540402003c0000") + bytes.fromhex("c000")
    assert [type(p) for p in peer.send_bytes(data)] == [Connack]


def test_connection_cap() -> None:
    core = make_core(max_connections=1)
    first = Peer(core)
    assert only(first.connect("one"), Connack).reason_code == 0
    second, third = Peer(core), Peer(core, 4)
    assert only(second.connect("two"), Connack).reason_code == 0x89
    assert only(third.connect("three"), Connack).reason_code == 3
    for peer in (first, second, third):  # what the server does once the sockets are closed
        peer.conn.connection_lost(1.0)
    assert only(Peer(core).connect("four"), Connack).reason_code == 0


def test_keep_alive_closes_after_one_and_a_half_times() -> None:
    peer = Peer(make_core())
    peer.connect(keep_alive=10, now=0.0)
    assert peer.conn.check_keep_alive(14.9) == 15.0
    peer.send(Pingreq(protocol_level=5), now=14.0)
    assert peer.conn.check_keep_alive(20.0) == 29.0  # the deadline moved on
    assert peer.conn.check_keep_alive(29.0) is None
    assert only(peer.received(), Disconnect).reason_code == 0x8D
    assert peer.closed


def test_keep_alive_v311_just_closes() -> None:
    peer = Peer(make_core(), 4)
    peer.connect(keep_alive=2)
    assert peer.conn.check_keep_alive(3.0) is None and peer.closed
    assert peer.received() == []


def test_server_keep_alive_replaces_the_clients() -> None:
    peer = Peer(make_core(server_keep_alive=4))
    peer.connect(keep_alive=100)
    assert peer.conn.check_keep_alive(5.9) == 6.0
    assert peer.conn.check_keep_alive(6.0) is None and peer.closed


def test_pingreq_gets_pingresp() -> None:
    peer = Peer(make_core(), 4)
    peer.connect()
    assert isinstance(only(peer.send(Pingreq(protocol_level=4)), Pingresp), Pingresp)


def test_takeover_v5_sends_0x8e_to_the_old_connection() -> None:
    core = make_core()
    old = Peer(core)
    old.connect("same")
    new = Peer(core)
    assert only(new.connect("same"), Connack).reason_code == 0
    assert only(old.received(), Disconnect).reason_code == 0x8E
    assert old.closed and not new.closed
    assert core.sessions["same"].connection is new.conn


def test_takeover_v311_closes_the_old_connection() -> None:
    core = make_core()
    old = Peer(core, 4)
    old.connect("same", clean=False)
    old.subscribe("t", qos=1)
    new = Peer(core, 4)
    assert only(new.connect("same", clean=False), Connack).session_present
    assert old.closed and old.received() == []


def test_connect_timeout_closes_only_before_connect() -> None:
    peer = Peer(make_core())
    peer.conn.connect_timed_out(10.0)
    assert peer.closed
    peer = Peer(make_core())
    peer.connect()
    peer.conn.connect_timed_out(10.0)
    assert not peer.closed


def test_connect_packet_value_round_trip_through_helper() -> None:
    # the helper writes the CONNECT it is asked to: a sanity check of the test tool itself
    core = make_core()
    peer = Peer(core)
    peer.send(Connect(client_id="zz", keep_alive=3, protocol_level=5))
    assert peer.conn.client_id == "zz" and peer.conn.keep_alive == 3


def test_short_alphanumeric_client_identifiers_are_always_accepted() -> None:
    for level in (4, 5):
        core = make_core(allow_zero_length_client_id=False)
        ack = only(Peer(core, level).connect("Az09" * 5 + "xyz"), Connack)  # 23 characters
        assert ack.reason_code == 0
        assert "MQTT-3.1.3-5" in core.trace.snapshot()["5.0" if level == 5 else "3.1.1"]


def test_one_connack_per_network_connection() -> None:
    peer = Peer(make_core())
    ack = only(peer.connect("once"), Connack)
    assert not ack.session_present  # the only Connect Acknowledge Flag the server may set
    assert [type(p) for p in peer.connect("once")] == [Disconnect]  # no second CONNACK
    assert {"MQTT-3.2.0-2", "MQTT-3.2.2-1", "MQTT-4.13.2-1"} <= set(
        peer.core.trace.snapshot()["5.0"])
