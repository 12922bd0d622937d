"""Faults in UNSUBSCRIBE / UNSUBACK handling (MQTT 3.1.1 section 3.10-3.11, MQTT 5 sections
3.10-3.11): the acknowledgement, its Packet Identifier and Reason Codes, the deletion itself
(exact filters only, every filter of the packet), and the messages already in flight.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from conformance.faults.base import Patcher, fault
from mqttspec import Packet, Unsuback
from mqttspec.topics import matches
from reference_broker import subscribing
from reference_broker.connection import Connection
from reference_broker.subscriptions import SubscriptionIndex


def _rewrite_unsuback(p: Patcher, change: Any) -> None:
    def rewrite(conn: Connection, packet: Packet) -> Packet | None:
        return change(packet) if isinstance(packet, Unsuback) else packet

    p.outgoing(rewrite)


@fault("unsubscribe.no-unsuback", "UNSUBSCRIBE is processed but never acknowledged",
       v3="MQTT-3.10.4-4", v5="MQTT-3.10.4-4")
def no_unsuback(p: Patcher) -> None:
    _rewrite_unsuback(p, lambda u: None)


@fault("unsubscribe.unsuback-wrong-packet-id", "UNSUBACK carries the next Packet Identifier",
       v3="MQTT-3.10.4-4", v5="MQTT-3.10.4-5")
def unsuback_wrong_id(p: Patcher) -> None:
    _rewrite_unsuback(p, lambda u: replace(u, packet_id=u.packet_id % 65535 + 1))


@fault("unsubscribe.silent-when-nothing-deleted",
       "No UNSUBACK when none of the filters was subscribed",
       v3="MQTT-3.10.4-5", v5="MQTT-3.10.4-5")
def silent_when_nothing(p: Patcher) -> None:
    def unsubscribe(original: Any, conn: Connection, session: Any, u: Any) -> None:
        if any(f in session.subscriptions for f in u.topic_filters):
            original(conn, session, u)

    p.wrap(subscribing, "unsubscribe", unsubscribe)


@fault("unsubscribe.success-for-everything",
       "MQTT 5: UNSUBACK says 0x00 (deleted) where no subscription existed",
       v5="MQTT-3.11.3-2", levels=(5,))
def success_for_everything(p: Patcher) -> None:
    _rewrite_unsuback(p, lambda u: replace(u, reason_codes=(0,) * len(u.reason_codes)))


@fault("unsubscribe.codes-reversed", "MQTT 5: UNSUBACK codes in the reverse order",
       v5="MQTT-3.11.3-1", levels=(5,))
def codes_reversed(p: Patcher) -> None:
    _rewrite_unsuback(p, lambda u: replace(u, reason_codes=u.reason_codes[::-1]))


@fault("unsubscribe.keeps-subscription",
       "UNSUBSCRIBE is acknowledged but the subscription stays in force",
       v3=("MQTT-3.10.4-1", "MQTT-3.10.4-2"), v5=("MQTT-3.10.4-1", "MQTT-3.10.4-2"))
def keeps_subscription(p: Patcher) -> None:
    p.replace(SubscriptionIndex, "remove", lambda index, client_id, topic_filter: None)


@fault("unsubscribe.matching-filters-deleted",
       "UNSUBSCRIBE deletes every subscription whose filter matches the given one as a name",
       v3="MQTT-3.10.4-1", v5="MQTT-3.10.4-1")
def matching_deleted(p: Patcher) -> None:
    def unsubscribe(original: Any, conn: Connection, session: Any, u: Any) -> None:
        for f in u.topic_filters:
            for mine in [s for s in session.subscriptions if s != f and matches(s, f)]:
                del session.subscriptions[mine]
                conn.core.index.remove(session.client_id, mine)
        original(conn, session, u)

    p.wrap(subscribing, "unsubscribe", unsubscribe)


@fault("unsubscribe.first-filter-only",
       "Only the first filter of an UNSUBSCRIBE is deleted, though each gets a Reason Code",
       v3="MQTT-3.10.4-6", v5="MQTT-3.10.4-6")
def first_filter_only(p: Patcher) -> None:
    def unsubscribe(original: Any, conn: Connection, session: Any, u: Any) -> None:
        kept = {f: session.subscriptions[f] for f in u.topic_filters[1:]
                if f in session.subscriptions}
        original(conn, session, u)
        for f, options in kept.items():
            session.subscriptions[f] = options
            conn.core.index.add(session.client_id, f, options)

    p.wrap(subscribing, "unsubscribe", unsubscribe)


@fault("unsubscribe.drops-in-flight",
       "UNSUBSCRIBE forgets the QoS 1 and 2 messages already sent for the filter",
       v3="MQTT-3.10.4-3", v5="MQTT-3.10.4-3")
def drops_in_flight(p: Patcher) -> None:
    def unsubscribe(original: Any, conn: Connection, session: Any, u: Any) -> None:
        original(conn, session, u)
        for pid, entry in list(session.inflight.items()):
            if any(matches(f, entry.topic) for f in u.topic_filters):
                del session.inflight[pid]
                conn.outstanding -= int(entry.sent)

    p.wrap(subscribing, "unsubscribe", unsubscribe)
