"""What the client sends on an open connection: PUBLISH, and the acknowledgements of QoS 1
and 2 flows in both directions.

Strategy: plain functions over (connection, session, packet, now), called by connection.py,
each one rule after another in the order of the spec, naming the statement it enforces.
SUBSCRIBE and UNSUBSCRIBE are passed on to subscribing.py; sending the session's messages
to the client is delivery.py.

Incoming QoS 2 follows the spec's "method B": the message is passed on when the PUBLISH
arrives and its Packet Identifier is kept until PUBREL, so a re-sent PUBLISH is acknowledged
but not delivered twice (MQTT-4.3.3-10).  The acknowledgements of messages sent to the client
(PUBACK, PUBREC, PUBCOMP) free their Packet Identifier and quota, then let the session send
more.

Topic ACL (acl.py; `conn.acl` is None when everything is allowed): a PUBLISH the client may
not write is acknowledged and dropped (3.x: a positive acknowledgement, MQTT-3.3.5-2; 5.0:
PUBACK / PUBREC 0x87, dropped silently at QoS 0).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from mqttspec import (
    NO_PROPERTIES,
    Packet,
    Properties,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Subscribe,
    Unsubscribe,
)
from mqttspec import reason_codes as rc
from reference_broker import subscribing
from reference_broker.model import Message
from reference_broker.session import Inflight, Session
from reference_broker.trace import group

if TYPE_CHECKING:
    from reference_broker.connection import Connection


# -- client to server ---------------------------------------------------------------------------

def publish_in(conn: Connection, session: Session, p: Publish, now: float) -> None:
    config, level, hit = conn.config, conn.level, conn.hit
    topic, props, pid = p.topic, p.properties, p.packet_id
    if level == 5:
        if p.qos > config.maximum_qos:  # section 3.2.2.3.4: DISCONNECT 0x9B
            hit("", "MQTT-3.2.2-11")
            conn.protocol_error(rc.QOS_NOT_SUPPORTED,
                                f"QoS {p.qos} above Maximum QoS {config.maximum_qos}", now)
            return
        if p.retain and not config.retain_available:  # section 3.2.2.3.5: DISCONNECT 0x9A
            hit("", "MQTT-3.2.2-14")
            conn.protocol_error(rc.RETAIN_NOT_SUPPORTED, "retain is not available", now)
            return
        alias = props.topic_alias
        if alias is not None:
            if alias > config.topic_alias_maximum:  # section 3.3.2.3.4: DISCONNECT 0x94
                hit("", "MQTT-3.2.2-17" if config.topic_alias_maximum else "MQTT-3.2.2-18")
                conn.protocol_error(rc.TOPIC_ALIAS_INVALID, f"Topic Alias {alias} above "
                                    f"Topic Alias Maximum {config.topic_alias_maximum}", now)
                return
            hit("", "MQTT-3.3.2-12")
            if topic:
                conn.aliases_in[alias] = topic
            elif alias in conn.aliases_in:
                topic = conn.aliases_in[alias]
            else:  # section 3.3.2.3.4: an unknown alias with an empty Topic Name
                hit("", "MQTT-3.3.2-7")  # (mappings never outlive their network connection)
                conn.protocol_error(rc.PROTOCOL_ERROR, f"Topic Alias {alias} is not mapped", now)
                return
        if (p.qos == 2 and pid not in session.incoming_qos2
                and len(session.incoming_qos2) >= config.receive_maximum):
            hit("", "MQTT-3.3.4-7")  # section 3.3.4: DISCONNECT 0x93
            conn.protocol_error(rc.RECEIVE_MAXIMUM_EXCEEDED,
                                f"more than {config.receive_maximum} QoS 2 unreleased", now)
            return
    qos = p.qos
    if qos == 2 and pid in session.incoming_qos2:
        hit("MQTT-3.3.4-1", "MQTT-3.3.4-1")
        hit("MQTT-4.3.3-2", "MQTT-4.3.3-10")  # acknowledged again, not delivered again
        conn.send(Pubrec(packet_id=pid, protocol_level=level))
        return
    if conn.acl is not None and not conn.acl.may_write(topic):
        hit("MQTT-3.3.4-1", "MQTT-3.3.4-1")
        _publish_refused(conn, session, p, topic)
        return
    if props.topic_alias is not None or props.subscription_identifiers:
        props = replace(props, topic_alias=None, subscription_identifiers=())
    # 3.x clients were not told retain is unavailable: such a message is simply not retained
    retain = p.retain and config.retain_available
    message = Message(topic, p.payload, min(qos, config.maximum_qos), retain, props,
                      conn.client_id, now)
    matched = conn.core.publish(message, now, level)
    conn.trace.hit_group(level, _ANSWERED[qos])
    if pid is None:  # QoS 0: nothing to answer
        return
    code = rc.NO_MATCHING_SUBSCRIBERS if level == 5 and not matched else rc.SUCCESS
    if qos == 1:
        if level < 5:  # nothing can be added or left out: the packet is fixed (3.4)
            conn.send_encoded(_PUBACK_V3 + pid.to_bytes(2, "big"))
        else:
            conn.send(Puback(packet_id=pid, reason_code=code, protocol_level=level))
    else:
        session.incoming_qos2[pid] = message.expires_at
        conn.send(Pubrec(packet_id=pid, reason_code=code, protocol_level=level))


# The rules every accepted PUBLISH of a QoS is answered by (Table 3.4 of 3.3.4), by QoS.
_ANSWERED = {
    0: group(("MQTT-3.3.4-1", "MQTT-3.3.4-1")),
    1: group(("MQTT-3.3.4-1", "MQTT-3.3.4-1"), ("MQTT-4.3.2-2", "MQTT-4.3.2-4"),
             ("", "MQTT-4.3.2-5"),  # every QoS 1 PUBLISH is a new message, DUP or not
             ("MQTT-2.3.1-6", "MQTT-2.2.1-5")),  # the PUBACK carries its Packet Identifier
    2: group(("MQTT-3.3.4-1", "MQTT-3.3.4-1"), ("MQTT-4.3.3-2", "MQTT-4.3.3-8"),
             ("MQTT-2.3.1-6", "MQTT-2.2.1-5")),
}
_PUBACK_V3 = bytes((0x40, 2))  # PUBACK's fixed header; then the Packet Identifier


def _publish_refused(conn: Connection, session: Session, p: Publish, topic: str) -> None:
    """The ACL does not let the client publish to `topic`: acknowledge, do not deliver."""
    pid, level = p.packet_id, conn.level
    if pid is None:
        return  # QoS 0: dropped, nothing to answer
    if level < 5:  # MQTT-3.3.5-2: a positive acknowledgement by the QoS rules
        conn.hit("MQTT-3.3.5-2")
        if p.qos == 2:
            session.incoming_qos2[pid] = None  # PUBREL still gets its PUBCOMP
            conn.send(Pubrec(packet_id=pid, protocol_level=level))
        else:
            conn.send(Puback(packet_id=pid, protocol_level=level))
        return
    props = Properties(reason_string=f"not authorized to publish to {topic!r}"[:200])
    ack = Pubrec if p.qos == 2 else Puback  # 0x87 ends a QoS 2 flow at PUBREC
    if p.qos == 2:
        conn.hit("", "MQTT-4.3.3-9")  # the Packet Identifier is not kept: next one is new
    conn.send(ack(packet_id=pid, reason_code=rc.NOT_AUTHORIZED, properties=props,
                  protocol_level=5))


# the packet types `dispatch` handles
DISPATCHED = frozenset((Puback, Pubrec, Pubrel, Pubcomp, Subscribe, Unsubscribe))


def dispatch(conn: Connection, session: Session, packet: Packet, now: float) -> None:
    if isinstance(packet, Puback):
        _acked(conn, session, packet.packet_id, 1, packet.reason_code, now)
    elif isinstance(packet, Pubrec):
        _pubrec(conn, session, packet, now)
    elif isinstance(packet, Pubrel):
        _pubrel(conn, session, packet, now)
    elif isinstance(packet, Pubcomp):
        _acked(conn, session, packet.packet_id, 2, packet.reason_code, now)
    elif isinstance(packet, Subscribe):
        subscribing.subscribe(conn, session, packet, now)
    elif isinstance(packet, Unsubscribe):
        subscribing.unsubscribe(conn, session, packet)


def _acked(conn: Connection, session: Session, pid: int, qos: int, code: int,
           now: float) -> None:
    """PUBACK (QoS 1) or PUBCOMP (QoS 2) completes a delivery to the client."""
    entry = session.inflight.get(pid)
    if entry is None or entry.qos != qos or (qos == 2 and not entry.released):
        return  # nothing of ours is waiting for this acknowledgement
    if qos == 1:
        conn.trace.hit(conn.level, "MQTT-4.3.2-1", "MQTT-4.3.2-3")
        if code >= 0x80:
            conn.hit("", "MQTT-4.4.0-2")
            if entry.shared:
                conn.hit("", "MQTT-4.8.2-6")  # discarded, not offered to another member
    else:
        conn.hit("MQTT-4.3.3-1", "MQTT-4.3.3-5")
    _complete(conn, session, pid, entry, now)


def _complete(conn: Connection, session: Session, pid: int, entry: Inflight,
              now: float) -> None:
    del session.inflight[pid]
    if entry.sent:
        conn.outstanding -= 1
    conn.pump(now)


def _pubrec(conn: Connection, session: Session, a: Pubrec, now: float) -> None:
    pid, level = a.packet_id, conn.level
    entry = session.inflight.get(pid)
    if entry is None or entry.qos != 2:
        if level == 5:
            conn.send(Pubrel(packet_id=pid, reason_code=rc.PACKET_IDENTIFIER_NOT_FOUND,
                             properties=_not_found("PUBLISH", pid), protocol_level=5))
        return
    if a.reason_code >= 0x80:  # acknowledged, not to be retransmitted
        conn.hit("", "MQTT-4.4.0-2")
        if entry.shared:
            conn.hit("", "MQTT-4.8.2-6")  # discarded, not offered to another member
        _complete(conn, session, pid, entry, now)
        return
    conn.hit("MQTT-4.3.3-1", "MQTT-4.3.3-4")
    conn.hit("", "MQTT-4.3.3-6")  # the PUBLISH is never re-sent from here on
    entry.released = True
    conn.send(Pubrel(packet_id=pid, protocol_level=level))


def _pubrel(conn: Connection, session: Session, a: Pubrel, now: float) -> None:
    pid, level = a.packet_id, conn.level
    code, props = rc.SUCCESS, NO_PROPERTIES
    if pid in session.incoming_qos2:
        expires_at = session.incoming_qos2.pop(pid)
        conn.hit("MQTT-4.3.3-2", "MQTT-4.3.3-11")
        conn.hit("", "MQTT-4.3.3-12")
        if expires_at is not None and now >= expires_at:
            conn.hit("", "MQTT-4.3.3-13")  # the message expired: the exchange still ends
    elif level == 5:
        code, props = rc.PACKET_IDENTIFIER_NOT_FOUND, _not_found("QoS 2 message", pid)
    conn.send(Pubcomp(packet_id=pid, reason_code=code, properties=props, protocol_level=level))


def _not_found(what: str, pid: int) -> Properties:
    return Properties(reason_string=f"no {what} with Packet Identifier {pid} is waiting")
