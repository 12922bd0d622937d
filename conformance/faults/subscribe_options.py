"""Faults in MQTT 5 subscription options and Subscription Identifiers (sections 3.8.2.1.2,
3.8.3.1, 3.3.1.3, 3.3.4): each option stored as if the client had asked otherwise, or an
identifier lost, kept too long, or 0 accepted."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from conformance.faults.base import Patcher, fault
from conformance.faults.subscribe import subscribe_as_if
from mqttspec import Packet, Publish
from reference_broker import subscribing
from reference_broker.connection import Connection
from reference_broker.subscriptions import SubscriptionIndex


def _stored_as(p: Patcher, **changes: Any) -> None:
    """Every subscription is indexed with these options instead of the client's."""
    p.wrap(SubscriptionIndex, "add", lambda original, index, client_id, topic_filter, options:
           original(index, client_id, topic_filter, replace(options, **changes)))


@fault("subopts.no-local-ignored", "No Local is ignored: publishers get their own messages",
       v5="MQTT-3.8.3-3", levels=(5,))
def no_local_ignored(p: Patcher) -> None:
    _stored_as(p, no_local=False)


@fault("subopts.retain-always-as-published",
       "Retain As Published 0 is ignored: RETAIN is forwarded as published",
       v5="MQTT-3.3.1-12", levels=(5,))
def retain_always(p: Patcher) -> None:
    _stored_as(p, retain_as_published=True)


@fault("subopts.retain-never-as-published",
       "Retain As Published 1 is ignored: RETAIN is always cleared",
       v5="MQTT-3.3.1-13", levels=(5,))
def retain_never(p: Patcher) -> None:
    _stored_as(p, retain_as_published=False)


@fault("subopts.retain-handling-ignored",
       "Retain Handling 1 and 2 act as 0: retained messages on every SUBSCRIBE",
       v5=("MQTT-3.3.1-10", "MQTT-3.3.1-11"), levels=(5,))
def retain_handling_ignored(p: Patcher) -> None:
    def retained_for(original: Any, conn: Connection, topic_filter: str, options: Any,
                     *rest: Any) -> None:
        original(conn, topic_filter, replace(options, retain_handling=0), *rest)

    p.wrap(subscribing, "_retained_for", retained_for)


@fault("subopts.retained-never-sent", "Retain Handling 0 sends no retained message",
       v5="MQTT-3.3.1-9", levels=(5,))
def retained_never_sent(p: Patcher) -> None:
    p.replace(subscribing, "_retained_for", lambda *args: None)


@fault("subopts.identifiers-dropped", "PUBLISH packets never carry Subscription Identifiers",
       v5="MQTT-3.3.4-3", levels=(5,))
def identifiers_dropped(p: Patcher) -> None:
    def rewrite(conn: Connection, packet: Packet) -> Packet:
        if isinstance(packet, Publish) and packet.properties.subscription_identifiers:
            return replace(packet, properties=replace(packet.properties,
                                                      subscription_identifiers=()))
        return packet

    p.outgoing(rewrite)


@fault("subopts.identifier-kept-on-replace",
       "Replacing a subscription keeps its first Subscription Identifier",
       v5="MQTT-3.8.4-3", levels=(5,))
def identifier_kept(p: Patcher) -> None:
    def add(original: Any, index: SubscriptionIndex, client_id: str, topic_filter: str,
            options: Any) -> None:
        old = index._plain(topic_filter).get(topic_filter, {}).get(client_id)
        if old is not None:
            options = replace(options, subscription_id=old.subscription_id)
        original(index, client_id, topic_filter, options)

    p.wrap(SubscriptionIndex, "add", add)


@fault("subopts.identifier-zero-accepted",
       "A SUBSCRIBE with Subscription Identifier 0 is dropped; the connection stays open",
       cases=("subopts.subscription-identifier-zero",), levels=(5,))
def identifier_zero(p: Patcher) -> None:
    def violation(original: Any, conn: Connection, exc: Any, now: float) -> None:
        if "Subscription Identifier" not in exc.detail:
            original(conn, exc, now)

    p.wrap(Connection, "violation", violation)


@fault("subopts.identifiers-granted-when-unavailable",
       "No Subscription Identifiers declared in CONNACK, yet a SUBSCRIBE with one is granted",
       cases=("subopts.subscription-identifiers-refused",), levels=(5,),
       config={"subscription_identifier_available": False})
def identifiers_granted(p: Patcher) -> None:
    subscribe_as_if(p, subscription_identifier_available=True)
