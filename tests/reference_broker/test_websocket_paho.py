"""Integration: real paho-mqtt 2.x clients with transport="websockets" (3.1, 3.1.1, 5.0)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from reference_broker import BrokerConfig, ThreadedBroker

from .paho_client import V5, V31, V311, PahoClient

Factory = Callable[..., PahoClient]


@pytest.fixture
def broker() -> Iterator[ThreadedBroker]:
    with ThreadedBroker(BrokerConfig(websocket_port=0)) as running:
        yield running


@pytest.fixture
def clients(broker: ThreadedBroker) -> Iterator[Factory]:
    made: list[PahoClient] = []

    def make(client_id: str, protocol: object, websocket: bool = True) -> PahoClient:
        port = broker.ports["ws"] if websocket else broker.port
        client = PahoClient(port, client_id, protocol)
        if websocket:
            client.client.transport = "websockets"  # path /mqtt, subprotocol "mqtt"
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.mark.parametrize("protocol", [V31, V311, V5])
def test_pubsub_all_qos_over_websocket(clients: Factory, protocol: object) -> None:
    sub = clients("ws-sub", protocol).connect()
    pub = clients("ws-pub", protocol).connect()
    sub.subscribe("ws/#", qos=2)
    for qos in (0, 1, 2):
        pub.publish(f"ws/q{qos}", b"x" * (200 * qos + 1), qos=qos)  # also 2-byte lengths
        message = sub.next_message()
        assert (message.topic, len(message.payload), message.qos) == (
            f"ws/q{qos}", 200 * qos + 1, qos)
    sub.disconnect()
    pub.disconnect()


@pytest.mark.parametrize("protocol", [V311, V5])
def test_websocket_and_tcp_clients_share_retained_messages_and_wills(
        clients: Factory, protocol: object) -> None:
    tcp = clients("tcp-watch", protocol, websocket=False).connect()
    tcp.subscribe("share/#", qos=1)
    dying = clients("ws-dying", protocol)
    dying.client.will_set("share/will", b"gone", qos=1)
    dying.connect()
    dying.publish("share/kept", b"retained", qos=1, retain=True)
    assert tcp.next_message().payload == b"retained"
    dying.client.socket().close()  # the WebSocket's TCP connection fails: the Will goes out
    dying.close()
    message = tcp.next_message()
    assert (message.topic, message.payload) == ("share/will", b"gone")
    late = clients("ws-late", protocol).connect()
    late.subscribe("share/kept", qos=1)
    message = late.next_message()
    assert (message.payload, message.retain) == (b"retained", True)
