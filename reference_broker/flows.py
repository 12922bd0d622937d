"""Application-message flows of one open connection: PUBLISH both ways and its acknowledgements,
SUBSCRIBE and UNSUBSCRIBE.

Strategy: plain functions over (connection, session, packet, now), called by connection.py,
each one rule after another in the order of the spec, naming the statement it enforces.

Incoming QoS 2 follows the spec's "method B": the message is passed on when the PUBLISH
arrives and its Packet Identifier is kept until PUBREL, so a re-sent PUBLISH is acknowledged
but not delivered twice (MQTT-4.3.3-10).  Outgoing messages leave the session queue in order
(MQTT-4.6.0-5, -6) while the client's Receive Maximum allows (MQTT-3.3.4-9, MQTT-4.9.0-2);
each PUBLISH is built for the subscriber at send time: its QoS, RETAIN flag, Subscription
Identifiers, Message Expiry Interval minus the time waited (MQTT-3.3.2-6), Topic Alias.

Topic ACL (acl.py; `conn.acl` is None when everything is allowed): a PUBLISH the client may
not write is acknowledged and dropped (3.x: a positive acknowledgement, MQTT-3.3.5-2; 5.0:
PUBACK / PUBREC 0x87, dropped silently at QoS 0); a Topic Filter it may not read gets SUBACK
0x80 (3.1.1) / 0x87 (5.0), and closes an MQTT 3.1 connection, whose SUBACK has no failure
code; every message is checked again when it is sent, retained messages and Wills included.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from mqttspec import (
    NO_PROPERTIES,
    Auth,
    Connack,
    Disconnect,
    Packet,
    Properties,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Subscribe,
    Subscription,
    Unsuback,
    Unsubscribe,
)
from mqttspec import reason_codes as rc
from mqttspec.topics import split_shared
from reference_broker.model import Delivery, Message, SubOptions
from reference_broker.session import Inflight, Session

if TYPE_CHECKING:
    from reference_broker.connection import Connection

_Diagnostic = Connack | Puback | Pubrec | Pubrel | Pubcomp | Suback | Unsuback | Disconnect | Auth
_DIAGNOSTIC = (Connack, Puback, Pubrec, Pubrel, Pubcomp, Suback, Unsuback, Disconnect, Auth)


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
                conn.protocol_error(rc.PROTOCOL_ERROR, f"Topic Alias {alias} is not mapped", now)
                return
        if (p.qos == 2 and pid not in session.incoming_qos2
                and len(session.incoming_qos2) >= config.receive_maximum):
            hit("", "MQTT-3.3.4-7")  # section 3.3.4: DISCONNECT 0x93
            conn.protocol_error(rc.RECEIVE_MAXIMUM_EXCEEDED,
                                f"more than {config.receive_maximum} QoS 2 unreleased", now)
            return
    hit("MQTT-3.3.4-1", "MQTT-3.3.4-1")
    if p.qos == 2 and pid in session.incoming_qos2:
        hit("MQTT-4.3.3-2", "MQTT-4.3.3-10")  # acknowledged again, not delivered again
        conn.send(Pubrec(packet_id=pid, protocol_level=level))
        return
    if conn.acl is not None and not conn.acl.may_write(topic):
        _publish_refused(conn, session, p, topic)
        return
    if props.topic_alias is not None or props.subscription_identifiers:
        props = replace(props, topic_alias=None, subscription_identifiers=())
    # 3.x clients were not told retain is unavailable: such a message is simply not retained
    retain = p.retain and config.retain_available
    message = Message(topic, p.payload, min(p.qos, config.maximum_qos), retain, props,
                      conn.client_id, now)
    matched = conn.core.publish(message, now, level)
    code = rc.NO_MATCHING_SUBSCRIBERS if level == 5 and not matched else rc.SUCCESS
    if p.qos == 1 and pid is not None:
        hit("MQTT-4.3.2-2", "MQTT-4.3.2-4")
        hit("MQTT-2.3.1-6", "MQTT-2.2.1-5")
        conn.send(Puback(packet_id=pid, reason_code=code, protocol_level=level))
    elif p.qos == 2 and pid is not None:
        session.incoming_qos2[pid] = None
        hit("MQTT-4.3.3-2", "MQTT-4.3.3-8")
        hit("MQTT-2.3.1-6", "MQTT-2.2.1-5")
        conn.send(Pubrec(packet_id=pid, reason_code=code, protocol_level=level))


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
    conn.send(ack(packet_id=pid, reason_code=rc.NOT_AUTHORIZED, properties=props,
                  protocol_level=5))


def dispatch(conn: Connection, session: Session, packet: Packet, now: float) -> None:
    if isinstance(packet, Puback):
        _acked(conn, session, packet.packet_id, 1, packet.reason_code, now)
    elif isinstance(packet, Pubrec):
        _pubrec(conn, session, packet, now)
    elif isinstance(packet, Pubrel):
        _pubrel(conn, session, packet)
    elif isinstance(packet, Pubcomp):
        _acked(conn, session, packet.packet_id, 2, packet.reason_code, now)
    elif isinstance(packet, Subscribe):
        _subscribe(conn, session, packet, now)
    elif isinstance(packet, Unsubscribe):
        _unsubscribe(conn, session, packet)


def _acked(conn: Connection, session: Session, pid: int, qos: int, code: int,
           now: float) -> None:
    """PUBACK (QoS 1) or PUBCOMP (QoS 2) completes a delivery to the client."""
    entry = session.inflight.get(pid)
    if entry is None or entry.publish.qos != qos or (qos == 2 and not entry.released):
        return  # nothing of ours is waiting for this acknowledgement
    if qos == 1:
        conn.hit("MQTT-4.3.2-1", "MQTT-4.3.2-3")
        if code >= 0x80:
            conn.hit("", "MQTT-4.4.0-2")
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
    if entry is None or entry.publish.qos != 2:
        if level == 5:
            conn.send(Pubrel(packet_id=pid, reason_code=rc.PACKET_IDENTIFIER_NOT_FOUND,
                             protocol_level=5))
        return
    if a.reason_code >= 0x80:  # acknowledged, not to be retransmitted
        conn.hit("", "MQTT-4.4.0-2")
        _complete(conn, session, pid, entry, now)
        return
    conn.hit("MQTT-4.3.3-1", "MQTT-4.3.3-4")
    conn.hit("", "MQTT-4.3.3-6")  # the PUBLISH is never re-sent from here on
    entry.released = True
    conn.send(Pubrel(packet_id=pid, protocol_level=level))


def _pubrel(conn: Connection, session: Session, a: Pubrel) -> None:
    pid, level = a.packet_id, conn.level
    code = rc.SUCCESS
    if pid in session.incoming_qos2:
        del session.incoming_qos2[pid]
        conn.hit("MQTT-4.3.3-2", "MQTT-4.3.3-11")
        conn.hit("", "MQTT-4.3.3-12")
    elif level == 5:
        code = rc.PACKET_IDENTIFIER_NOT_FOUND
    conn.send(Pubcomp(packet_id=pid, reason_code=code, protocol_level=level))


# -- subscriptions ----------------------------------------------------------------------------

def _subscribe(conn: Connection, session: Session, s: Subscribe, now: float) -> None:
    hit, level = conn.hit, conn.level
    hit("MQTT-3.8.4-1", "MQTT-3.8.4-1")
    ids = s.properties.subscription_identifiers
    sub_id = ids[0] if ids else None
    codes: list[int] = []
    retained: list[Delivery] = []
    for sub in s.subscriptions:
        code = _subscribe_one(conn, session, sub, sub_id, now, retained)
        if code is None:  # MQTT 3.1 has no SUBACK failure code: the connection is closed
            conn.protocol_error(rc.WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED,
                                f"subscription to {sub.topic_filter!r} refused", now)
            return
        codes.append(code)
    if len(codes) > 1:
        hit("MQTT-3.8.4-4", "MQTT-3.8.4-5")
    hit("MQTT-3.8.4-2", "MQTT-3.8.4-2")
    hit("MQTT-3.8.4-5", "MQTT-3.8.4-6")
    hit("MQTT-3.9.3-1", "MQTT-3.9.3-1")
    hit("MQTT-3.9.3-2", "MQTT-3.9.3-2")
    props = NO_PROPERTIES
    if level == 5 and rc.NOT_AUTHORIZED in codes:
        props = Properties(reason_string="subscription refused: not authorized")
    elif level == 5 and any(code >= 0x80 for code in codes):
        props = Properties(reason_string="subscription refused: feature not available")
    conn.send(Suback(packet_id=s.packet_id, reason_codes=tuple(codes), properties=props,
                     protocol_level=level))
    for delivery in retained:
        conn.core.deliver(session, delivery, now)


def _subscribe_one(conn: Connection, session: Session, sub: Subscription,
                   sub_id: int | None, now: float, retained: list[Delivery]) -> int | None:
    """Subscribe to one Topic Filter; returns the SUBACK code (None: 3.1 cannot refuse)."""
    config, level, hit = conn.config, conn.level, conn.hit
    topic_filter = sub.topic_filter
    share, plain = split_shared(topic_filter) if level == 5 else (None, topic_filter)
    failure = None
    if sub_id is not None and not config.subscription_identifier_available:
        failure = rc.SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED
    elif share is not None and not config.shared_subscription_available:
        failure = rc.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED
    elif not config.wildcard_subscription_available and ("+" in plain or "#" in plain):
        hit("MQTT-3.8.3-2")
        failure = rc.WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED
    elif conn.acl is not None and not conn.acl.may_subscribe(plain):
        hit("MQTT-3.8.4-5", "MQTT-3.8.4-7")  # the code says the subscription failed
        failure = rc.NOT_AUTHORIZED
    if failure is not None:
        return failure if level == 5 else (0x80 if level == 4 else None)
    granted = min(sub.qos, config.maximum_qos)
    if granted < sub.qos:
        hit("", "MQTT-3.2.2-10")  # accepted, at the QoS the server supports
    hit("MQTT-3.8.4-5", "MQTT-3.8.4-7")
    options = SubOptions(granted, sub.no_local, sub.retain_as_published, sub.retain_handling,
                         sub_id)
    existed = topic_filter in session.subscriptions
    if existed:
        hit("MQTT-3.8.4-3", "MQTT-3.8.4-3")  # replaces the existing subscription
    session.subscriptions[topic_filter] = options
    conn.core.index.add(session.client_id, topic_filter, options)
    if share is None:  # shared subscriptions get no retained messages
        _retained_for(conn, plain, options, existed, now, retained)
    return granted


def _retained_for(conn: Connection, topic_filter: str, options: SubOptions, existed: bool,
                  now: float, out: list[Delivery]) -> None:
    hit = conn.hit
    handling = options.retain_handling
    if handling == 2:
        hit("", "MQTT-3.3.1-11")
        return
    if handling == 1 and existed:
        hit("", "MQTT-3.3.1-10")
        return
    hit("MQTT-3.3.1-6", "MQTT-3.3.1-9" if handling == 0 else "MQTT-3.3.1-10")
    if handling == 0:
        hit("", "MQTT-3.8.4-4")
    ids = (options.subscription_id,) if options.subscription_id is not None else ()
    for message in conn.core.retained.matching(topic_filter, now):
        hit("MQTT-3.3.1-8")  # RETAIN 1: sent because of a new subscription
        out.append(Delivery(message, min(message.qos, options.qos), True, ids))


def _unsubscribe(conn: Connection, session: Session, u: Unsubscribe) -> None:
    hit, level = conn.hit, conn.level
    codes = []
    for topic_filter in u.topic_filters:
        hit("MQTT-3.10.4-1", "MQTT-3.10.4-1")  # compared character by character
        if topic_filter in session.subscriptions:
            del session.subscriptions[topic_filter]
            conn.core.index.remove(session.client_id, topic_filter)
            hit("MQTT-3.10.4-2", "MQTT-3.10.4-2")
            codes.append(rc.SUCCESS)
        else:
            codes.append(rc.NO_SUBSCRIPTION_EXISTED)
    if len(codes) > 1:
        hit("MQTT-3.10.4-6", "MQTT-3.10.4-6")
    hit("MQTT-3.10.4-4", "MQTT-3.10.4-4")
    hit("MQTT-3.10.4-5", "MQTT-3.10.4-5")
    hit("", "MQTT-3.11.3-1")
    conn.send(Unsuback(packet_id=u.packet_id, reason_codes=tuple(codes) if level == 5 else (),
                       protocol_level=level))


# -- server to client ---------------------------------------------------------------------------

def pump(conn: Connection, session: Session, now: float) -> None:
    if conn.paused or (conn.resend_pending and not _resend(conn, session)):
        return
    queue, acl = session.queue, conn.acl
    while queue and conn.state == "open" and not conn.paused:
        delivery = queue[0]
        if delivery.message.expired(now):
            queue.popleft()
            conn.hit("", "MQTT-3.3.2-5")
            continue
        if acl is not None and not acl.may_read(delivery.message.topic):
            queue.popleft()  # the ACL, checked at delivery: not for this client
            continue
        pid = None
        if delivery.qos:
            if conn.outstanding >= conn.receive_maximum:
                conn.hit("", "MQTT-3.3.4-9")
                conn.hit("", "MQTT-4.9.0-2")
                return
            pid = session.next_packet_id()
            if pid is None:
                return
        queue.popleft()
        publish = _build_publish(conn, delivery, pid, now)
        sent = _send_publish(conn, publish)
        if pid is not None and sent:
            session.inflight[pid] = Inflight(publish, sent=True)
            conn.outstanding += 1


def _resend(conn: Connection, session: Session) -> bool:
    """Re-send, in order and with the original Packet Identifiers, what an earlier connection
    left unacknowledged (MQTT-4.4.0-1); False while the Receive Maximum holds some back."""
    level, acl = conn.level, conn.acl
    for pid, entry in list(session.inflight.items()):
        if entry.sent:
            continue
        if acl is not None and not entry.released and not acl.may_read(entry.publish.topic):
            del session.inflight[pid]  # e.g. the session was resumed by another user
            continue
        if conn.outstanding >= conn.receive_maximum:
            return False
        entry.sent = True
        conn.outstanding += 1
        conn.hit("MQTT-4.4.0-1", "MQTT-4.4.0-1")
        if entry.released:
            conn.send(Pubrel(packet_id=pid, protocol_level=level, dup=level == 3))
            continue
        conn.hit("MQTT-3.3.1-1", "MQTT-3.3.1-1")  # DUP 1 on a re-delivery
        publish = entry.publish
        if publish.protocol_level != level:
            props = publish.properties if level == 5 else NO_PROPERTIES
            publish = replace(publish, properties=props, protocol_level=level)
        if not conn.send(replace(publish, dup=True)):
            del session.inflight[pid]  # too large: treated as delivered (MQTT-3.1.2-25)
            conn.outstanding -= 1
    conn.resend_pending = False
    return True


def _build_publish(conn: Connection, d: Delivery, pid: int | None, now: float) -> Publish:
    m, level, hit = d.message, conn.level, conn.hit
    props = NO_PROPERTIES
    if level == 5:
        props = m.properties
        changes: dict[str, Any] = {}
        remaining = m.remaining_expiry(now)
        if remaining is not None:
            hit("", "MQTT-3.3.2-6")
            if remaining != props.message_expiry_interval:
                changes["message_expiry_interval"] = remaining
        if d.subscription_ids:
            hit("", "MQTT-3.3.4-3")
            if len(d.subscription_ids) > 1:
                hit("", "MQTT-3.3.4-4")  # one copy carries every matching identifier
            changes["subscription_identifiers"] = d.subscription_ids
        if changes:
            props = replace(props, **changes)
        _trace_passed_through(conn, props)
    hit("MQTT-3.3.2-3", "MQTT-3.3.2-3")
    hit("MQTT-3.8.4-6", "MQTT-3.8.4-8")  # QoS: min(published, granted), see subscriptions.py
    hit("MQTT-4.6.0-6", "MQTT-4.6.0-5")  # sent in queue order
    hit("MQTT-3.3.1-3", "MQTT-3.3.1-3")  # DUP set here, never copied from the publisher
    if d.qos == 0:
        hit("MQTT-4.3.1-1", "MQTT-4.3.1-1")
        hit("MQTT-3.3.1-2", "MQTT-3.3.1-2")
    else:
        hit("MQTT-2.3.1-4", "MQTT-2.2.1-4")
        if d.qos == 1:
            hit("MQTT-4.3.2-1", "MQTT-4.3.2-1")
            hit("", "MQTT-4.3.2-2")
        else:
            hit("MQTT-4.3.3-1", "MQTT-4.3.3-1")
            hit("", "MQTT-4.3.3-2")
    if m.retain and not d.retain:
        hit("MQTT-3.3.1-9", "MQTT-3.3.1-12")
    return Publish(topic=m.topic, payload=m.payload, qos=d.qos, retain=d.retain,
                   packet_id=pid, properties=props, protocol_level=level)


def _trace_passed_through(conn: Connection, props: Properties) -> None:
    hit = conn.hit
    if props.payload_format_indicator is not None:
        hit("", "MQTT-3.3.2-4")
    if props.response_topic is not None:
        hit("", "MQTT-3.3.2-15")
    if props.correlation_data is not None:
        hit("", "MQTT-3.3.2-16")
    if props.user_properties:
        hit("", "MQTT-3.3.2-17")
        hit("", "MQTT-3.3.2-18")
    if props.content_type is not None:
        hit("", "MQTT-3.3.2-20")


def _send_publish(conn: Connection, publish: Publish) -> bool:
    """Send, using a Topic Alias when the client accepts them (MQTT-3.1.2-26, -27)."""
    if conn.level < 5:
        return conn.send(publish)
    if not conn.alias_max_out:
        conn.hit("", "MQTT-3.1.2-27")
        return conn.send(publish)
    alias = conn.aliases_out.get(publish.topic)
    if alias is not None:
        conn.hit("", "MQTT-3.3.2-11")
        return conn.send(replace(publish, topic="", properties=replace(
            publish.properties, topic_alias=alias)))
    if len(conn.aliases_out) >= conn.alias_max_out:
        return conn.send(publish)  # all aliases taken: the full Topic Name
    alias = len(conn.aliases_out) + 1
    conn.hit("", "MQTT-3.1.2-26")
    sent = conn.send(replace(publish, properties=replace(publish.properties, topic_alias=alias)))
    if sent:  # the mapping exists for the client only once the PUBLISH has gone out
        conn.aliases_out[publish.topic] = alias
    return sent


def without_diagnostics(packet: Packet) -> Packet:
    """The packet without Reason String and User Properties (not for PUBLISH, where user
    properties are application data)."""
    if not isinstance(packet, _DIAGNOSTIC):
        return packet
    props = packet.properties
    if props.reason_string is None and not props.user_properties:
        return packet
    slim: _Diagnostic = replace(packet, properties=replace(
        props, reason_string=None, user_properties=()))
    return slim
