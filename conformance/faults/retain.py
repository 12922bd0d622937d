"""Faults in retained messages (MQTT 3.1.1 / 5.0 section 3.3.1.3, MQTT 5 section 3.2.2.3.5).

Each one breaks one rule of the retained store or of the RETAIN flag on delivery: storing,
replacing (also by QoS 0), clearing with an empty payload, never storing an empty payload,
leaving it alone for RETAIN 0, keeping the QoS, one message per matching topic, RETAIN 1 for
a new subscription and 0 for an established one; and, on a server configured without retained
messages (`config`), the refusals MQTT 5 requires.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from conformance.faults.base import Patcher, fault
from mqttspec import Packet, Publish
from mqttspec import reason_codes as rc
from reference_broker import handshake
from reference_broker.connection import Connection
from reference_broker.core import Core
from reference_broker.model import Message
from reference_broker.retained import RetainedStore
from reference_broker.subscriptions import SubscriptionIndex

NO_RETAIN = {"retain_available": False}


def _store(p: Patcher, rule: Any) -> None:
    """`rule(store, message)` says whether the normal store() runs."""
    def store(original: Any, self: RetainedStore, message: Message) -> None:
        if rule(self, message):
            original(self, message)

    p.wrap(RetainedStore, "store", store)


@fault("retain.not-stored", "Retained messages are never stored",
       v3=("MQTT-3.3.1-5", "MQTT-3.3.1-6"), v5=("MQTT-3.3.1-5", "MQTT-3.3.1-9"))
def not_stored(p: Patcher) -> None:
    _store(p, lambda store, m: False)


@fault("retain.first-kept", "A retained message never replaces the one already stored",
       v3="MQTT-3.3.1-5", v5="MQTT-3.3.1-5")
def first_kept(p: Patcher) -> None:
    _store(p, lambda store, m: store.get(m.topic) is None or not m.payload)


@fault("retain.qos0-keeps-old", "A QoS 0 retained message leaves the previous one in place",
       v3="MQTT-3.3.1-7", v5="MQTT-3.3.1-5")
def qos0_keeps_old(p: Patcher) -> None:
    _store(p, lambda store, m: m.qos > 0 or store.get(m.topic) is None)


@fault("retain.empty-does-not-clear", "An empty retained PUBLISH leaves the stored message",
       v3="MQTT-3.3.1-10", v5="MQTT-3.3.1-6")
def empty_keeps(p: Patcher) -> None:
    _store(p, lambda store, m: bool(m.payload))


@fault("retain.empty-stored", "An empty retained PUBLISH is stored as the retained message",
       v3="MQTT-3.3.1-11", v5="MQTT-3.3.1-7")
def empty_stored(p: Patcher) -> None:
    def store(original: Any, self: RetainedStore, message: Message) -> None:
        self._put(message)  # whatever its payload

    p.wrap(RetainedStore, "store", store)


@fault("retain.qos-forgotten", "Retained messages are stored at QoS 0",
       v3="MQTT-3.3.1-5", v5="MQTT-3.3.1-5")
def qos_forgotten(p: Patcher) -> None:
    def store(original: Any, self: RetainedStore, message: Message) -> None:
        original(self, replace(message, qos=0))

    p.wrap(RetainedStore, "store", store)


@fault("retain.only-one-match", "A new subscription gets only one retained message, however "
       "many topics match", v3="MQTT-3.3.1-6", v5="MQTT-3.3.1-9")
def only_one(p: Patcher) -> None:
    def matching(original: Any, self: RetainedStore, *args: Any) -> list[Message]:
        found: list[Message] = original(self, *args)
        return found[:1]

    p.wrap(RetainedStore, "matching", matching)


@fault("retain.non-retained-stored", "A RETAIN 0 PUBLISH also replaces (or, empty, clears) the "
       "retained message", v3="MQTT-3.3.1-12", v5="MQTT-3.3.1-8")
def non_retained_stored(p: Patcher) -> None:
    def publish(original: Any, self: Core, message: Message, *args: Any) -> int:
        if not message.retain:
            self.retained.store(message)
        return int(original(self, message, *args))

    p.wrap(Core, "publish", publish)


@fault("retain.flag-not-set-for-new-subscription", "Retained messages sent because of a new "
       "subscription have RETAIN 0", v3="MQTT-3.3.1-8", v5="MQTT-3.3.1-9")
def flag_not_set(p: Patcher) -> None:
    def rewrite(conn: Connection, packet: Packet) -> Packet:
        return replace(packet, retain=False) if isinstance(packet, Publish) else packet

    p.outgoing(rewrite)


@fault("retain.flag-kept-for-established", "A retained PUBLISH reaches established "
       "subscriptions with RETAIN 1", v3="MQTT-3.3.1-9", v5="MQTT-3.3.1-12")
def flag_kept(p: Patcher) -> None:
    def combine(original: Any, index: Any, message: Message, *args: Any) -> Any:
        return replace(original(index, message, *args), retain=message.retain)

    p.wrap(SubscriptionIndex, "_combine", combine)


@fault("retain.unavailable-publish-accepted", "MQTT 5, Retain Available 0: a retained PUBLISH "
       "is dropped, the connection stays open", v5="MQTT-3.2.2-14",
       config=NO_RETAIN, levels=(5,))
def unavailable_accepted(p: Patcher) -> None:
    def protocol_error(original: Any, conn: Connection, code: int, *args: Any) -> None:
        if code != rc.RETAIN_NOT_SUPPORTED:
            original(conn, code, *args)

    p.wrap(Connection, "protocol_error", protocol_error)


@fault("retain.unavailable-will-retain-accepted", "MQTT 5, Retain Available 0: a CONNECT with "
       "Will Retain 1 is accepted", v5="MQTT-3.2.2-13", config=NO_RETAIN, levels=(5,))
def will_retain_accepted(p: Patcher) -> None:
    def refusal(original: Any, *args: Any, **kwargs: Any) -> int | None:
        code: int | None = original(*args, **kwargs)
        return None if code == rc.RETAIN_NOT_SUPPORTED else code

    p.wrap(handshake, "refusal", refusal)
