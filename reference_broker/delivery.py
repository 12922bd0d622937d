"""Server to client: the session's messages leave as PUBLISH packets, in order and within quota.

Strategy: plain functions over (connection, session, now), called by connection.py and by the
acknowledgement flows (flows.py) whenever the quota may have changed.  `pump` first re-sends,
in order and with their original Packet Identifiers, what an earlier network connection left
unacknowledged (MQTT-4.4.0-1), then takes messages from the session queue in order
(MQTT-4.6.0-5, -6) while the client's Receive Maximum allows (MQTT-3.3.4-9, MQTT-4.9.0-2).
Each PUBLISH is built for the subscriber at send time: its QoS, RETAIN flag, Subscription
Identifiers, Message Expiry Interval minus the time waited (MQTT-3.3.2-6), Topic Alias.  A
message that expired while queued is dropped (MQTT-3.3.2-5); once sent, it is never expired
(MQTT-4.3.3-7).  A PUBLISH too large for the client's Maximum Packet Size is discarded as if
delivered (MQTT-3.1.2-25).  The topic ACL (acl.py) is checked again here, at delivery.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from mqttspec import NO_PROPERTIES, Properties, Publish, Pubrel
from reference_broker import outgoing
from reference_broker.model import Delivery
from reference_broker.session import Inflight, Session
from reference_broker.trace import group

if TYPE_CHECKING:
    from reference_broker.connection import Connection


# The rules every PUBLISH built by `_properties` follows, whatever the message, as
# (3.1.1 ID, 5.0 ID) pairs: recorded in one go, since there is one such packet per delivery.
_EVERY_PUBLISH = (
    ("MQTT-3.3.2-1", "MQTT-3.3.2-1"),  # the Topic Name first, as a UTF-8 string ...
    ("MQTT-4.7.3-2", "MQTT-4.7.3-2"),  # ... as received: the decoder refused U+0000
    ("MQTT-3.3.2-3", "MQTT-3.3.2-3"),  # ... the publisher's, not the subscription's filter
    ("MQTT-3.8.4-6", "MQTT-3.8.4-8"),  # QoS: min(published, granted), see subscriptions.py
    ("MQTT-4.6.0-6", "MQTT-4.6.0-5"),  # sent in the order of the session queue
    ("MQTT-4.6.0-5", ""),  # every topic is an ordered topic (5.0: non-shared only, below)
    ("MQTT-3.3.1-3", "MQTT-3.3.1-3"),  # DUP set here, never copied from the publisher
)
_BY_QOS = {
    0: (("MQTT-4.3.1-1", "MQTT-4.3.1-1"), ("MQTT-3.3.1-2", "MQTT-3.3.1-2"),
        ("MQTT-2.3.1-5", "MQTT-2.2.1-2")),  # DUP 0, no Packet Identifier
    1: (("MQTT-2.3.1-4", "MQTT-2.2.1-4"), ("MQTT-4.3.2-1", "MQTT-4.3.2-1"),
        ("", "MQTT-4.3.2-2")),  # a Packet Identifier free in this session
    2: (("MQTT-2.3.1-4", "MQTT-2.2.1-4"), ("MQTT-4.3.3-1", "MQTT-4.3.3-1"),
        ("", "MQTT-4.3.3-2")),
}
# no more QoS 1/2 PUBLISH while the client's Receive Maximum is reached
_QUOTA_REACHED = group(("", "MQTT-3.3.4-9"), ("", "MQTT-4.9.0-2"))
_ORDERED = ("", "MQTT-4.6.0-6")  # 5.0: a non-shared subscription's topic is ordered
# (QoS, for a shared subscription) -> the group recorded
_BUILT = {(qos, shared): group(*_EVERY_PUBLISH, *rules, *(() if shared else (_ORDERED,)))
          for qos, rules in _BY_QOS.items() for shared in (False, True)}


def pump(conn: Connection, session: Session, now: float) -> None:
    if conn.paused or (conn.resend_pending and not _resend(conn, session)):
        return
    queue, acl = session.queue, conn.acl
    while queue and conn.state == "open" and not conn.paused:
        delivery = queue[0]
        # the quota first: while it is reached, the queue waits whatever its head holds
        if delivery.qos and conn.outstanding >= conn.receive_maximum:
            conn.trace.hit_group(conn.level, _QUOTA_REACHED)
            return
        if delivery.message.expired(now):
            queue.popleft()
            conn.hit("", "MQTT-3.3.2-5")
            continue
        if acl is not None and not acl.may_read(delivery.message.topic):
            queue.popleft()  # the ACL, checked at delivery: not for this client
            continue
        pid = None
        if delivery.qos:
            pid = session.next_packet_id()
            if pid is None:
                return
        queue.popleft()
        props = _properties(conn, delivery, now)
        if not _send_publish(conn, delivery, props, pid):
            conn.hit("", "MQTT-3.1.2-25")  # too large: discarded, as if delivered
            continue
        if pid is not None:
            session.inflight[pid] = Inflight(delivery, props, conn.level)
            conn.outstanding += 1


def _resend(conn: Connection, session: Session) -> bool:
    """Re-send, in order and with the original Packet Identifiers, what an earlier connection
    left unacknowledged (MQTT-4.4.0-1); False while the Receive Maximum holds some back."""
    level, acl, hit = conn.level, conn.acl, conn.hit
    for pid, entry in list(session.inflight.items()):
        if entry.sent:
            continue
        if acl is not None and not entry.released and not acl.may_read(entry.topic):
            del session.inflight[pid]  # e.g. the session was resumed by another user
            continue
        if conn.outstanding >= conn.receive_maximum:
            return False
        entry.sent = True
        conn.outstanding += 1
        hit("MQTT-4.4.0-1", "MQTT-4.4.0-1")
        publish = entry.publish(pid)
        if entry.shared and publish.qos == 2:
            hit("", "MQTT-4.8.2-4")  # a shared subscription's message: completed here
        if entry.released:
            conn.send(Pubrel(packet_id=pid, protocol_level=level, dup=level == 3))
            continue
        hit("MQTT-3.3.1-1", "MQTT-3.3.1-1")  # DUP 1 on a re-delivery
        if publish.qos == 2:
            hit("", "MQTT-4.3.3-3")  # no PUBREC yet: still unacknowledged
            if publish.properties.message_expiry_interval is not None:
                hit("", "MQTT-4.3.3-7")  # sent once: Message Expiry no longer applies
        if publish.protocol_level != level:
            props = publish.properties if level == 5 else NO_PROPERTIES
            publish = replace(publish, properties=props, protocol_level=level)
        if not conn.send(replace(publish, dup=True)):
            hit("", "MQTT-3.1.2-25")  # too large: discarded, as if delivered
            del session.inflight[pid]
            conn.outstanding -= 1
    conn.resend_pending = False
    return True


def _properties(conn: Connection, d: Delivery, now: float) -> Properties:
    """The properties of the PUBLISH built for this subscriber (MQTT 5; 3.x: none), and the
    rules every such PUBLISH follows, recorded."""
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
    conn.trace.hit_group(level, _BUILT[d.qos, d.shared])
    if m.retain and not d.retain:
        hit("MQTT-3.3.1-9", "MQTT-3.3.1-12")
    return props


def _trace_passed_through(conn: Connection, props: Properties) -> None:
    """Properties forwarded unaltered; the strings among them were checked on receipt."""
    hit = conn.hit
    if props.payload_format_indicator is not None:
        hit("", "MQTT-3.3.2-4")
    if props.response_topic is not None:
        hit("", "MQTT-3.3.2-13")  # a UTF-8 string
        hit("", "MQTT-3.3.2-15")
    if props.correlation_data is not None:
        hit("", "MQTT-3.3.2-16")
    if props.user_properties:
        hit("", "MQTT-1.5.7-1")  # pairs of UTF-8 strings
        hit("", "MQTT-3.3.2-17")
        hit("", "MQTT-3.3.2-18")
    if props.content_type is not None:
        hit("", "MQTT-3.3.2-19")  # a UTF-8 string
        hit("", "MQTT-3.3.2-20")


def _send_publish(conn: Connection, d: Delivery, props: Properties, pid: int | None
                  ) -> bool:
    """Send, using a Topic Alias when the client accepts them (MQTT-3.1.2-26, -27); without
    one, the bytes are those every subscriber of the message shares (outgoing.py)."""
    if conn.alias_max_out:
        return _send_aliased(conn, d.publish(props, pid, conn.level))
    if conn.level == 5:
        conn.hit("", "MQTT-3.1.2-27")
    return conn.send_encoded(
        outgoing.publish_wire(d.message, d.qos, d.retain, props, conn.level, pid))


def _send_aliased(conn: Connection, publish: Publish) -> bool:
    alias = conn.aliases_out.get(publish.topic)
    if alias is not None:
        conn.hit("", "MQTT-3.3.2-11")
        return conn.send(replace(publish, topic="", properties=replace(
            publish.properties, topic_alias=alias)))
    if len(conn.aliases_out) >= conn.alias_max_out:
        return conn.send(publish)  # all aliases taken: the full Topic Name
    alias = len(conn.aliases_out) + 1  # from 1 up: never 0 (MQTT-3.3.2-8)
    conn.hit("", "MQTT-3.1.2-26")
    conn.hit("", "MQTT-3.3.2-8")
    sent = conn.send(replace(publish, properties=replace(publish.properties, topic_alias=alias)))
    if sent:  # the mapping exists for the client only once the PUBLISH has gone out
        conn.aliases_out[publish.topic] = alias
    return sent
