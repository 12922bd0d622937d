"""The broker core: sessions, retained messages and routing, shared by all connections.

Strategy: sans-IO and single-threaded.  Connections (connection.py) call in with decoded
events and a clock value; the core updates broker-wide state and hands deliveries to the
sessions, whose attached connection (if any) sends them.  Time-driven work (Will Delay,
Session Expiry) happens in `tick(now)`; `next_deadline()` tells the I/O layer when to call it.

Rules kept here: session takeover (MQTT-3.1.4-2 / MQTT-3.1.4-3) and Clean Start (MQTT-3.1.2-4,
-5, -6 in 5.0; MQTT-3.1.2-4, -6 in 3.1.1); the Will Message and its delay (MQTT-3.1.2-8,
MQTT-3.1.3-9); session expiry (MQTT-4.1.0-2); retained messages (MQTT-3.3.1-5 ... -8 in 5.0,
-5, -7, -10 ... -12 in 3.1.1); adding each accepted message to the matching sessions
(MQTT-4.5.0-1).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import TYPE_CHECKING

from mqttspec import Will
from reference_broker.auth import Security
from reference_broker.config import BrokerConfig
from reference_broker.model import Delivery, Message
from reference_broker.retained import RetainedStore
from reference_broker.session import Session
from reference_broker.subscriptions import SubscriptionIndex
from reference_broker.trace import Trace, group

if TYPE_CHECKING:
    from reference_broker.connection import Connection


class Core:
    def __init__(self, config: BrokerConfig | None = None, trace: Trace | None = None,
                 security: Security | None = None) -> None:
        self.config = config or BrokerConfig()
        self.user_properties = self.config.user_properties  # added to what the server sends
        self.trace = trace or Trace()
        # password file, ACL, anonymous access (ConfigError if a file is unusable)
        self.security = security or Security.from_config(self.config)
        self.sessions: dict[str, Session] = {}
        self.retained = RetainedStore()
        self.index = SubscriptionIndex(self.trace)
        self.open_connections = 0
        self._timed: dict[str, Session] = {}  # offline sessions with a Will or expiry due
        self.timers_changed = False  # set when _timed changes; the I/O layer clears it

    # -- sessions ---------------------------------------------------------------------------

    def assign_client_id(self) -> str:
        """A new Client Identifier no session uses (MQTT-3.2.2-16): 23 characters from the
        set every server must accept (MQTT-3.1.3-5)."""
        while True:
            client_id = "ref" + uuid.uuid4().hex[:20]
            if client_id not in self.sessions:
                return client_id

    def attach(self, conn: Connection, client_id: str, clean_start: bool, expiry: int,
               now: float) -> tuple[Session, bool]:
        """Bind a newly accepted connection to its session; returns (session, present)."""
        level = conn.level
        hit = self.trace.hit
        hit(level, "MQTT-3.1.3-2", "MQTT-3.1.3-2")  # the ClientID identifies the session
        existing = self.sessions.get(client_id)
        if existing is not None and existing.connection is not None:
            hit(level, "MQTT-3.1.4-2", "MQTT-3.1.4-3")  # the existing client is disconnected
            existing.connection.take_over(now)
            existing = self.sessions.get(client_id)  # it may have ended with its connection
        if existing is not None and clean_start:
            hit(level, "MQTT-3.1.2-6", "MQTT-3.1.2-4")  # discard the previous session
            self.end_session(existing, now)
            existing = None
        if existing is not None:
            hit(level, "MQTT-3.1.2-4", "MQTT-3.1.2-5")  # resume from the stored state
            hit(level, "MQTT-4.1.0-1")  # stored for as long as the session lasts
            if existing.will_due is not None:
                hit(level, "", "MQTT-3.1.3-9")  # reconnected within the Will Delay
            existing.will = None
            existing.will_due = None
            session, present = existing, True
        else:
            if not clean_start:
                hit(level, "MQTT-3.1.2-4", "MQTT-3.1.2-6")  # no state: a new session
            session, present = Session(client_id, level, expiry), False
            self.sessions[client_id] = session
        if self._timed.pop(client_id, None) is not None:
            self.timers_changed = True
        session.level = level
        session.expiry_interval = expiry
        session.expires_at = None
        session.connection = conn
        return session, present

    def detach(self, session: Session, now: float, publish_will: bool) -> None:
        """The session's network connection has closed."""
        hit, level = self.trace.hit, session.level
        # the session has lasted as long as its connection; Session Expiry counts from now
        hit(level, "MQTT-4.1.0-2", "MQTT-4.1.0-1")
        session.connection = None
        for entry in session.inflight.values():
            entry.sent = False
        if not publish_will:
            session.will = None
        elif session.will is None:
            hit(level, "MQTT-3.1.2-12")  # Will Flag 0: no Will Message to publish
        will_delay = 0
        if session.will is not None and session.will_level == 5:
            will_delay = session.will.properties.will_delay_interval or 0
        if session.expiry_interval == 0:
            self.end_session(session, now)  # a pending Will goes out as the session ends
            return
        if session.will is not None:
            if will_delay == 0:
                self._publish_will(session, now)
            else:
                session.will_due = now + will_delay
        session.expires_at = session.offline_deadline(now)
        if session.will_due is not None or session.expires_at is not None:
            self._timed[session.client_id] = session
            self.timers_changed = True

    def end_session(self, session: Session, now: float) -> None:
        hit, level = self.trace.hit, session.level
        hit(level, "MQTT-3.1.2-7")  # retained messages are not session state: they stay
        if any(e.shared for e in session.inflight.values()) or any(
                d.shared for d in session.queue):
            hit(level, "", "MQTT-4.8.2-5")  # dropped with it, never sent to another member
        if self.sessions.get(session.client_id) is session:
            del self.sessions[session.client_id]
        if self._timed.pop(session.client_id, None) is not None:
            self.timers_changed = True
        for topic_filter in session.subscriptions:
            self.index.remove(session.client_id, topic_filter)
        session.subscriptions.clear()
        if session.will is not None:
            self._publish_will(session, now)

    def _publish_will(self, session: Session, now: float) -> None:
        will, level = session.will, session.will_level
        session.will = None  # MQTT-3.1.2-10: removed once published
        session.will_due = None
        if will is None:
            return
        hit = self.trace.hit
        hit(level, "MQTT-3.1.2-8", "MQTT-3.1.2-8")
        if will.retain:
            hit(level, "MQTT-3.1.2-17", "MQTT-3.1.2-15")
        else:
            hit(level, "MQTT-3.1.2-16", "MQTT-3.1.2-14")
        if will.properties.user_properties:
            hit(level, "", "MQTT-3.1.3-10")  # order kept: properties pass through as read
        self.publish(will_message(will, session.client_id, self.config, now), now, level)

    # -- time -------------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        self.timers_changed = True
        for session in list(self._timed.values()):
            if session.connection is not None:
                self._timed.pop(session.client_id, None)
                continue
            if session.will_due is not None and now >= session.will_due:
                self._publish_will(session, now)
            if session.expires_at is not None and now >= session.expires_at:
                self.trace.hit(session.level, "", "MQTT-4.1.0-2")
                self.end_session(session, now)
            elif session.will_due is None and session.expires_at is None:
                self._timed.pop(session.client_id, None)

    def next_deadline(self) -> float | None:
        times = [t for s in self._timed.values() for t in (s.will_due, s.expires_at)
                 if t is not None]
        return min(times, default=None)

    # -- messages ---------------------------------------------------------------------------

    def publish(self, message: Message, now: float, level: int) -> int:
        """Take ownership of an application message; returns how many sessions match."""
        hit = self.trace.hit
        if "\ufeff" in message.topic:
            hit(level, "MQTT-1.5.3-3", "MQTT-1.5.4-3")  # U+FEFF kept: routed as received
        if message.retain:
            hit(level, "MQTT-3.3.1-5", "MQTT-3.3.1-5")
            if not message.payload:
                hit(level, "MQTT-3.3.1-10", "MQTT-3.3.1-6")
                hit(level, "MQTT-3.3.1-11", "MQTT-3.3.1-7")
            elif message.qos == 0:
                hit(level, "MQTT-3.3.1-7", "")
            self.retained.store(message)
            hit(level, "MQTT-4.7.3-4", "MQTT-4.7.3-4")  # matched as received, unnormalised
        else:
            self.trace.hit_group(level, _NOT_RETAINED)
        matched = self.index.match(message, self.sessions)
        sessions = self.sessions
        for client_id, delivery in matched:
            session = sessions[client_id]
            hit(session.level, "MQTT-4.5.0-1", "MQTT-4.5.0-1")
            self.deliver(session, delivery, now)
        return len(matched)

    def deliver(self, session: Session, delivery: Delivery, now: float) -> None:
        """Put one message in a session's queue and let its connection send what it can."""
        if delivery.qos == 0 and session.connection is None:
            return  # QoS 0 messages are not kept for an offline session (3.1.1: MAY)
        if session.connection is None:
            self.trace.hit(session.level, "MQTT-3.1.2-5", "MQTT-3.1.2-23")
        if session.enqueue(delivery, self.config.max_queued) and session.connection:
            session.connection.pump(now)


# a message published without RETAIN: not stored, and matched as received, unnormalised
_NOT_RETAINED = group(("MQTT-3.3.1-12", "MQTT-3.3.1-8"), ("MQTT-4.7.3-4", "MQTT-4.7.3-4"))


def will_message(will: Will, client_id: str, config: BrokerConfig, now: float) -> Message:
    """The application message a Will becomes: its properties minus the Will Delay Interval,
    QoS and RETAIN within the server's capabilities (3.x clients were not told them)."""
    props = will.properties
    if props.will_delay_interval is not None:
        props = replace(props, will_delay_interval=None)
    retain = will.retain and config.retain_available
    return Message(will.topic, will.payload, min(will.qos, config.maximum_qos), retain,
                   props, origin=client_id, received_at=now)
