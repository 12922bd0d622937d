"""Faults in SUBSCRIBE / SUBACK handling and in the delivery of overlapping subscriptions
(MQTT 3.1.1 sections 3.3.5, 3.8-3.9; MQTT 5 sections 3.3.4, 3.8-3.9).

Each one removes a single rule: the SUBACK's Packet Identifier, its presence, one code per
filter in order, the granted QoS applied, the replacement of a subscription with the same
filter (with its retained messages and without losing the flow), the maximum QoS and the
Subscription Identifiers of overlapping subscriptions, the Maximum Packet Size of MQTT 5
diagnostics.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from conformance.faults.base import Patcher, fault
from mqttspec import Disconnect, Packet, Properties, Suback, Unsuback
from reference_broker import outgoing, subscribing
from reference_broker.connection import Connection
from reference_broker.subscriptions import SubscriptionIndex


def subscribe_as_if(p: Patcher, **config: Any) -> None:
    """SUBSCRIBE is checked against a configuration with these changes (e.g. a capability
    granted though the CONNACK declared it absent)."""
    def subscribe_one(original: Any, conn: Connection, *args: Any) -> int | None:
        real = conn.config
        conn.config = replace(real, **config)
        try:
            code: int | None = original(conn, *args)
        finally:
            conn.config = real
        return code

    p.wrap(subscribing, "_subscribe_one", subscribe_one)


def _rewrite_suback(p: Patcher, change: Any) -> None:
    def rewrite(conn: Connection, packet: Packet) -> Packet | None:
        return change(packet) if isinstance(packet, Suback) else packet

    p.outgoing(rewrite)


@fault("subscribe.no-suback", "SUBSCRIBE is processed but never acknowledged",
       v3="MQTT-3.8.4-1", v5="MQTT-3.8.4-1")
def no_suback(p: Patcher) -> None:
    _rewrite_suback(p, lambda s: None)


@fault("subscribe.suback-wrong-packet-id", "SUBACK carries the next Packet Identifier",
       v3="MQTT-3.8.4-2", v5="MQTT-3.8.4-2")
def suback_wrong_id(p: Patcher) -> None:
    _rewrite_suback(p, lambda s: replace(s, packet_id=s.packet_id % 65535 + 1))


@fault("subscribe.suback-codes-reversed", "SUBACK codes in the reverse order of the filters",
       v3="MQTT-3.9.3-1", v5="MQTT-3.9.3-1")
def suback_reversed(p: Patcher) -> None:
    _rewrite_suback(p, lambda s: replace(s, reason_codes=s.reason_codes[::-1]))


@fault("subscribe.suback-one-code", "SUBACK carries the code of the first filter only",
       v3="MQTT-3.8.4-5", v5="MQTT-3.8.4-6")
def suback_one_code(p: Patcher) -> None:
    _rewrite_suback(p, lambda s: replace(s, reason_codes=s.reason_codes[:1]))


@fault("subscribe.only-first-filter",
       "Only the first filter of a SUBSCRIBE is kept, though every one is acknowledged",
       v3="MQTT-3.8.4-4", v5="MQTT-3.8.4-5")
def only_first_filter(p: Patcher) -> None:
    def first_only(original: Any, conn: Connection, session: Any, s: Any, now: float) -> None:
        original(conn, session, s, now)
        for sub in s.subscriptions[1:]:
            if sub.topic_filter != s.subscriptions[0].topic_filter:
                session.subscriptions.pop(sub.topic_filter, None)
                conn.core.index.remove(session.client_id, sub.topic_filter)

    p.wrap(subscribing, "subscribe", first_only)


@fault("subscribe.ignores-granted-qos",
       "Messages go out at their published QoS, whatever QoS the subscription was granted",
       v3="MQTT-3.8.4-6", v5="MQTT-3.8.4-8")
def ignores_granted_qos(p: Patcher) -> None:
    p.wrap(SubscriptionIndex, "_combine", lambda original, self, message, *rest, **kw: replace(
        original(self, message, *rest, **kw), qos=message.qos))


@fault("subscribe.replace-keeps-old",
       "A SUBSCRIBE to a filter already subscribed leaves the old subscription in force",
       v3="MQTT-3.8.4-3", v5="MQTT-3.8.4-3")
def replace_keeps_old(p: Patcher) -> None:
    def add(original: Any, index: SubscriptionIndex, client_id: str, topic_filter: str,
            options: Any) -> None:
        if client_id not in index._plain(topic_filter).get(topic_filter, {}):
            original(index, client_id, topic_filter, options)

    p.wrap(SubscriptionIndex, "add", add)


@fault("subscribe.replace-no-retained",
       "Replacing a subscription does not send the retained messages again",
       v3="MQTT-3.8.4-3", v5="MQTT-3.8.4-4")
def replace_no_retained(p: Patcher) -> None:
    def retained_for(original: Any, conn: Connection, topic_filter: str, options: Any,
                     existed: bool, now: float, out: list[Any]) -> None:
        if not existed:
            original(conn, topic_filter, options, existed, now, out)

    p.wrap(subscribing, "_retained_for", retained_for)


@fault("subscribe.replace-drops-subscription",
       "Replacing a subscription acknowledges it but loses it: the flow stops",
       v3="MQTT-3.8.4-3", v5="MQTT-3.8.4-4")
def replace_drops(p: Patcher) -> None:
    def subscribe_one(original: Any, conn: Connection, session: Any, sub: Any,
                      *rest: Any) -> int | None:
        existed = sub.topic_filter in session.subscriptions
        code: int | None = original(conn, session, sub, *rest)
        if existed:
            conn.core.index.remove(session.client_id, sub.topic_filter)
        return code

    p.wrap(subscribing, "_subscribe_one", subscribe_one)


@fault("subscribe.overlap-lowest-qos",
       "Overlapping subscriptions: the message goes out at the lowest QoS of the matches",
       v3="MQTT-3.3.5-1", v5="MQTT-3.3.4-2")
def overlap_lowest(p: Patcher) -> None:
    def combine(original: Any, index: Any, message: Any, opts: list[Any], *rest: Any,
                **kw: Any) -> Any:
        delivery = original(index, message, opts, *rest, **kw)
        return replace(delivery, qos=min(message.qos, *(o.qos for o in opts)))

    p.wrap(SubscriptionIndex, "_combine", combine)


@fault("subscribe.overlap-one-identifier",
       "Overlapping subscriptions: the single copy carries the first Subscription Identifier",
       v5=("MQTT-3.3.4-3", "MQTT-3.3.4-4"), levels=(5,))
def overlap_one_identifier(p: Patcher) -> None:
    def combine(original: Any, *args: Any, **kw: Any) -> Any:
        delivery = original(*args, **kw)
        return replace(delivery, subscription_ids=delivery.subscription_ids[:1])

    p.wrap(SubscriptionIndex, "_combine", combine)


@fault("subscribe.diagnostics-too-large",
       "MQTT 5: SUBACK, UNSUBACK and DISCONNECT carry a long Reason String whatever the "
       "client's Maximum Packet Size",
       v5=("MQTT-3.9.2-1", "MQTT-3.9.2-2", "MQTT-3.11.2-1", "MQTT-3.11.2-2", "MQTT-3.14.2-3",
           "MQTT-3.14.2-4"), levels=(5,))
def diagnostics_too_large(p: Patcher) -> None:
    def rewrite(conn: Connection, packet: Packet) -> Packet:
        if isinstance(packet, Suback | Unsuback | Disconnect):
            return replace(packet, properties=Properties(reason_string="x" * 64))
        return packet

    p.outgoing(rewrite)
    p.replace(outgoing, "_fit", lambda conn, packet, rules, limit, data: data)
    p.replace(outgoing, "fits", lambda conn, data: True)


@fault("subscribe.tolerates-malformed",
       "A malformed SUBSCRIBE or UNSUBSCRIBE is dropped and the connection stays open",
       v3=("MQTT-3.8.1-1", "MQTT-3.8.3-4", "MQTT-3.8.3-3", "MQTT-3.10.1-1", "MQTT-3.10.3-2"),
       v5=("MQTT-3.8.1-1", "MQTT-3.8.3-5", "MQTT-3.8.3-2", "MQTT-3.10.1-1", "MQTT-3.10.3-2"),
       cases=("subscribe.requested-qos-3", "subscribe.retain-handling-3"))
def tolerates_malformed(p: Patcher) -> None:
    def violation(original: Any, conn: Connection, exc: Any, now: float) -> None:
        if not exc.detail.startswith(("SUBSCRIBE", "UNSUBSCRIBE")):
            original(conn, exc, now)

    p.wrap(Connection, "violation", violation)
