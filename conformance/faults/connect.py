"""Faults in CONNECT handling (MQTT 3.1.1 / 5.0 section 3.1): validation, Client Identifiers,
and the CONNECT properties that bind what the server sends.

Each fault removes one behaviour at its narrowest patch point: the reaction to a CONNECT the
Decoder refused (`Connection._bad_connect`), the refusal rules (`handshake.refusal`), the
Client Identifier a zero-length one gets (`Core.assign_client_id`), or the packets the broker
sends (an outgoing rewrite).
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import Any

from conformance.faults.base import Patcher, fault
from mqttspec import Connack, Connect, Packet, Pingreq, ProtocolViolation, Publish
from reference_broker import handshake, outgoing
from reference_broker.connection import Connection
from reference_broker.core import Core
from reference_broker.link import ClientLink
from reference_broker.model import Message

ALNUM = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


@fault("connect.accepts-second-connect",
       "A second CONNECT on an open connection is ignored instead of closing it",
       v3="MQTT-3.1.0-2", v5="MQTT-3.1.0-2")
def second_connect_ignored(p: Patcher) -> None:
    def drop(conn: Connection, packet: Packet) -> Packet | None:
        if isinstance(packet, Connect) and conn.state == "open":
            return Pingreq(protocol_level=conn.level)  # answered as if harmless
        return packet

    p.incoming(drop)


@fault("connect.serves-before-connect",
       "A connection whose first packet is not CONNECT is kept open",
       v3="MQTT-3.1.0-1", v5="MQTT-3.1.0-1")
def first_packet_not_connect(p: Patcher) -> None:
    def bad_connect(original: Any, conn: Connection, exc: Any, now: float) -> None:
        if "MQTT-3.1.0-1" in exc.statements:
            return None  # not closed
        original(conn, exc, now)

    p.wrap(Connection, "_bad_connect", bad_connect)


def _on_bad_connect(p: Patcher, statement: str, instead: Any) -> None:
    """A CONNECT the Decoder refused for `statement` gets `instead(original, conn, exc, now)`."""
    def bad_connect(original: Any, conn: Connection, exc: Any, now: float) -> None:
        if statement in exc.statements:
            return instead(original, conn, exc, now)  # type: ignore[no-any-return]
        return original(conn, exc, now)  # type: ignore[no-any-return]

    p.wrap(Connection, "_bad_connect", bad_connect)


@fault("connect.wrong-protocol-name-accepted",
       "A CONNECT with a wrong protocol name gets CONNACK 0x00 before the close",
       v3="MQTT-3.1.2-1", v5="MQTT-3.1.2-1")
def wrong_protocol_name(p: Patcher) -> None:
    def accept_first(original: Any, conn: Connection, exc: Any, now: float) -> None:
        conn.level = exc.protocol_level if exc.protocol_level in (3, 4, 5) else 4
        conn.send(Connack(protocol_level=conn.level))
        original(conn, exc, now)

    _on_bad_connect(p, "MQTT-3.1.2-1", accept_first)


@fault("connect.unsupported-level-closed-silently",
       "An unsupported protocol level is closed without CONNACK 0x01",
       v3="MQTT-3.1.2-2", levels=(3, 4))
def unsupported_level_silent(p: Patcher) -> None:
    def close(original: Any, conn: Connection, exc: Any, now: float) -> None:
        conn.close(now, "unsupported protocol level", will=False)

    _on_bad_connect(p, "MQTT-3.1.2-2", close)


@fault("connect.unsupported-level-kept-open",
       "An unsupported protocol level is answered, but the connection stays open",
       v3="MQTT-3.1.2-2", v5="MQTT-3.1.2-2", cases=("connack.refusal-",))
def unsupported_level_open(p: Patcher) -> None:
    def answer_only(original: Any, conn: Connection, exc: Any, now: float) -> None:
        conn.send(Connack(reason_code=handshake.UNACCEPTABLE_PROTOCOL_VERSION))

    _on_bad_connect(p, "MQTT-3.1.2-2", answer_only)


@fault("connect.malformed-connect-kept-open",
       "A CONNECT that does not conform (reserved flag, Will flags, missing fields) is "
       "ignored and the connection stays open",
       v3=("MQTT-3.1.4-1", "MQTT-3.1.2-3"), v5=("MQTT-3.1.4-1", "MQTT-3.1.2-3"))
def malformed_connect_open(p: Patcher) -> None:
    def bad_connect(original: Any, conn: Connection, exc: Any, now: float) -> None:
        if exc.protocol_level in (4, 5) and not {
                "MQTT-3.1.0-1", "MQTT-3.1.2-1", "MQTT-3.1.2-2"} & set(exc.statements):
            return None  # neither a CONNACK nor the close
        return original(conn, exc, now)  # type: ignore[no-any-return]

    p.wrap(Connection, "_bad_connect", bad_connect)


@fault("connect.malformed-connect-answered",
       "3.1.1: a CONNECT no return code fits (malformed) gets CONNACK 0x02 before the close",
       v3="MQTT-3.2.2-6", levels=(4,))
def malformed_connect_answered(p: Patcher) -> None:
    def bad_connect(original: Any, conn: Connection, exc: Any, now: float) -> None:
        if exc.protocol_level == 4 and not {
                "MQTT-3.1.0-1", "MQTT-3.1.2-1", "MQTT-3.1.2-2"} & set(exc.statements):
            conn.send(Connack(reason_code=0x02, protocol_level=4))
        original(conn, exc, now)

    p.wrap(Connection, "_bad_connect", bad_connect)


@fault("connect.processes-after-refusal",
       "A PUBLISH that follows a refused CONNECT is published all the same",
       v3="MQTT-3.1.4-5", v5="MQTT-3.1.4-6")
def processes_after_refusal(p: Patcher) -> None:
    def feed(original: Any, link: ClientLink, data: bytes) -> None:
        original(link, data)
        conn = link.conn
        if conn.refused:  # go on reading what came after the refused CONNECT
            with contextlib.suppress(ProtocolViolation):
                for packet in link.decoder:
                    if isinstance(packet, Publish):
                        conn.core.publish(Message(packet.topic, packet.payload, packet.qos,
                                                  packet.retain), link.loop.time(), conn.level)

    p.wrap(ClientLink, "feed", feed)


@fault("connect.refuses-23-character-client-ids",
       "A 23-character ClientId of letters and digits is refused",
       v3="MQTT-3.1.3-5", v5="MQTT-3.1.3-5")
def refuses_long_ids(p: Patcher) -> None:
    def refusal(original: Any, c: Connect, *args: Any) -> int | None:
        if len(c.client_id) == 23 and all(ch in ALNUM for ch in c.client_id):
            return 0x02 if c.protocol_level < 5 else 0x85
        return original(c, *args)  # type: ignore[no-any-return]

    p.wrap(handshake, "refusal", refusal)


@fault("connect.assigned-client-ids-not-unique",
       "Every zero-length ClientId is given the same identifier",
       v3="MQTT-3.1.3-6", v5=("MQTT-3.1.3-6", "MQTT-3.2.2-16"))
def assigned_not_unique(p: Patcher) -> None:
    p.replace(Core, "assign_client_id", lambda self: "refSharedAssignedId")


@fault("connect.no-assigned-client-identifier",
       "MQTT 5: the CONNACK to a zero-length ClientId names no Assigned Client Identifier",
       v5=("MQTT-3.1.3-7", "MQTT-3.2.2-16"), levels=(5,))
def no_assigned_identifier(p: Patcher) -> None:
    def strip(conn: Connection, packet: Packet) -> Packet:
        if isinstance(packet, Connack) and packet.properties.assigned_client_identifier:
            return replace(packet, properties=replace(packet.properties,
                                                      assigned_client_identifier=None))
        return packet

    p.outgoing(strip)


@fault("connect.zero-length-id-with-clean-session-0-accepted",
       "3.1.1: a zero-length ClientId with CleanSession 0 is accepted",
       v3="MQTT-3.1.3-8", levels=(4,))
def zero_length_persistent(p: Patcher) -> None:
    def refusal(original: Any, c: Connect, *args: Any) -> int | None:
        if not c.client_id and not c.clean_start:
            return original(replace(c, clean_start=True), *args)  # type: ignore[no-any-return]
        return original(c, *args)  # type: ignore[no-any-return]

    p.wrap(handshake, "refusal", refusal)


@fault("connect.v31-long-client-id-accepted",
       "MQTT 3.1: a Client Identifier longer than 23 characters is accepted",
       v3="MQTT-3.1.3-9", levels=(3,))
def v31_long_id(p: Patcher) -> None:
    def refusal(original: Any, c: Connect, *args: Any) -> int | None:
        if c.protocol_level == 3 and len(c.client_id) > 23:
            return original(replace(c, client_id=c.client_id[:23]), *args)  # type: ignore[no-any-return]
        return original(c, *args)  # type: ignore[no-any-return]

    p.wrap(handshake, "refusal", refusal)


@fault("connect.v31-empty-client-id-accepted",
       "MQTT 3.1: an empty Client Identifier is accepted (3.1 requires 1 to 23 characters)",
       v3="MQTT-3.1.3-9", levels=(3,))
def v31_empty_id(p: Patcher) -> None:
    def refusal(original: Any, c: Connect, *args: Any) -> int | None:
        if c.protocol_level == 3 and not c.client_id:
            return original(replace(c, client_id="mqttlab-assigned"), *args)  # type: ignore[no-any-return]
        return original(c, *args)  # type: ignore[no-any-return]

    p.wrap(handshake, "refusal", refusal)


@fault("connect.maximum-packet-size-ignored",
       "MQTT 5: packets larger than the client's Maximum Packet Size are sent anyway",
       v5=("MQTT-3.1.2-24", "MQTT-3.1.2-25"), levels=(5,))
def maximum_packet_size_ignored(p: Patcher) -> None:
    p.replace(outgoing, "fits", lambda conn, data: True)


@fault("connect.topic-alias-maximum-ignored",
       "MQTT 5: Topic Aliases go to clients beyond (or without) their Topic Alias Maximum",
       v5=("MQTT-3.1.2-26", "MQTT-3.1.2-27"), levels=(5,))
def topic_alias_maximum_ignored(p: Patcher) -> None:
    def accept(original: Any, conn: Connection, *args: Any) -> None:
        original(conn, *args)
        conn.alias_max_out += 5

    p.wrap(Connection, "accept", accept)


@fault("connect.response-information-unrequested",
       "MQTT 5: every CONNACK carries Response Information, requested or not",
       v5="MQTT-3.1.2-28", levels=(5,))
def response_information_always(p: Patcher) -> None:
    def add(conn: Connection, packet: Packet) -> Packet:
        if isinstance(packet, Connack) and packet.reason_code == 0:
            return replace(packet, properties=replace(packet.properties,
                                                      response_information="response/x"))
        return packet

    p.outgoing(add)


@fault("connect.problem-information-0-ignored",
       "MQTT 5: Request Problem Information 0 is ignored (Reason Strings on every ack)",
       v5="MQTT-3.1.2-29", levels=(5,))
def problem_information_ignored(p: Patcher) -> None:
    def accept(original: Any, conn: Connection, *args: Any) -> None:
        conn.problem_information = True
        original(conn, *args)

    p.wrap(Connection, "accept", accept)
