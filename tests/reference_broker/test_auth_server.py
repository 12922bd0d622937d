"""Integration: user names and passwords and topic ACLs with real paho-mqtt clients; SCRAM and
re-authentication over a socket with the raw client; the command line with security files."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from paho.mqtt.reasoncodes import ReasonCode

from mqttspec import (
    Auth,
    Connack,
    Connect,
    Disconnect,
    Pingreq,
    Pingresp,
    Properties,
    Publish,
    Suback,
    Subscribe,
    Subscription,
)
from reference_broker import BrokerConfig, ThreadedBroker
from reference_broker.passwords import PasswordFile
from reference_broker.scram import MIN_ITERATIONS, ScramClient

from .paho_client import V5, V311, PahoClient
from .raw_client import RawClient

Factory = Callable[..., PahoClient]
SCRAM = "SCRAM-SHA-256"
ACL = """\
topic read public/#
user alice
topic readwrite alice/#
topic read public/#
user bob
topic readwrite bob/#
topic write public/#
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("security")
    users = PasswordFile()
    users.set("alice", "wonderland", MIN_ITERATIONS)
    users.set("bob", "builder", MIN_ITERATIONS)
    users.save(folder / "passwd")
    (folder / "acl").write_text(ACL)
    return folder / "passwd", folder / "acl"


@pytest.fixture
def broker(files: tuple[Path, Path]) -> Iterator[ThreadedBroker]:
    config = BrokerConfig(password_file=str(files[0]), acl_file=str(files[1]))
    with ThreadedBroker(config) as running:
        yield running


@pytest.fixture
def clients(broker: ThreadedBroker) -> Iterator[Factory]:
    made: list[PahoClient] = []

    def make(client_id: str, protocol: object = V5, user: str | None = None,
             password: str | None = None) -> PahoClient:
        client = PahoClient(broker.port, client_id, protocol)
        if user is not None:
            client.client.username_pw_set(user, password)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def value(code: ReasonCode | None) -> int:
    assert code is not None
    return int(code.value)


# -- paho-mqtt: user name and password, ACL --------------------------------------------------------

@pytest.mark.parametrize("protocol", [V311, V5])
def test_paho_user_name_and_password(clients: Factory, protocol: object) -> None:
    good = clients("good", protocol, "alice", "wonderland").connect()
    assert value(good.connack_code) == 0
    bad = clients("bad", protocol, "alice", "guess").connect()
    assert value(bad.connack_code) == 0x86  # paho shows 3.1.1's 4 as 0x86 too
    assert bad.disconnected.wait(5)
    anonymous = clients("anon", protocol).connect()
    assert value(anonymous.connack_code) == 0x87  # 3.1.1: 5, "not authorized"
    good.disconnect()


def test_paho_v5_acl_publish_and_subscribe(clients: Factory) -> None:
    alice = clients("alice", V5, "alice", "wonderland").connect()
    bob = clients("bob", V5, "bob", "builder").connect()
    granted = alice.subscribe([("alice/#", 1), ("bob/#", 1)])
    assert [value(code) for code in granted] == [1, 0x87]
    assert value(bob.publish("alice/x", b"no", qos=1)) == 0x87
    # PUBREC 0x87 ends the QoS 2 flow; paho 2.2 sends PUBREL anyway and reports the
    # broker's PUBCOMP 0x92 "Packet Identifier not found"
    assert value(bob.publish("alice/x", b"no", qos=2)) in (0x87, 0x92)
    bob.publish("alice/x", b"no", qos=0)
    assert value(alice.publish("alice/x", b"yes", qos=1)) == 0
    message = alice.next_message()  # the first to arrive is the allowed one
    assert (message.topic, message.payload) == ("alice/x", b"yes")
    assert alice.no_message()


def test_paho_v311_acl_publish_and_subscribe(clients: Factory) -> None:
    alice = clients("alice", V311, "alice", "wonderland").connect()
    bob = clients("bob", V311, "bob", "builder").connect()
    granted = alice.subscribe([("alice/#", 2), ("#", 0)])
    assert [value(code) for code in granted] == [2, 0x80]
    for qos in (0, 1, 2):  # positive acknowledgements (MQTT-3.3.5-2), nothing delivered
        bob.publish("alice/x", b"no", qos=qos)
    alice.publish("alice/x", b"yes", qos=1)
    message = alice.next_message()
    assert (message.topic, message.payload) == ("alice/x", b"yes")
    assert alice.no_message()


# -- raw client: SCRAM-SHA-256 and re-authentication -----------------------------------------------

def scram_connect(port: int, user: str, password: str, client_id: str
                  ) -> tuple[RawClient, ScramClient, Connack]:
    raw = RawClient(port)
    client = ScramClient(user, password)
    raw.send(Connect(client_id=client_id, protocol_level=5, properties=Properties(
        authentication_method=SCRAM, authentication_data=client.first())))
    challenge = raw.recv()
    assert isinstance(challenge, Auth) and challenge.reason_code == 0x18
    raw.send(Auth(reason_code=0x18, properties=Properties(
        authentication_method=SCRAM,
        authentication_data=client.final(challenge.properties.authentication_data or b""))))
    ack = raw.recv()
    assert isinstance(ack, Connack)
    return raw, client, ack


def reauthenticate(raw: RawClient, user: str, password: str) -> Auth | Disconnect:
    client = ScramClient(user, password)
    raw.send(Auth(reason_code=0x19, properties=Properties(
        authentication_method=SCRAM, authentication_data=client.first())))
    challenge = raw.recv()
    assert isinstance(challenge, Auth) and challenge.reason_code == 0x18
    raw.send(Auth(reason_code=0x18, properties=Properties(
        authentication_method=SCRAM,
        authentication_data=client.final(challenge.properties.authentication_data or b""))))
    end = raw.recv()
    assert isinstance(end, Auth | Disconnect)
    if isinstance(end, Auth) and end.reason_code == 0:
        client.verify(end.properties.authentication_data or b"")
    return end


def test_scram_connect_and_reauthenticate(broker: ThreadedBroker) -> None:
    raw, client, ack = scram_connect(broker.port, "alice", "wonderland", "scram-1")
    with raw:
        assert ack.reason_code == 0 and ack.properties.authentication_method == SCRAM
        client.verify(ack.properties.authentication_data or b"")
        raw.send(Subscribe(packet_id=1, protocol_level=5, subscriptions=(
            Subscription(topic_filter="alice/#", qos=1), Subscription(topic_filter="bob/#"))))
        suback = raw.recv()
        assert isinstance(suback, Suback) and suback.reason_codes == (1, 0x87)
        end = reauthenticate(raw, "alice", "wonderland")
        assert isinstance(end, Auth) and end.reason_code == 0
        raw.send(Pingreq(protocol_level=5))
        assert isinstance(raw.recv(), Pingresp)
        end = reauthenticate(raw, "alice", "not it")
        assert isinstance(end, Disconnect) and end.reason_code == 0x87
        assert raw.read_to_eof() == []
    snapshot = broker.trace_snapshot()["5.0"]
    for statement in ("MQTT-4.12.0-2", "MQTT-4.12.0-5", "MQTT-4.12.1-2"):
        assert statement in snapshot


def test_scram_wrong_password_and_unsupported_method(broker: ThreadedBroker) -> None:
    raw, _, ack = scram_connect(broker.port, "bob", "wrong", "scram-2")
    with raw:
        assert ack.reason_code == 0x87 and raw.read_to_eof() == []
    with RawClient(broker.port) as raw:
        raw.send(Connect(client_id="x", protocol_level=5, properties=Properties(
            authentication_method="SCRAM-SHA-1", authentication_data=b"n,,n=bob,r=x")))
        packets = raw.read_to_eof()
        assert len(packets) == 1 and isinstance(packets[0], Connack)
        assert packets[0].reason_code == 0x8C


def test_publish_before_connack_is_a_protocol_error(broker: ThreadedBroker) -> None:
    with RawClient(broker.port) as raw:
        client = ScramClient("alice", "wonderland")
        raw.send(Connect(client_id="early", protocol_level=5, properties=Properties(
            authentication_method=SCRAM, authentication_data=client.first())))
        assert isinstance(raw.recv(), Auth)
        raw.send(Publish(topic="alice/x", protocol_level=5))
        packets = raw.read_to_eof()
        assert len(packets) == 1 and isinstance(packets[0], Connack)
        assert packets[0].reason_code == 0x82


# -- the command line ------------------------------------------------------------------------------

def test_module_with_password_and_acl_files(files: tuple[Path, Path]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "reference_broker", "--port", "0", "--password-file",
         str(files[0]), "--acl-file", str(files[1])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[2])
    try:
        assert proc.stdout is not None
        lines = []
        for _ in range(100):  # bounded: the listing is a few dozen lines
            line = proc.stdout.readline()
            lines.append(line)
            if not line or line.startswith("listening on "):
                break
        assert lines[-1].startswith("listening on 127.0.0.1:"), "".join(lines)
        assert any(line.strip() == "allow_anonymous = none" for line in lines)
        port = int(lines[-1].rsplit(":", 1)[1])
        client = PahoClient(port, "cli", V311)
        client.client.username_pw_set("bob", "builder")
        try:
            assert value(client.connect().connack_code) == 0
        finally:
            client.close()
        proc.terminate()
        _, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
