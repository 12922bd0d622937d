"""The values the broker passes around: application messages, subscriptions, deliveries.

Strategy: an incoming PUBLISH (or a Will) becomes one immutable `Message`, shared by every
subscriber's queue.  Its properties are stored as they must be forwarded (MQTT-3.3.2-4, -15,
-16, -17, -18, -20: unaltered, user properties in order), minus the two that belong to one hop:
Topic Alias and Subscription Identifier.  What differs per subscriber (granted QoS, RETAIN as
sent, Subscription Identifiers) lives in a `Delivery`.  Times are plain floats from the
caller's monotonic clock, so everything here is testable without waiting.  A message also
memoises its encoded PUBLISH packets (`encoded`, filled by outgoing.py), so that every
subscriber that gets the same packet shares one encoding.  `Message` and `Delivery` are
never changed once made, but are not declared frozen: a frozen dataclass costs three times
as much to create, and one of each is made per message and per subscriber.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from mqttspec import NO_PROPERTIES, Properties, Publish


@dataclass(slots=True)
class Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: Properties = NO_PROPERTIES
    origin: str = ""  # Client Identifier of the publisher ("" for none)
    received_at: float = 0.0
    # (protocol level, QoS, RETAIN) -> the PUBLISH encoded around its Packet Identifier:
    # a memo of outgoing.publish_wire, not part of the message's value
    encoded: dict[tuple[int, int, bool], tuple[bytes, bytes]] = field(
        default_factory=dict, compare=False, repr=False)

    @property
    def expires_at(self) -> float | None:
        interval = self.properties.message_expiry_interval
        return None if interval is None else self.received_at + interval

    def expired(self, now: float) -> bool:
        interval = self.properties.message_expiry_interval
        return interval is not None and now >= self.received_at + interval

    def remaining_expiry(self, now: float) -> int | None:
        """MQTT-3.3.2-6: the received interval minus the whole seconds spent waiting."""
        interval = self.properties.message_expiry_interval
        if interval is None:
            return None
        waited = max(0, math.floor(now - self.received_at))
        return max(0, interval - waited)


@dataclass(frozen=True, slots=True)
class SubOptions:
    """One subscription as the session holds it (MQTT 5 subscription options)."""

    qos: int  # the Maximum QoS granted
    no_local: bool = False
    retain_as_published: bool = False
    retain_handling: int = 0
    subscription_id: int | None = None


@dataclass(slots=True)
class Delivery:
    """A message on its way to one session: the QoS, RETAIN flag and identifiers it gets."""

    message: Message
    qos: int
    retain: bool
    subscription_ids: tuple[int, ...] = field(default=())
    shared: bool = False  # for a shared subscription: never handed to another member

    def publish(self, properties: Properties, packet_id: int | None, level: int) -> Publish:
        """The PUBLISH packet it becomes (DUP 0, no Topic Alias)."""
        m = self.message
        return Publish(topic=m.topic, payload=m.payload, qos=self.qos, retain=self.retain,
                       packet_id=packet_id, properties=properties, protocol_level=level)
