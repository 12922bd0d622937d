"""Integration: real paho-mqtt 2.x clients (3.1.1 and 5.0) against the embedded broker."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from reference_broker import BrokerConfig, ThreadedBroker

from .paho_client import V5, V31, V311, PahoClient

Factory = Callable[..., PahoClient]


@pytest.fixture
def broker() -> Iterator[ThreadedBroker]:
    with ThreadedBroker(BrokerConfig()) as running:
        yield running


@pytest.fixture
def clients(broker: ThreadedBroker) -> Iterator[Factory]:
    made: list[PahoClient] = []

    def make(client_id: str = "", protocol: object = V5, **kwargs: object) -> PahoClient:
        client = PahoClient(broker.port, client_id, protocol, **kwargs)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.mark.parametrize("protocol", [V31, V311, V5])
def test_connect_and_pubsub_all_qos(clients: Factory, protocol: object) -> None:
    sub = clients("sub", protocol).connect()
    pub = clients("pub", protocol).connect()
    assert sub.session_present is False
    granted = sub.subscribe("lab/#", qos=2)
    assert [int(getattr(code, "value", code)) for code in granted] == [2]
    for qos in (0, 1, 2):
        pub.publish(f"lab/q{qos}", f"m{qos}".encode(), qos=qos)
        msg = sub.next_message()
        assert (msg.topic, msg.payload, msg.qos) == (f"lab/q{qos}", f"m{qos}".encode(), qos)
    sub.disconnect()
    pub.disconnect()


@pytest.mark.parametrize("protocol", [V311, V5])
def test_retained_messages(clients: Factory, protocol: object) -> None:
    pub = clients("pub", protocol).connect()
    pub.publish("ret/a", b"kept", qos=1, retain=True)
    sub = clients("sub", protocol).connect()
    sub.subscribe("ret/#", qos=1)
    msg = sub.next_message()
    assert (msg.topic, msg.payload, msg.retain) == ("ret/a", b"kept", True)
    pub.publish("ret/a", b"", qos=1, retain=True)  # clear
    assert sub.next_message().payload == b""
    late = clients("late", protocol).connect()
    late.subscribe("ret/#", qos=1)
    late.publish("ret/ping", b"barrier", qos=1)  # ordering: nothing retained came before
    assert late.next_message().topic == "ret/ping"


@pytest.mark.parametrize("protocol", [V311, V5])
def test_will_on_abnormal_close_only(clients: Factory, protocol: object) -> None:
    watch = clients("watch", protocol).connect()
    watch.subscribe("will/#", qos=1)
    dying = clients("dying", protocol)
    dying.client.will_set("will/dying", b"gone", qos=1)
    dying.connect()
    polite = clients("polite", protocol)
    polite.client.will_set("will/polite", b"never", qos=1)
    polite.connect()
    polite.disconnect()
    dying.drop()
    msg = watch.next_message()
    assert (msg.topic, msg.payload) == ("will/dying", b"gone")
    watch.publish("will/barrier", b"", qos=1)
    assert watch.next_message().topic == "will/barrier"  # the polite Will never came


def test_will_delay_v5(clients: Factory) -> None:
    watch = clients("watch").connect()
    watch.subscribe("will/#", qos=1)
    dying = clients("dying")
    will_props = Properties(PacketTypes.WILLMESSAGE)
    will_props.WillDelayInterval = 1
    dying.client.will_set("will/late", b"after a second", qos=1, properties=will_props)
    connect_props = Properties(PacketTypes.CONNECT)
    connect_props.SessionExpiryInterval = 60
    dying.connect(properties=connect_props)
    dying.drop()
    assert watch.next_message(timeout=10).payload == b"after a second"


@pytest.mark.parametrize("protocol", [V311, V5])
def test_persistent_session_resume(clients: Factory, protocol: object) -> None:
    props = None
    if protocol == V5:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 300
    sub = clients("keeper", protocol, clean_session=False).connect(clean_start=False,
                                                                   properties=props)
    sub.subscribe("sess/#", qos=1)
    sub.disconnect()
    pub = clients("pub", protocol).connect()
    for i in range(3):
        pub.publish("sess/x", bytes([i]), qos=1)
    back = clients("keeper", protocol, clean_session=False).connect(clean_start=False,
                                                                    properties=props)
    assert back.session_present is True
    assert [back.next_message().payload for _ in range(3)] == [b"\x00", b"\x01", b"\x02"]


def test_redelivery_of_unacknowledged_message(clients: Factory) -> None:
    sub = clients("slow", V311, clean_session=False, manual_ack=True).connect()
    sub.subscribe("redo", qos=1)
    pub = clients("pub", V311).connect()
    pub.publish("redo", b"again", qos=1)
    first = sub.next_message()
    assert first.dup is False
    sub.drop()  # never acknowledged
    back = clients("slow", V311, clean_session=False).connect()
    again = back.next_message()
    assert (again.payload, again.dup, again.mid) == (b"again", True, first.mid)


def test_v5_properties_round_trip(clients: Factory) -> None:
    sub = clients("sub").connect()
    sub_props = Properties(PacketTypes.SUBSCRIBE)
    sub_props.SubscriptionIdentifier = 42
    sub.subscribe("props/#", options=SubscribeOptions(qos=1), properties=sub_props)
    pub = clients("pub").connect()
    props = Properties(PacketTypes.PUBLISH)
    props.PayloadFormatIndicator = 1
    props.ContentType = "text/plain"
    props.ResponseTopic = "props/reply"
    props.CorrelationData = b"\x01\x02"
    props.MessageExpiryInterval = 120
    props.UserProperty = [("z", "1"), ("a", "2"), ("z", "0")]
    code = pub.publish("props/x", b"payload", qos=1, properties=props)
    assert code is not None and code.value == 0
    got = sub.next_message().properties
    assert got is not None
    assert got.PayloadFormatIndicator == 1 and got.ContentType == "text/plain"
    assert got.ResponseTopic == "props/reply" and got.CorrelationData == b"\x01\x02"
    assert 119 <= got.MessageExpiryInterval <= 120
    assert got.UserProperty == [("z", "1"), ("a", "2"), ("z", "0")]
    assert got.SubscriptionIdentifier == [42]


def test_v5_no_local_and_no_matching_subscribers(clients: Factory) -> None:
    me = clients("me").connect()
    me.subscribe("nl/t", options=SubscribeOptions(qos=1, noLocal=True))
    assert me.publish("nl/t", b"mine", qos=1) is not None
    code = me.publish("nobody/here", b"", qos=1)
    assert code is not None and code.value == 0x10  # No matching subscribers
    other = clients("other").connect()
    other.publish("nl/t", b"theirs", qos=1)
    assert me.next_message().payload == b"theirs"


def test_v5_connack_and_assigned_client_id(clients: Factory) -> None:
    client = clients("").connect()
    props = client.connack_properties
    assert props is not None
    assert props.AssignedClientIdentifier
    assert props.TopicAliasMaximum == 10


def test_v5_topic_alias_from_client(clients: Factory) -> None:
    sub = clients("sub").connect()
    sub.subscribe("alias/#", qos=0)
    pub = clients("pub").connect()
    first = Properties(PacketTypes.PUBLISH)
    first.TopicAlias = 3
    pub.publish("alias/long/topic/name", b"1", qos=1, properties=first)
    pub.publish("", b"2", qos=1, properties=first)
    got = [sub.next_message() for _ in range(2)]
    assert [(m.topic, m.payload) for m in got] == [("alias/long/topic/name", b"1"),
                                                   ("alias/long/topic/name", b"2")]


def test_v5_session_takeover_disconnects_the_first(clients: Factory) -> None:
    first = clients("twin").connect()
    clients("twin").connect()
    assert first.disconnected.wait(5)
    assert first.disconnect_code is not None and first.disconnect_code.value == 0x8E


def test_trace_snapshot_counts_statements(broker: ThreadedBroker, clients: Factory) -> None:
    client = clients("traced").connect()
    client.subscribe("t", qos=1)
    client.publish("t", b"x", qos=1)
    client.next_message()
    snap = broker.trace_snapshot()
    assert snap["5.0"]["MQTT-3.8.4-1"] >= 1
    assert snap["5.0"]["MQTT-4.3.2-4"] >= 1
