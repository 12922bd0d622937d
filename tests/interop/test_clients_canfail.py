"""Each client-interop scenario can fail: run against a reference broker lacking the behaviour
it checks (a fault from conformance/faults/, or a small patch of the same kind here), with
paho-mqtt as the client, it must end in FAIL and say what went wrong."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest

from conformance.embedded import start_reference
from conformance.faults import Patcher, load_faults
from interop.brokers import RunningBroker
from interop.clients import ADAPTERS, SCENARIOS, run_one
from mqttspec import Packet, Publish
from reference_broker.connection import Connection
from reference_broker.core import Core

Install = Callable[[Patcher], None]


def named(fault_id: str) -> Install:
    return load_faults()[fault_id].install


def drop_publish(p: Patcher) -> None:
    """Nothing reaches a subscriber."""
    p.outgoing(lambda conn, packet: None if isinstance(packet, Publish) else packet)


def qos1_sent_as_qos0(p: Patcher) -> None:
    def send(conn: Connection, packet: Packet) -> Packet:
        if isinstance(packet, Publish) and packet.qos == 1:
            return replace(packet, qos=0, packet_id=None)
        return packet

    p.outgoing(send)


def delivered_twice(p: Patcher) -> None:
    """Every message is queued twice for each matching session (two separate flows)."""
    def deliver(original: Any, core: Core, *args: Any) -> None:
        original(core, *args)
        original(core, *args)

    p.wrap(Core, "deliver", deliver)


def retained_sent_twice(p: Patcher) -> None:
    """A retained message for a new subscription goes out twice (the copy at QoS 0)."""
    def send(conn: Connection, packet: Packet) -> Packet | list[Packet]:
        if isinstance(packet, Publish) and packet.retain:
            return [packet, replace(packet, qos=0, packet_id=None)]
        return packet

    p.outgoing(send)


def last_byte_lost(p: Patcher) -> None:
    def send(conn: Connection, packet: Packet) -> Packet:
        if isinstance(packet, Publish) and len(packet.payload) > 1000:
            return replace(packet, payload=packet.payload[:-1])
        return packet

    p.outgoing(send)


@contextmanager
def faulty_reference(install: Install) -> Iterator[RunningBroker]:
    patcher = Patcher()
    install(patcher)
    broker = None
    try:
        broker = start_reference()
        yield RunningBroker("faulty", "reference with a fault", broker.port)
    finally:
        if broker is not None:
            broker.stop()
        patcher.undo()


CASES = [
    ("connect", 4, named("will.published-after-normal-disconnect"),
     "the Will was published after the client disconnected"),
    ("pubsub-qos0", 4, drop_publish, "did not arrive"),
    ("pubsub-qos1", 4, qos1_sent_as_qos0, "delivered at QoS 0"),
    ("pubsub-qos2", 5, delivered_twice, "duplicate deliveries at QoS 2"),
    ("retained", 4, named("retain.not-stored"), "received no retained message"),
    ("retained", 5, retained_sent_twice, "received the retained message 2 times"),
    ("will", 4, named("will.never-published"), "no Will Message"),
    ("session-resume", 4, named("session.offline-messages-dropped"),
     "published while the client was away"),
    ("large-payload", 4, last_byte_lost, "262143 bytes arrived for 262144 sent"),
    ("v5-properties", 5, named("properties.alters-correlation-data"), "Correlation Data"),
]


@pytest.mark.parametrize(("scenario", "level", "install", "observed"), CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_the_scenario_fails_against_a_broker_lacking_the_behaviour(
        scenario: str, level: int, install: Install, observed: str) -> None:
    adapter = ADAPTERS["paho-mqtt"]
    if adapter.available():
        pytest.skip(str(adapter.available()))
    with faulty_reference(install) as broker:
        record = run_one(adapter, SCENARIOS[scenario], level, broker, timeout=1.0)
    assert record["outcome"] == "FAIL", record["observed"]
    assert observed in str(record["observed"])


def test_every_scenario_is_shown_able_to_fail() -> None:
    assert {c[0] for c in CASES} == set(SCENARIOS)
