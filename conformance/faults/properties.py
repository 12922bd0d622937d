"""Faults in the PUBLISH properties a server passes on, Subscription Identifiers, Request
Response / Problem Information (MQTT 5 sections 3.1.2.11.6-7, 3.3.2.3, 3.3.4).

Most rewrite the PUBLISH packets the broker sends (`Patcher.outgoing`): a property dropped,
altered or reordered on its way to the subscriber.  The others change what the broker
accepts or declares.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from conformance.faults.base import Patcher, fault
from mqttspec import Packet, Publish
from mqttspec import properties as mqtt_properties
from reference_broker import flows, handshake, link
from reference_broker.connection import Connection


def _on_publish(p: Patcher, change: Callable[[Publish], dict[str, Any]]) -> None:
    """Every PUBLISH the broker sends gets its properties changed by `change`."""
    def rewrite(conn: Connection, packet: Packet) -> Packet:
        if isinstance(packet, Publish) and packet.protocol_level == 5:
            return replace(packet, properties=replace(packet.properties, **change(packet)))
        return packet

    p.outgoing(rewrite)


@fault("properties.drops-payload-format-indicator",
       "The Payload Format Indicator is not forwarded", v5="MQTT-3.3.2-4", levels=(5,))
def drops_pfi(p: Patcher) -> None:
    _on_publish(p, lambda _: {"payload_format_indicator": None})


@fault("properties.drops-content-type", "The Content Type is not forwarded",
       v5=("MQTT-3.3.2-20", "MQTT-3.3.2-19"), levels=(5,))
def drops_content_type(p: Patcher) -> None:
    _on_publish(p, lambda _: {"content_type": None})


@fault("properties.corrupts-utf8", "Forwarded strings are ill-formed UTF-8 ('é' as an "
       "overlong C0 A9)", v5=("MQTT-3.3.2-13", "MQTT-3.3.2-19"), levels=(5,))
def corrupts_utf8(p: Patcher) -> None:
    def corrupt(original: Any, conn: Connection, data: bytes) -> bool:
        return bool(original(conn, data.replace("é".encode(), b"\xc0\xa9")))

    p.wrap(Connection, "send_encoded", corrupt)


@fault("properties.drops-response-topic", "The Response Topic is not forwarded",
       v5="MQTT-3.3.2-15", levels=(5,))
def drops_response_topic(p: Patcher) -> None:
    _on_publish(p, lambda _: {"response_topic": None})


@fault("properties.alters-correlation-data", "Correlation Data loses its last byte",
       v5="MQTT-3.3.2-16", levels=(5,))
def alters_correlation(p: Patcher) -> None:
    _on_publish(p, lambda pub: {"correlation_data": pub.properties.correlation_data[:-1]}
                if pub.properties.correlation_data else {})


@fault("properties.sorts-user-properties", "User Properties are forwarded sorted",
       v5="MQTT-3.3.2-18", levels=(5,))
def sorts_user_properties(p: Patcher) -> None:
    _on_publish(p, lambda pub: {"user_properties": tuple(sorted(pub.properties.user_properties))})


@fault("properties.drops-repeated-user-properties",
       "A User Property that repeats an earlier one (same name and value) is dropped",
       v5="MQTT-3.3.2-17", levels=(5,))
def drops_repeated(p: Patcher) -> None:
    _on_publish(p, lambda pub: {
        "user_properties": tuple(dict.fromkeys(pub.properties.user_properties))})


@fault("properties.drops-subscription-identifiers", "No Subscription Identifier is sent",
       v5=("MQTT-3.3.4-3", "MQTT-3.3.4-4", "MQTT-3.3.4-5"), levels=(5,))
def drops_subscription_ids(p: Patcher) -> None:
    _on_publish(p, lambda _: {"subscription_identifiers": ()})


@fault("properties.first-subscription-identifier-only",
       "A copy matching several subscriptions carries only the first identifier",
       v5="MQTT-3.3.4-4", levels=(5,))
def first_id_only(p: Patcher) -> None:
    _on_publish(p, lambda pub: {
        "subscription_identifiers": pub.properties.subscription_identifiers[:1]})


@fault("properties.forwards-client-subscription-identifier",
       "A Subscription Identifier in a client's PUBLISH is accepted and passed on",
       v5=("MQTT-3.3.4-6", "MQTT-3.3.4-4"), levels=(5,))
def forwards_client_id(p: Patcher) -> None:
    def lenient_decoder(original: Any, self: link.ClientLink, *args: Any) -> None:
        original(self, *args)
        self.decoder.peer = None  # the client-only rules, MQTT-3.3.4-6 among them, are off

    def keep_ids(obj: Any, **changes: Any) -> Any:
        changes.pop("subscription_identifiers", None)
        return dataclasses.replace(obj, **changes)

    p.wrap(link.ClientLink, "__init__", lenient_decoder)
    p.replace(flows, "replace", keep_ids)


@fault("properties.forwards-wildcard-response-topic",
       "A Response Topic with wildcards is accepted and forwarded",
       v5="MQTT-3.3.2-14", levels=(5,))
def forwards_wildcards(p: Patcher) -> None:
    def check(original: Any, d: Any, value: Any, where: str) -> None:
        if d.id != 0x08:  # the Response Topic goes unchecked (the test client's too: the
            original(d, value, where)  # case looks for the wildcards itself)

    p.wrap(mqtt_properties, "_check_value", check)


@fault("properties.response-information-unasked",
       "CONNACK carries Response Information whether the client asked or not",
       v5="MQTT-3.1.2-28", levels=(5,))
def unasked_response_information(p: Patcher) -> None:
    def always(original: Any, *args: Any, **kwargs: Any) -> Any:
        return replace(original(*args, **kwargs), response_information="unasked/")

    p.wrap(handshake, "connack_properties", always)


@fault("properties.diagnostics-despite-problem-information-0",
       "Request Problem Information 0 is ignored: acknowledgements carry Reason Strings and "
       "User Properties", v5="MQTT-3.1.2-29", levels=(5,),
       config={"server_user_property": "mqttlab=diagnostic"})
def ignores_problem_information(p: Patcher) -> None:
    def connect(original: Any, conn: Connection, *args: Any) -> None:
        original(conn, *args)
        conn.problem_information = True

    p.wrap(Connection, "_connect", connect)

