"""SUBSCRIBE and UNSUBSCRIBE of one open connection: the subscription rules, in spec order.

Strategy: plain functions over (connection, session, packet, now), called by flows.dispatch.
Each Topic Filter of a SUBSCRIBE is checked against the server's capabilities (Subscription
Identifiers, shared and wildcard subscriptions) and the topic ACL, then stored in the session
and the broker's index at the granted QoS (the lower of the requested QoS and the server's
Maximum QoS); the SUBACK lists one code per filter, in order, and the retained messages the
Retain Handling option asks for follow it.  A Topic Filter the client may not read gets SUBACK
0x80 (3.1.1) / 0x87 (5.0) and closes an MQTT 3.1 connection, whose SUBACK has no failure code.
UNSUBSCRIBE removes exact matches only, and leaves in flight what was already sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mqttspec import (
    NO_PROPERTIES,
    Properties,
    Suback,
    Subscribe,
    Subscription,
    Unsuback,
    Unsubscribe,
)
from mqttspec import reason_codes as rc
from mqttspec.topics import matches, split_shared
from reference_broker.model import Delivery, SubOptions
from reference_broker.session import Session

if TYPE_CHECKING:
    from reference_broker.connection import Connection


def subscribe(conn: Connection, session: Session, s: Subscribe, now: float) -> None:
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
    hit("MQTT-2.3.1-7", "MQTT-2.2.1-6")  # the SUBSCRIBE's Packet Identifier
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


def unsubscribe(conn: Connection, session: Session, u: Unsubscribe) -> None:
    hit, level = conn.hit, conn.level
    codes = []
    removed = []
    for topic_filter in u.topic_filters:
        hit("MQTT-3.10.4-1", "MQTT-3.10.4-1")  # compared character by character
        if topic_filter in session.subscriptions:
            del session.subscriptions[topic_filter]
            conn.core.index.remove(session.client_id, topic_filter)
            hit("MQTT-3.10.4-2", "MQTT-3.10.4-2")
            codes.append(rc.SUCCESS)
            removed.append(split_shared(topic_filter)[1])
        else:
            codes.append(rc.NO_SUBSCRIPTION_EXISTED)
    # QoS 1 and 2 messages already sent for those filters stay in flight, to be completed
    if any(matches(f, entry.topic) for f in removed for entry in session.inflight.values()):
        hit("MQTT-3.10.4-3", "MQTT-3.10.4-3")
    if len(codes) > 1:
        hit("MQTT-3.10.4-6", "MQTT-3.10.4-6")
    hit("MQTT-3.10.4-4", "MQTT-3.10.4-4")
    hit("MQTT-3.10.4-5", "MQTT-3.10.4-5")
    hit("", "MQTT-3.11.3-1")
    hit("MQTT-2.3.1-7", "MQTT-2.2.1-6")  # the UNSUBSCRIBE's Packet Identifier
    props = NO_PROPERTIES
    missing = [f for f, code in zip(u.topic_filters, codes, strict=True) if code != rc.SUCCESS]
    if level == 5 and missing:
        props = Properties(reason_string=f"no subscription existed for {missing!r}"[:200])
    conn.send(Unsuback(packet_id=u.packet_id, reason_codes=tuple(codes) if level == 5 else (),
                       properties=props, protocol_level=level))
