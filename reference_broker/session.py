"""Session state: what the server keeps for a Client Identifier across network connections.

Strategy: a plain object per session, owned by the broker core, holding exactly the server's
session state of MQTT 5 section 4.1 (3.1.1 section 4.1): the subscriptions; QoS 1 and QoS 2
messages sent to the client and not yet completely acknowledged (`inflight`, in send order,
keyed by Packet Identifier); messages waiting to be sent (`queue`: the session is offline,
or the client's Receive Maximum is reached); QoS 2 messages received from the client and not
yet released (`incoming_qos2`); the Will Message and its timers.  The connection that is
attached (if any) does the sending; this module only keeps the books.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mqttspec import Properties, Publish, Will
from reference_broker.config import UNLIMITED_SESSION
from reference_broker.model import Delivery, SubOptions

if TYPE_CHECKING:
    from reference_broker.connection import Connection


@dataclass(slots=True)
class Inflight:
    """A QoS 1 or 2 PUBLISH sent to the client and not yet completely acknowledged, kept as
    what it was built from: it is rebuilt as a packet only if it must be re-sent."""

    delivery: Delivery  # the message, with the QoS and RETAIN flag it was sent with
    properties: Properties  # as first sent: no Topic Alias (aliases die with the connection)
    level: int  # the protocol level it was first sent under
    released: bool = False  # QoS 2: PUBREC received, PUBREL sent, waiting for PUBCOMP
    sent: bool = True  # sent on the current network connection (else resend on resume)

    @property
    def qos(self) -> int:
        return self.delivery.qos

    @property
    def topic(self) -> str:
        return self.delivery.message.topic

    @property
    def shared(self) -> bool:
        """Delivered for a shared subscription (MQTT 5 section 4.8.2)."""
        return self.delivery.shared

    def publish(self, packet_id: int) -> Publish:
        """The PUBLISH as first sent: DUP 0, no Topic Alias."""
        return self.delivery.publish(self.properties, packet_id, self.level)


class Session:
    def __init__(self, client_id: str, level: int, expiry_interval: int) -> None:
        self.client_id = client_id
        self.level = level  # protocol level of the latest connection
        self.expiry_interval = expiry_interval  # seconds; UNLIMITED_SESSION: never
        self.subscriptions: dict[str, SubOptions] = {}
        self.inflight: dict[int, Inflight] = {}
        self.queue: deque[Delivery] = deque()
        # Packet Identifiers awaiting PUBREL -> when that message expires (None: never)
        self.incoming_qos2: dict[int, float | None] = {}
        self.will: Will | None = None
        self.will_level = level
        self.will_due: float | None = None  # Will Delay running: publish at this time
        self.expires_at: float | None = None  # offline and counting down
        self.connection: Connection | None = None
        self.dropped = 0  # messages dropped because the queue was full
        self._last_id = 0

    def __repr__(self) -> str:
        return (f"Session({self.client_id!r}, level={self.level}, "
                f"subscriptions={len(self.subscriptions)}, inflight={len(self.inflight)}, "
                f"queued={len(self.queue)}, online={self.connection is not None})")

    @property
    def persistent(self) -> bool:
        return self.expiry_interval > 0

    def offline_deadline(self, now: float) -> float | None:
        """When this session ends once its connection has closed (None: never)."""
        if self.expiry_interval == UNLIMITED_SESSION:
            return None
        return now + self.expiry_interval

    def next_packet_id(self) -> int | None:
        """A non-zero Packet Identifier not used by any unacknowledged PUBLISH or PUBREL
        (MQTT-2.3.1-4 / MQTT-2.2.1-4), or None when all 65535 are in use."""
        if len(self.inflight) >= 0xFFFF:
            return None
        candidate = self._last_id
        while True:
            candidate = candidate % 0xFFFF + 1
            if candidate not in self.inflight:
                self._last_id = candidate
                return candidate

    def enqueue(self, delivery: Delivery, max_queued: int) -> bool:
        """Add a message for the client; False when the queue is full (it is dropped)."""
        if len(self.queue) >= max_queued:
            self.dropped += 1
            return False
        self.queue.append(delivery)
        return True

    def in_flight_on_connection(self) -> int:
        return sum(1 for entry in self.inflight.values() if entry.sent)
