"""Faults in Message Expiry (MQTT 5 section 3.3.2.3.3): messages that never expire, an
interval forwarded as received whatever the wait, or not forwarded at all."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from conformance.faults.base import Patcher, fault
from mqttspec import Packet, Publish
from reference_broker.connection import Connection
from reference_broker.model import Message


@fault("expiry.never-expires", "A message whose expiry interval passed is still delivered, "
       "queued or retained", v5="MQTT-3.3.2-5", levels=(5,))
def never_expires(p: Patcher) -> None:
    p.wrap(Message, "expired", lambda original, self, now: False)


@fault("expiry.interval-not-reduced", "The Message Expiry Interval is forwarded as received, "
       "however long the message waited", v5="MQTT-3.3.2-6", levels=(5,))
def not_reduced(p: Patcher) -> None:
    def as_received(original: Any, self: Message, now: float) -> int | None:
        return self.properties.message_expiry_interval

    p.wrap(Message, "remaining_expiry", as_received)


@fault("expiry.interval-dropped", "The Message Expiry Interval is not forwarded",
       v5="MQTT-3.3.2-6", levels=(5,))
def dropped(p: Patcher) -> None:
    def drop(conn: Connection, packet: Packet) -> Packet:
        if isinstance(packet, Publish) and packet.properties.message_expiry_interval:
            return replace(packet, properties=replace(packet.properties,
                                                      message_expiry_interval=None))
        return packet

    p.outgoing(drop)
