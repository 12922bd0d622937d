"""Authentication, enhanced authentication (SCRAM-SHA-256) and topic ACLs on the engine."""

from __future__ import annotations

import pytest

from mqttspec import (
    Auth,
    Connack,
    Connect,
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
    Subscribe,
    Subscription,
    Will,
)
from mqttspec.raw import RawPacket, RawProperties
from reference_broker.acl import Acl
from reference_broker.auth import Security
from reference_broker.config import BrokerConfig
from reference_broker.core import Core
from reference_broker.passwords import PasswordFile
from reference_broker.scram import MIN_ITERATIONS, ScramClient

from .engine_peer import Peer, of_type, only

SCRAM = "SCRAM-SHA-256"
USERS = PasswordFile()
USERS.set("alice", "wonderland", MIN_ITERATIONS)
USERS.set("bob", "builder", MIN_ITERATIONS)
ACL = """\
topic read public/#
user alice
topic readwrite alice/#
topic read public/#
user bob
topic readwrite bob/#
topic write public/#
pattern readwrite clients/%c/#
"""


def secure(acl: str | None = None, allow_anonymous: bool | None = None,
           passwords: PasswordFile | None = USERS) -> Core:
    security = Security(passwords, Acl.parse(acl) if acl else None, allow_anonymous)
    return Core(BrokerConfig(), security=security)


def login(core: Core, level: int, user: str | None, password: bytes | None,
          client_id: str = "c1", will: Will | None = None, clean: bool = True
          ) -> tuple[Peer, Connack]:
    """CONNECT with a User Name and Password (clean=False: a session that lasts)."""
    peer = Peer(core, level)
    props = Properties(session_expiry_interval=None if clean or level < 5 else 600)
    ack = only(peer.send(Connect(client_id=client_id, username=user, password=password,
                                 will=will, clean_start=clean, properties=props,
                                 protocol_level=level)), Connack)
    return peer, ack


def hits(core: Core, version: str = "5.0") -> dict[str, int]:
    return core.trace.snapshot()[version]


# -- user name and password ------------------------------------------------------------------------

@pytest.mark.parametrize(("level", "bad", "denied"), [(3, 4, 5), (4, 4, 5), (5, 0x86, 0x87)])
def test_password_check_codes(level: int, bad: int, denied: int) -> None:
    core = secure()
    peer, ack = login(core, level, "alice", b"wonderland")
    assert ack.reason_code == 0 and peer.conn.username == "alice"
    for user, password, code in [("alice", b"Wonderland", bad), ("carol", b"x", bad),
                                 ("alice", None, bad), (None, None, denied)]:
        peer, ack = login(core, level, user, password, client_id="c2")
        assert (ack.reason_code, ack.session_present, peer.closed) == (code, False, True)
        assert peer.send(Pingreq(protocol_level=level)) == []  # nothing after a refusal
    if level == 5:
        assert "MQTT-3.1.4-2" in hits(core) and "MQTT-3.2.2-7" in hits(core)
        peer, ack = login(core, 5, None, b"wonderland")  # a password without a user name
        assert ack.reason_code == 0x86 and ack.properties.reason_string


def test_a_refusal_does_not_take_the_session_over() -> None:
    core = secure()
    first, ack = login(core, 4, "alice", b"wonderland", client_id="same")
    assert ack.reason_code == 0
    assert login(core, 4, "alice", b"wrong", client_id="same")[1].reason_code == 4
    assert not first.closed and core.sessions["same"].connection is first.conn


def test_anonymous_access() -> None:
    core = secure(allow_anonymous=True)
    peer, ack = login(core, 5, None, None)
    assert ack.reason_code == 0 and peer.conn.username is None
    assert login(core, 5, "alice", b"nope", "c2")[1].reason_code == 0x86  # still checked
    core = secure(passwords=None, allow_anonymous=False)
    assert login(core, 4, None, None)[1].reason_code == 5
    assert login(core, 5, "alice", b"wonderland")[1].reason_code == 0x87


def test_without_password_file_user_names_are_not_trusted() -> None:
    core = secure(ACL, passwords=None)
    peer, ack = login(core, 5, "alice", b"anything")
    assert ack.reason_code == 0 and peer.conn.username is None
    suback = only(peer.subscribe("alice/#"), Suback)
    assert suback.reason_codes == (0x87,)  # the anonymous rules apply
    assert only(peer.subscribe("public/x", packet_id=2), Suback).reason_codes == (2,)


@pytest.mark.parametrize(("level", "code"), [(4, 5), (5, 0x87), (3, 5)])
def test_will_topic_needs_write_permission(level: int, code: int) -> None:
    core = secure(ACL)
    ack = login(core, level, "alice", b"wonderland", will=Will(topic="public/w"))[1]
    assert ack.reason_code == code
    ack = login(core, level, "alice", b"wonderland", will=Will(topic="alice/w"))[1]
    assert ack.reason_code == 0
    ack = login(core, level, "bob", b"builder", "bob-1", will=Will(topic="clients/bob-1/w"))[1]
    assert ack.reason_code == 0


# -- topic ACL -------------------------------------------------------------------------------------

def test_v5_publish_refused() -> None:
    core = secure(ACL)
    sub = login(core, 5, "alice", b"wonderland", "sub")[0]
    sub.subscribe("alice/#", qos=2)
    bob = login(core, 5, "bob", b"builder", "bob")[0]
    assert bob.publish("alice/x", qos=0) == []  # dropped silently
    ack = only(bob.publish("alice/x", qos=1, packet_id=5), Puback)
    assert (ack.packet_id, ack.reason_code) == (5, 0x87) and ack.properties.reason_string
    rec = only(bob.publish("alice/x", qos=2, packet_id=6), Pubrec)
    assert rec.reason_code == 0x87  # the QoS 2 flow ends here
    assert 6 not in core.sessions["bob"].incoming_qos2
    assert sub.received() == []
    assert only(bob.publish("public/x", qos=1, packet_id=7), Puback).reason_code == 0x10
    assert not bob.closed


def test_v311_publish_refused_gets_a_positive_ack() -> None:
    core = secure(ACL)
    sub = login(core, 4, "alice", b"wonderland", "sub")[0]
    sub.subscribe("alice/#", qos=2)
    bob = login(core, 4, "bob", b"builder", "bob")[0]
    assert bob.publish("alice/x", qos=0) == []
    assert only(bob.publish("alice/x", qos=1, packet_id=5), Puback).reason_code == 0
    assert only(bob.publish("alice/x", qos=2, packet_id=6), Pubrec).reason_code == 0
    assert only(bob.send(Pubrel(packet_id=6, protocol_level=4)), Pubcomp).packet_id == 6
    assert sub.received() == [] and not bob.closed
    assert hits(core, "3.1.1")["MQTT-3.3.5-2"] == 2


def test_retained_publish_refused_is_not_stored() -> None:
    core = secure(ACL)
    bob = login(core, 5, "bob", b"builder", "bob")[0]
    bob.publish("alice/r", qos=1, retain=True)
    assert core.retained.get("alice/r") is None


@pytest.mark.parametrize(("level", "code"), [(5, 0x87), (4, 0x80)])
def test_subscribe_refused(level: int, code: int) -> None:
    core = secure(ACL)
    alice = login(core, level, "alice", b"wonderland")[0]
    packets = alice.send(Subscribe(packet_id=3, protocol_level=level, subscriptions=(
        Subscription(topic_filter="alice/+/x", qos=1), Subscription(topic_filter="#", qos=1),
        Subscription(topic_filter="bob/x", qos=0), Subscription(topic_filter="public/#"))))
    ack = only(packets, Suback)
    assert ack.reason_codes == (1, code, code, 0)
    assert "alice/+/x" in core.sessions["c1"].subscriptions
    assert "#" not in core.sessions["c1"].subscriptions
    if level == 5:
        assert ack.properties.reason_string == "subscription refused: not authorized"


def test_v31_subscribe_refused_closes() -> None:
    core = secure(ACL)
    alice = login(core, 3, "alice", b"wonderland")[0]
    assert alice.subscribe("bob/#") == [] and alice.closed


def test_read_permission_at_delivery() -> None:
    """A session resumed by another user: queued, in-flight and Will messages that user may
    not read are not sent to it."""
    core = secure("topic write alice/#\n" + ACL, allow_anonymous=True)
    alice, _ = login(core, 5, "alice", b"wonderland", "shared", clean=False)
    alice.subscribe("alice/#", qos=1)
    writer = login(core, 5, None, None, "w")[0]
    writer.publish("alice/first", qos=1)
    assert only(alice.received(), Publish).topic == "alice/first"  # not acknowledged
    alice.send(Disconnect(protocol_level=5))
    writer.publish("alice/queued", qos=1)
    dying = login(core, 5, "alice", b"wonderland", "dying", will=Will(topic="alice/will"))[0]
    bob, ack = login(core, 5, "bob", b"builder", "shared", clean=False)
    assert ack.session_present
    assert of_type(bob.received(), Publish) == []
    dying.conn.connection_lost(0.0)  # the Will is published to "shared" too
    assert bob.send(Pingreq(protocol_level=5)) == [Pingresp(protocol_level=5)]
    bob.send(Disconnect(protocol_level=5))
    # the rightful user resumes: what bob could not read was dropped, not kept
    alice, ack = login(core, 5, "alice", b"wonderland", "shared", clean=False)
    assert ack.session_present and of_type(alice.received(), Publish) == []
    writer.publish("alice/later", qos=1)
    assert only(alice.received(), Publish).topic == "alice/later"


def test_retained_messages_are_checked_too() -> None:
    core = secure("topic readwrite news/#\n" + ACL, allow_anonymous=True)
    writer = login(core, 5, None, None, "w")[0]
    writer.publish("news/a", qos=1, retain=True)
    alice = login(core, 5, "alice", b"wonderland", "a")[0]
    assert only(alice.subscribe("news/#"), Suback).reason_codes == (0x87,)
    reader = login(core, 4, None, None, "r")[0]
    packets = reader.subscribe("news/#", qos=1)
    assert [type(p) for p in packets] == [Suback, Publish]


def test_pattern_rules_use_the_client_identifier() -> None:
    core = secure(ACL)
    bob = login(core, 5, "bob", b"builder", "bob-7")[0]
    assert only(bob.subscribe("clients/bob-7/#"), Suback).reason_codes == (2,)
    assert only(bob.subscribe("clients/bob-8/#", packet_id=2), Suback).reason_codes == (0x87,)
    echo, ack = bob.publish("clients/bob-7/x", qos=1)
    assert isinstance(echo, Publish) and echo.topic == "clients/bob-7/x"
    assert isinstance(ack, Puback) and ack.reason_code == 0
    shared = only(bob.subscribe("$share/g/clients/bob-7/+", "$share/g/bob-7/x", packet_id=3),
                  Suback)
    assert shared.reason_codes == (2, 0x87)  # judged by the filter after the share name


# -- SCRAM-SHA-256 in CONNECT / AUTH / CONNACK -----------------------------------------------------

def scram_start(core: Core, user: str, password: str, client_id: str = "s1",
                username: str | None = None, will: Will | None = None
                ) -> tuple[Peer, ScramClient, Auth]:
    peer = Peer(core, 5)
    client = ScramClient(user, password)
    challenge = only(peer.send(Connect(
        client_id=client_id, username=username, will=will, protocol_level=5,
        properties=Properties(authentication_method=SCRAM,
                              authentication_data=client.first()))), Auth)
    assert challenge.reason_code == 0x18
    assert challenge.properties.authentication_method == SCRAM
    return peer, client, challenge


def scram_final(peer: Peer, client: ScramClient, challenge: Auth,
                method: str = SCRAM, code: int = 0x18) -> list[Packet]:
    data = client.final(challenge.properties.authentication_data or b"")
    return peer.send(Auth(reason_code=code, properties=Properties(
        authentication_method=method, authentication_data=data)))


def scram_login(core: Core, user: str = "alice", password: str = "wonderland",
                client_id: str = "s1") -> tuple[Peer, Connack]:
    peer, client, challenge = scram_start(core, user, password, client_id)
    ack = only(scram_final(peer, client, challenge), Connack)
    assert ack.reason_code == 0
    assert ack.properties.authentication_method == SCRAM
    client.verify(ack.properties.authentication_data or b"")  # the server knows the key
    return peer, ack


def test_scram_success() -> None:
    core = secure(ACL)
    peer, _ = scram_login(core)
    assert peer.conn.username == "alice" and peer.conn.state == "open"
    assert only(peer.subscribe("alice/#"), Suback).reason_codes == (2,)
    for statement in ("MQTT-4.12.0-2", "MQTT-4.12.0-5", "MQTT-3.1.4-2"):
        assert statement in hits(core)


@pytest.mark.parametrize(("user", "password"), [("alice", "wrong"), ("nobody", "wonderland")])
def test_scram_wrong_proof(user: str, password: str) -> None:
    core = secure()
    peer, client, challenge = scram_start(core, user, password)
    ack = only(scram_final(peer, client, challenge), Connack)
    assert (ack.reason_code, ack.session_present) == (0x87, False) and peer.closed
    assert ack.properties.authentication_method is None
    assert "MQTT-4.12.0-4" in hits(core) and "s1" not in core.sessions


def test_scram_bad_client_first_is_refused_at_once() -> None:
    core = secure()
    peer = Peer(core, 5)
    ack = only(peer.send(Connect(client_id="s", protocol_level=5, properties=Properties(
        authentication_method=SCRAM, authentication_data=b"nonsense"))), Connack)
    assert ack.reason_code == 0x87 and peer.closed


@pytest.mark.parametrize("passwords", [USERS, None])
def test_unsupported_method(passwords: PasswordFile | None) -> None:
    core = secure(passwords=passwords, allow_anonymous=True)
    for method in ("SCRAM-SHA-1", "PLAIN") + ((SCRAM,) if passwords is None else ()):
        peer = Peer(core, 5)
        ack = only(peer.connect(properties=Properties(authentication_method=method)), Connack)
        assert ack.reason_code == 0x8C and peer.closed
    assert "MQTT-4.12.0-1" in hits(core)


def test_user_name_must_be_the_scram_user() -> None:
    core = secure()
    peer, client, challenge = scram_start(core, "alice", "wonderland", username="bob")
    assert only(scram_final(peer, client, challenge), Connack).reason_code == 0x87
    peer, client, challenge = scram_start(core, "alice", "wonderland", username="alice")
    assert only(scram_final(peer, client, challenge), Connack).reason_code == 0


def test_scram_then_will_acl() -> None:
    core = secure(ACL)
    peer, client, challenge = scram_start(core, "alice", "wonderland",
                                          will=Will(topic="bob/x"))
    assert only(scram_final(peer, client, challenge), Connack).reason_code == 0x87


@pytest.mark.parametrize("packet", [
    Pingreq(protocol_level=5),
    Publish(topic="t", protocol_level=5),
    Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter="t"),), protocol_level=5),
    Connect(client_id="again", protocol_level=5),
    Auth(reason_code=0x19, protocol_level=5, properties=Properties(authentication_method=SCRAM)),
    Auth(reason_code=0x18, protocol_level=5, properties=Properties(authentication_method="X")),
])
def test_only_auth_before_connack(packet: Packet) -> None:
    core = secure()
    peer, _, _ = scram_start(core, "alice", "wonderland")
    ack = only(peer.send(packet), Connack)
    assert ack.reason_code == 0x82 and peer.closed
    assert peer.send(Pingreq(protocol_level=5)) == []


def test_malformed_auth_before_connack() -> None:
    core = secure()
    peer, _, _ = scram_start(core, "alice", "wonderland")
    no_method = RawPacket(15).u8(0x18).properties(RawProperties().add(0x16, b"x")).build()
    ack = only(peer.send_bytes(no_method), Connack)
    assert ack.reason_code == 0x82 and peer.closed
    assert "MQTT-4.12.0-5" in hits(core)


def test_disconnect_or_silence_during_the_exchange() -> None:
    core = secure()
    peer, _, _ = scram_start(core, "alice", "wonderland")
    assert peer.send(Disconnect(protocol_level=5)) == [] and peer.closed
    peer, _, _ = scram_start(core, "alice", "wonderland")
    peer.conn.connect_timed_out(10.0)
    assert peer.closed and peer.received() == []


def test_auth_without_enhanced_authentication() -> None:
    core = secure(allow_anonymous=True)
    peer = Peer(core, 5)
    peer.connect()
    packet = Auth(reason_code=0x19, protocol_level=5,
                  properties=Properties(authentication_method=SCRAM))
    bye = only(peer.send(packet), Disconnect)
    assert bye.reason_code == 0x82 and peer.closed
    assert "MQTT-4.12.0-7" in hits(core) and "MQTT-4.12.0-6" in hits(core)


# -- re-authentication (MQTT 5 section 4.12.1) -----------------------------------------------------

def reauth_start(peer: Peer, user: str, password: str, method: str = SCRAM
                 ) -> tuple[ScramClient, list[Packet]]:
    client = ScramClient(user, password)
    return client, peer.send(Auth(reason_code=0x19, properties=Properties(
        authentication_method=method, authentication_data=client.first())))


def test_reauthentication_success_while_traffic_goes_on() -> None:
    core = secure()
    peer, _ = scram_login(core)
    client, packets = reauth_start(peer, "alice", "wonderland")
    challenge = only(packets, Auth)
    assert challenge.reason_code == 0x18 and challenge.properties.authentication_method == SCRAM
    assert peer.send(Pingreq(protocol_level=5)) == [Pingresp(protocol_level=5)]
    done = only(scram_final(peer, client, challenge), Auth)
    assert done.reason_code == 0 and done.properties.authentication_method == SCRAM
    client.verify(done.properties.authentication_data or b"")
    assert not peer.closed
    client, packets = reauth_start(peer, "alice", "wonderland")  # and again
    assert only(scram_final(peer, client, only(packets, Auth)), Auth).reason_code == 0


@pytest.mark.parametrize(("user", "password"), [("alice", "wrong"), ("bob", "builder")])
def test_reauthentication_failure_disconnects(user: str, password: str) -> None:
    core = secure(ACL)
    watcher = scram_login(core, client_id="watch")[0]
    watcher.subscribe("alice/#", qos=0)
    peer, client, challenge = scram_start(core, "alice", "wonderland", "s2",
                                          will=Will(topic="alice/will"))
    assert only(scram_final(peer, client, challenge), Connack).reason_code == 0
    client, packets = reauth_start(peer, user, password)
    packets = scram_final(peer, client, only(packets, Auth))
    bye = only(packets, Disconnect)
    assert bye.reason_code == 0x87 and peer.closed
    assert "MQTT-4.12.1-2" in hits(core)
    assert only(watcher.received(), Publish).topic == "alice/will"


def test_reauthentication_bad_client_first_disconnects() -> None:
    core = secure()
    peer, _ = scram_login(core)
    packets = peer.send(Auth(reason_code=0x19, properties=Properties(
        authentication_method=SCRAM, authentication_data=b"garbage")))
    assert only(packets, Disconnect).reason_code == 0x87 and peer.closed


@pytest.mark.parametrize("case", ["other method", "0x18 first", "0x19 twice"])
def test_reauthentication_protocol_errors(case: str) -> None:
    core = secure()
    peer, _ = scram_login(core)
    if case == "other method":
        packets = reauth_start(peer, "alice", "wonderland", method="SCRAM-SHA-1")[1]
        assert "MQTT-4.12.1-1" in hits(core)
    elif case == "0x18 first":
        packets = peer.send(Auth(reason_code=0x18, properties=Properties(
            authentication_method=SCRAM, authentication_data=b"c=biws")))
    else:
        only(reauth_start(peer, "alice", "wonderland")[1], Auth)
        packets = reauth_start(peer, "alice", "wonderland")[1]
    assert only(packets, Disconnect).reason_code == 0x82 and peer.closed
