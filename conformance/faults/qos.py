"""Faults in the QoS 1 / QoS 2 protocols, both directions, and in the Maximum QoS capability
(MQTT 3.1.1 / 5.0 sections 2.3 / 2.2.1, 3.2.2.3.4, 3.4 - 3.7, 3.8.4, 4.3).

Each one removes a single rule of the receiver (which Packet Identifiers are new, PUBCOMP for
every PUBREL, no duplicate onward), of the sender (unused identifiers, PUBREL identifier and
Reason Code, granted QoS), or of a server declaring Maximum QoS 1 (`config`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from conformance.faults.base import Patcher, fault
from mqttspec import (
    Connack,
    Packet,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Unsuback,
)
from mqttspec import reason_codes as rc
from reference_broker import delivery, flows, handshake, outgoing, subscribing
from reference_broker.connection import Connection
from reference_broker.session import Session
from reference_broker.subscriptions import SubscriptionIndex

MAX_QOS_1 = {"maximum_qos": 1}


def _rewrite(p: Patcher, cls: Any, change: Any) -> None:
    def rewrite(conn: Connection, packet: Packet) -> Packet | None:
        return change(packet) if isinstance(packet, cls) else packet

    p.outgoing(rewrite)


def _wrap_publish_in(p: Patcher, before: Any) -> None:
    """`before(conn, session, publish)` runs first; True means it handled the PUBLISH."""
    def publish_in(original: Any, conn: Connection, session: Session, m: Publish,
                   now: float) -> None:
        if not before(conn, session, m):
            original(conn, session, m, now)

    p.wrap(flows, "publish_in", publish_in)


@fault("qos.qos1-dup-dropped", "A QoS 1 PUBLISH with DUP 1 is acknowledged but not delivered",
       v3="MQTT-4.3.2-2", v5="MQTT-4.3.2-5")
def qos1_dup_dropped(p: Patcher) -> None:
    def before(conn: Connection, session: Session, m: Publish) -> bool:
        if m.qos == 1 and m.dup and m.packet_id is not None:
            conn.send(Puback(packet_id=m.packet_id, protocol_level=conn.level))
            return True
        return False

    _wrap_publish_in(p, before)


@fault("qos.qos2-duplicate-delivered", "A QoS 2 PUBLISH re-sent before PUBREL is delivered "
       "again", v3="MQTT-4.3.3-2", v5="MQTT-4.3.3-10")
def qos2_duplicate(p: Patcher) -> None:
    def before(conn: Connection, session: Session, m: Publish) -> bool:
        if m.packet_id is not None:
            session.incoming_qos2.pop(m.packet_id, None)
        return False

    _wrap_publish_in(p, before)


@fault("qos.qos2-id-kept-after-pubcomp", "After PUBCOMP the Packet Identifier still counts as "
       "unreleased: the next PUBLISH with it is taken for a duplicate",
       v3="MQTT-4.3.3-2", v5="MQTT-4.3.3-12")
def qos2_id_kept(p: Patcher) -> None:
    def pubrel(original: Any, conn: Connection, session: Session, a: Pubrel, now: float
               ) -> None:
        original(conn, session, a, now)
        session.incoming_qos2[a.packet_id] = None

    p.wrap(flows, "_pubrel", pubrel)


@fault("qos.pubrel-unknown-unanswered", "A PUBREL for no known message gets no PUBCOMP",
       v3="MQTT-4.3.3-2", v5="MQTT-4.3.3-11")
def pubrel_unanswered(p: Patcher) -> None:
    def pubrel(original: Any, conn: Connection, session: Session, a: Pubrel, now: float
               ) -> None:
        if a.packet_id in session.incoming_qos2:
            original(conn, session, a, now)

    p.wrap(flows, "_pubrel", pubrel)


@fault("qos.server-packet-id-reused", "Every QoS 1/2 PUBLISH to a subscriber uses Packet "
       "Identifier 1", v3="MQTT-2.3.1-4", v5="MQTT-2.2.1-4")
def packet_id_reused(p: Patcher) -> None:
    _rewrite(p, Publish, lambda m: replace(m, packet_id=1) if m.qos else m)


@fault("qos.server-qos1-dup-set", "QoS 1 and 2 PUBLISH packets to subscribers carry DUP 1 on "
       "their first transmission", v3=("MQTT-4.3.2-1", "MQTT-4.3.3-1"),
       v5=("MQTT-4.3.2-2", "MQTT-4.3.3-2"))
def first_send_dup(p: Patcher) -> None:
    _rewrite(p, Publish, lambda m: replace(m, dup=True) if m.qos else m)


@fault("qos.pubrel-wrong-id", "The server's PUBREL carries the next Packet Identifier",
       v3=("MQTT-4.3.3-1", "MQTT-2.3.1-6"), v5=("MQTT-4.3.3-4", "MQTT-2.2.1-5"))
def pubrel_wrong_id(p: Patcher) -> None:
    _rewrite(p, Pubrel, lambda a: replace(a, packet_id=a.packet_id % 65535 + 1))


@fault("qos.pubrel-not-found-code", "MQTT 5: the server's PUBREL says 0x92 (not found) for "
       "a flow it knows", v5="MQTT-3.6.2-1", levels=(5,))
def pubrel_92(p: Patcher) -> None:
    _rewrite(p, Pubrel, lambda a: replace(a, reason_code=rc.PACKET_IDENTIFIER_NOT_FOUND))


@fault("qos.pubrel-after-refused-pubrec", "MQTT 5: a PUBREC 0x80 from the subscriber is "
       "answered with PUBREL as if accepted", v5="MQTT-4.3.3-4", levels=(5,))
def pubrel_after_refusal(p: Patcher) -> None:
    def pubrec(original: Any, conn: Connection, session: Session, a: Pubrec, now: float
               ) -> None:
        original(conn, session, replace(a, reason_code=0), now)

    p.wrap(flows, "_pubrec", pubrec)


@fault("qos.ack-codes-off-table", "MQTT 5: PUBACK, PUBREC, PUBREL and PUBCOMP carry Reason "
       "Code 0x05, in none of their tables",
       v5=("MQTT-3.4.2-1", "MQTT-3.5.2-1", "MQTT-3.6.2-1", "MQTT-3.7.2-1"), levels=(5,))
def codes_off_table(p: Patcher) -> None:
    p.replace(outgoing, "_diagnostics", lambda conn, packet, rule: packet)
    _rewrite(p, Puback | Pubrec | Pubrel | Pubcomp, lambda a: replace(a, reason_code=0x05))


@fault("qos.suback-unsuback-wrong-id", "SUBACK and UNSUBACK carry the next Packet Identifier",
       v3="MQTT-2.3.1-7", v5="MQTT-2.2.1-6")
def suback_wrong_id(p: Patcher) -> None:
    _rewrite(p, Suback | Unsuback, lambda a: replace(a, packet_id=a.packet_id % 65535 + 1))


@fault("qos.granted-qos-ignored", "Messages go to subscribers at the published QoS, whatever "
       "QoS was granted", v3="MQTT-3.8.4-6", v5="MQTT-3.8.4-8")
def granted_ignored(p: Patcher) -> None:
    def combine(original: Any, index: Any, message: Any, *args: Any, **kwargs: Any) -> Any:
        return replace(original(index, message, *args, **kwargs), qos=message.qos)

    p.wrap(SubscriptionIndex, "_combine", combine)


@fault("qos.upgraded-to-granted", "Messages go to subscribers at the granted QoS, even above "
       "the published one", v3=("MQTT-3.8.4-6", "MQTT-4.3.1-1"),
       v5=("MQTT-3.8.4-8", "MQTT-4.3.1-1"))
def upgraded(p: Patcher) -> None:
    def combine(original: Any, index: Any, message: Any, opts: Any, *args: Any) -> Any:
        delivery_ = original(index, message, opts, *args)
        return replace(delivery_, qos=max(o.qos for o in opts))

    p.wrap(SubscriptionIndex, "_combine", combine)


@fault("qos.overflow-dropped", "Messages for a subscriber with 20 unacknowledged PUBLISH "
       "packets are dropped", v3="MQTT-4.5.0-1", v5="MQTT-4.5.0-1")
def overflow_dropped(p: Patcher) -> None:
    def enqueue(original: Any, session: Session, d: Any, max_queued: int) -> bool:
        if len(session.inflight) + len(session.queue) >= 20:
            return False
        return bool(original(session, d, max_queued))

    p.wrap(Session, "enqueue", enqueue)


@fault("qos.expired-qos2-forgotten", "MQTT 5: a received QoS 2 message that expired before "
       "its PUBREL is forgotten (PUBCOMP 0x92)", v5="MQTT-4.3.3-13", levels=(5,))
def expired_forgotten(p: Patcher) -> None:
    def pubrel(original: Any, conn: Connection, session: Session, a: Pubrel, now: float
               ) -> None:
        expires_at = session.incoming_qos2.get(a.packet_id)
        if expires_at is not None and now >= expires_at:
            del session.incoming_qos2[a.packet_id]
        original(conn, session, a, now)

    p.wrap(flows, "_pubrel", pubrel)


@fault("qos.sent-qos2-expired", "MQTT 5: an unacknowledged QoS 2 PUBLISH whose Message Expiry "
       "passed is not re-sent on reconnection", v5="MQTT-4.3.3-7", levels=(5,))
def sent_expired(p: Patcher) -> None:
    def resend(original: Any, conn: Connection, session: Session) -> bool:
        for pid, entry in list(session.inflight.items()):
            expiry = entry.delivery.message.expires_at
            if not entry.sent and expiry is not None and expiry <= conn.last_received:
                del session.inflight[pid]
        return bool(original(conn, session))

    p.wrap(delivery, "_resend", resend)


@fault("qos.refused-packet-id-kept", "MQTT 5: a QoS 2 PUBLISH refused with PUBREC 0x99 keeps "
       "its Packet Identifier: the next one with it is taken for a duplicate",
       v5="MQTT-4.3.3-9", levels=(5,))
def refused_kept(p: Patcher) -> None:
    def before(conn: Connection, session: Session, m: Publish) -> bool:
        if m.qos != 2 or m.packet_id is None or m.properties.payload_format_indicator != 1:
            return False
        try:
            m.payload.decode("utf-8")
            return False
        except UnicodeDecodeError:
            session.incoming_qos2[m.packet_id] = None
            conn.send(Pubrec(packet_id=m.packet_id, reason_code=rc.PAYLOAD_FORMAT_INVALID,
                             protocol_level=5))
            return True

    _wrap_publish_in(p, before)


@fault("qos.max-qos-not-enforced", "MQTT 5, Maximum QoS 1: a QoS 2 PUBLISH is dropped, the "
       "connection stays open", v5="MQTT-3.2.2-11", config=MAX_QOS_1,
       levels=(5,))
def max_qos_not_enforced(p: Patcher) -> None:
    def protocol_error(original: Any, conn: Connection, code: int, *args: Any) -> None:
        if code != rc.QOS_NOT_SUPPORTED:
            original(conn, code, *args)

    p.wrap(Connection, "protocol_error", protocol_error)


@fault("qos.max-qos-undeclared", "MQTT 5: Maximum QoS 1 is enforced but not declared in the "
       "CONNACK", v5="MQTT-3.2.2-9", config=MAX_QOS_1, levels=(5,))
def max_qos_undeclared(p: Patcher) -> None:
    _rewrite(p, Connack, lambda c: replace(c, properties=replace(c.properties,
                                                                 maximum_qos=None)))


@fault("qos.subscribe-refused-above-max", "MQTT 5, Maximum QoS 1: a SUBSCRIBE requesting QoS "
       "2 is refused (0x80)", v5="MQTT-3.2.2-10", config=MAX_QOS_1, levels=(5,))
def subscribe_refused(p: Patcher) -> None:
    def subscribe_one(original: Any, conn: Connection, session: Session, sub: Any,
                      *args: Any) -> int | None:
        if sub.qos > conn.config.maximum_qos:
            return rc.UNSPECIFIED_ERROR
        result: int | None = original(conn, session, sub, *args)
        return result

    p.wrap(subscribing, "_subscribe_one", subscribe_one)


@fault("qos.will-qos-above-max-accepted", "MQTT 5, Maximum QoS 1: a CONNECT with Will QoS 2 "
       "is accepted", v5="MQTT-3.2.2-12", config=MAX_QOS_1, levels=(5,))
def will_qos_accepted(p: Patcher) -> None:
    def refusal(original: Any, *args: Any, **kwargs: Any) -> int | None:
        code: int | None = original(*args, **kwargs)
        return None if code == rc.QOS_NOT_SUPPORTED else code

    p.wrap(handshake, "refusal", refusal)
