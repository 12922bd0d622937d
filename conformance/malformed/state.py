"""Rows with well-formed packets that the connection's state makes a violation.

Strategy: every packet type (the server-only ones and the reserved types too) as the first
packet on a connection (MQTT-3.1.0-1); a second CONNECT (MQTT-3.1.0-2); the packets only a
server sends, sent by the client after CONNECT (their direction in 3.1.1 Table 2.1 / 5.0
Table 2-1); and under 5.0: AUTH after a CONNECT that named no Authentication Method
(MQTT-4.12.0-7), a Topic Alias above the maximum the server declared in its CONNACK
(MQTT-3.3.2-9) or not yet mapped with an empty Topic Name (3.3.2.3.4), a DISCONNECT setting a
Session Expiry Interval after the CONNECT left it 0 (3.14.2.2.2).  Most of these bytes pass
mqttspec's Decoder, which keeps no such state: each row says why (`decoder_blind`).
"""

from __future__ import annotations

from collections.abc import Iterator

from conformance.malformed.rows import (
    ALL_LEVELS,
    V3_LEVELS,
    V5_ONLY,
    Builder,
    Malformation,
    Names,
    NotApplicable,
    Row,
    State,
    make_row,
)
from conformance.malformed.shapes import (
    AUTH_METHOD,
    CLIENT_PACKETS,
    SERVER_ONLY_PACKETS,
    levels_of,
    plain_connect,
    prop,
    props_field,
    publish,
    shape,
)
from mqttspec.raw import RawPacket, raw_string

FIRST_PACKET = ("MQTT-3.1.0-1",)


def _plain(packet: str) -> Builder:
    def build(level: int, names: Names) -> bytes:
        return shape(packet, level, names).build()
    return build


def _literal(data: bytes) -> Builder:
    def build(level: int, names: Names) -> bytes:
        return data
    return build


def before_connect_rows() -> Iterator[Row]:
    for packet in (*CLIENT_PACKETS, *SERVER_ONLY_PACKETS):
        yield make_row(f"{packet.lower()}.before-connect",
                       f"{packet} as the first packet on the connection", packet,
                       Malformation.BEFORE_CONNECT, levels_of(packet), _plain(packet),
                       v3=FIRST_PACKET, v5=FIRST_PACKET, state=State.FIRST)
    yield make_row("reserved-type-0.before-connect", "a packet of the reserved type 0 as the "
                   "first packet", "RESERVED-0", Malformation.BEFORE_CONNECT, ALL_LEVELS,
                   _literal(b"\x00\x00"), v3=FIRST_PACKET, v5=FIRST_PACKET, state=State.FIRST)
    yield make_row("reserved-type-15.before-connect", "a packet of type 15 (reserved before "
                   "5.0) as the first packet", "RESERVED-15", Malformation.BEFORE_CONNECT,
                   V3_LEVELS, _literal(b"\xf0\x00"), v3=FIRST_PACKET, state=State.FIRST)


def _second_connect(other_version: bool) -> Builder:
    def build(level: int, names: Names) -> bytes:
        version = (5 if level != 5 else 4) if other_version else level
        return plain_connect(version, names).build()
    return build


def connection_rows() -> Iterator[Row]:
    blind = "a CONNECT is well-formed: only the connection's state makes a second one wrong"
    yield make_row("connect.second-connect", "a second CONNECT on the connection", "CONNECT",
                   Malformation.SECOND_CONNECT, ALL_LEVELS, _second_connect(False),
                   v3=("MQTT-3.1.0-2",), v5=("MQTT-3.1.0-2",), decoder_blind=blind)
    yield make_row("connect.second-connect-of-another-version",
                   "a second CONNECT, in another protocol version (5.0 after 3.x, 3.1.1 "
                   "after 5.0)", "CONNECT", Malformation.SECOND_CONNECT, ALL_LEVELS,
                   _second_connect(True), v3=("MQTT-3.1.0-2",), v5=("MQTT-3.1.0-2",),
                   decoder_blind=blind)
    for packet in SERVER_ONLY_PACKETS:
        yield make_row(f"{packet.lower()}.sent-by-client",
                       f"{packet}, which only a server sends, from the client", packet,
                       Malformation.SERVER_ONLY_PACKET, ALL_LEVELS, _plain(packet))


def _auth(body: bytes | None) -> Builder:
    """The AUTH shape, or an AUTH with this body."""
    def build(level: int, names: Names) -> bytes:
        if body is None:
            return shape("AUTH", level, names).build()
        return RawPacket(15).raw(body).build()
    return build


def _alias(above_maximum: bool) -> Builder:
    def build(level: int, names: Names) -> bytes:
        s = publish(level, names)
        if above_maximum:
            if names.alias_max >= 0xFFFF:
                raise NotApplicable("the server's Topic Alias Maximum is 65535: no alias "
                                    "is above it")
            return s.with_field("Properties", props_field(prop(0x23, names.alias_max + 1))
                                ).build()
        if names.alias_max < 1:
            raise NotApplicable("the server accepts no Topic Alias (Topic Alias Maximum 0)")
        s = s.with_field("Topic Name", raw_string(""))
        return s.with_field("Properties", props_field(prop(0x23, 1))).build()
    return build


def _disconnect_with_expiry(level: int, names: Names) -> bytes:
    return shape("DISCONNECT", level, names).with_field(
        "Properties", props_field(prop(0x11, 60))).build()


def v5_state_rows() -> Iterator[Row]:
    no_method = "the codec does not keep whether the CONNECT named an Authentication Method"
    for row_id, title, data in (
            ("auth.continue-without-authentication-method-in-connect",
             "AUTH 0x18 after a CONNECT without Authentication Method", None),
            ("auth.re-authenticate-without-authentication-method-in-connect",
             "AUTH 0x19 after a CONNECT without Authentication Method",
             b"\x19" + props_field(AUTH_METHOD)),
            ("auth.success-short-form-without-authentication-method-in-connect",
             "AUTH with Remaining Length 0 after a CONNECT without Authentication Method",
             b"")):
        yield make_row(row_id, title, "AUTH", Malformation.WRONG_STATE, V5_ONLY, _auth(data),
                       decoder_blind=no_method)
    yield make_row("publish.topic-alias-above-maximum",
                   "PUBLISH with a Topic Alias one above the server's Topic Alias Maximum",
                   "PUBLISH", Malformation.WRONG_STATE, V5_ONLY, _alias(True),
                   v5=("MQTT-3.3.2-9", "MQTT-3.2.2-17", "MQTT-3.2.2-18"),
                   decoder_blind="the codec does not know the server's Topic Alias Maximum")
    yield make_row("publish.topic-alias-not-mapped",
                   "PUBLISH with an empty Topic Name and a Topic Alias not yet mapped",
                   "PUBLISH", Malformation.WRONG_STATE, V5_ONLY, _alias(False),
                   decoder_blind="the codec keeps no Topic Alias mappings")
    yield make_row("disconnect.session-expiry-after-connect-without-one",
                   "DISCONNECT setting a Session Expiry Interval after the CONNECT left it 0",
                   "DISCONNECT", Malformation.WRONG_STATE, V5_ONLY, _disconnect_with_expiry,
                   state=State.WITH_WILL,
                   decoder_blind="the codec does not keep the CONNECT's Session Expiry")


def rows() -> Iterator[Row]:
    yield from before_connect_rows()
    yield from connection_rows()
    yield from v5_state_rows()
