"""Faults in delivery to subscribers across time: retry on session resumption, ordering, and
the session state that holds what the server owns (MQTT 3.1.1 / 5.0 sections 4.3 - 4.6).

Each one breaks one rule: nothing re-sent on reconnection, re-sent without DUP or with a new
Packet Identifier or out of order, the PUBLISH re-sent instead of its PUBREL, a PUBREL not
re-sent, acknowledged (or, MQTT 5, refused) messages re-sent, re-sending on a live connection
(MQTT 5), messages for an offline session dropped, deliveries reordered.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from conformance.faults.base import Patcher, fault
from mqttspec import Packet, Publish
from reference_broker import delivery, flows
from reference_broker.connection import Connection
from reference_broker.core import Core
from reference_broker.session import Session


def _before_resend(p: Patcher, change: Any) -> None:
    """`change(session)` runs on the session state just before the re-sending on resume."""
    def resend(original: Any, conn: Connection, session: Session) -> bool:
        change(session)
        return bool(original(conn, session))

    p.wrap(delivery, "_resend", resend)


def _rewrite_publish(p: Patcher, change: Any) -> None:
    def rewrite(conn: Connection, packet: Packet) -> Any:
        return change(packet) if isinstance(packet, Publish) else packet

    p.outgoing(rewrite)


@fault("delivery.no-resend-on-resume", "Nothing unacknowledged is re-sent when a session "
       "resumes", v3="MQTT-4.4.0-1", v5="MQTT-4.4.0-1")
def no_resend(p: Patcher) -> None:
    _before_resend(p, lambda s: s.inflight.clear())


@fault("delivery.resend-without-dup", "Re-sent PUBLISH packets carry DUP 0",
       v3="MQTT-3.3.1-1", v5="MQTT-3.3.1-1")
def resend_without_dup(p: Patcher) -> None:
    _rewrite_publish(p, lambda m: replace(m, dup=False))


@fault("delivery.resend-new-packet-id", "Re-sent PUBLISH packets get a new Packet Identifier",
       v3="MQTT-4.4.0-1", v5="MQTT-4.4.0-1")
def resend_new_id(p: Patcher) -> None:
    _rewrite_publish(p, lambda m: replace(m, packet_id=m.packet_id % 65535 + 1)
                     if m.dup and m.packet_id else m)


@fault("delivery.resend-reversed", "Unacknowledged messages are re-sent in reverse order",
       v3=("MQTT-4.4.0-1", "MQTT-4.6.0-6"), v5=("MQTT-4.4.0-1", "MQTT-4.6.0-5"))
def resend_reversed(p: Patcher) -> None:
    def reverse(session: Session) -> None:
        session.inflight = dict(reversed(list(session.inflight.items())))

    _before_resend(p, reverse)


@fault("delivery.publish-resent-after-pubrec", "On resumption the PUBLISH is re-sent instead "
       "of the PUBREL that followed its PUBREC", v3="MQTT-4.3.3-1", v5="MQTT-4.3.3-6")
def publish_after_pubrec(p: Patcher) -> None:
    def unrelease(session: Session) -> None:
        for entry in session.inflight.values():
            entry.released = False

    _before_resend(p, unrelease)


@fault("delivery.pubrel-not-resent", "A PUBREL waiting for its PUBCOMP is forgotten when the "
       "connection closes", v3="MQTT-4.3.3-1", v5="MQTT-4.3.3-5")
def pubrel_not_resent(p: Patcher) -> None:
    def forget(session: Session) -> None:
        for pid in [pid for pid, e in session.inflight.items() if e.released]:
            del session.inflight[pid]

    _before_resend(p, forget)


@fault("delivery.puback-ignored", "A PUBACK does not complete the delivery: the message is "
       "re-sent on the next resumption", v3="MQTT-4.3.2-1", v5="MQTT-4.3.2-3")
def puback_ignored(p: Patcher) -> None:
    def acked(original: Any, conn: Connection, session: Session, pid: int, qos: int,
              *args: Any) -> None:
        if qos != 1:
            original(conn, session, pid, qos, *args)

    p.wrap(flows, "_acked", acked)


@fault("delivery.refused-ack-kept", "MQTT 5: a PUBACK / PUBREC with Reason Code 0x80 leaves the "
       "message to be re-sent", v5="MQTT-4.4.0-2", levels=(5,))
def refused_kept(p: Patcher) -> None:
    def acked(original: Any, conn: Connection, session: Session, pid: int, qos: int,
              code: int, now: float) -> None:
        if code < 0x80:
            original(conn, session, pid, qos, code, now)

    def pubrec(original: Any, conn: Connection, session: Session, a: Any, now: float) -> None:
        if a.reason_code < 0x80:
            original(conn, session, a, now)

    p.wrap(flows, "_acked", acked)
    p.wrap(flows, "_pubrec", pubrec)


@fault("delivery.resent-while-connected", "MQTT 5: every QoS 1/2 PUBLISH is sent twice on the "
       "same connection, the second with DUP 1", v5="MQTT-4.4.0-1", levels=(5,))
def resent_while_connected(p: Patcher) -> None:
    _rewrite_publish(p, lambda m: [m, replace(m, dup=True)] if m.qos and not m.dup else m)


@fault("delivery.offline-dropped", "Messages for a session whose client is offline are "
       "dropped", v3="MQTT-4.5.0-1", v5="MQTT-4.5.0-1")
def offline_dropped(p: Patcher) -> None:
    def deliver(original: Any, core: Core, session: Session, *args: Any) -> None:
        if session.connection is not None:
            original(core, session, *args)

    p.wrap(Core, "deliver", deliver)


@fault("delivery.held-back", "Each PUBLISH to a client is held back behind the next two",
       v3=("MQTT-4.6.0-5", "MQTT-4.6.0-6"), v5=("MQTT-4.6.0-5", "MQTT-4.6.0-6"))
def held_back(p: Patcher) -> None:
    held: dict[int, list[Publish]] = {}

    def delay(conn: Connection, packet: Packet) -> Any:
        if not isinstance(packet, Publish):
            return packet
        waiting = held.setdefault(id(conn), [])
        waiting.append(packet)
        if len(waiting) < 3:
            return None  # dropped for now, as if sent
        first, *rest = waiting
        waiting.clear()
        return [*rest, first]

    p.outgoing(delay)
