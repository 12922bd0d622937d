"""MQTT 5 properties (section 2.2.2): the 27 identifiers, their types, who may carry them.

Strategy: one table, `PROPERTIES`, drives both directions.  Decoding reads identifier/value
pairs into a `Properties` value, rejecting unknown identifiers, identifiers the packet may not
carry (Malformed Packet, 2.2.2.2), duplicates other than User Property (and Subscription
Identifier in a PUBLISH), and values the spec calls a Protocol Error.  Encoding writes the
set fields in table order.  The Will Properties of a CONNECT are a carrier of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum
from typing import Any

from mqttspec import primitives as p
from mqttspec.errors import EncodeError, ProtocolViolation
from mqttspec.primitives import Reader
from mqttspec.reason_codes import MALFORMED_PACKET, PROTOCOL_ERROR, TOPIC_ALIAS_INVALID
from mqttspec.types import PacketType as T


class PropType(Enum):
    BYTE = "Byte"
    U16 = "Two Byte Integer"
    U32 = "Four Byte Integer"
    VBI = "Variable Byte Integer"
    UTF8 = "UTF-8 Encoded String"
    BINARY = "Binary Data"
    PAIR = "UTF-8 String Pair"


WILL = "WILL"  # the Will Properties of CONNECT, a carrier of their own
Carrier = T | str


@dataclass(frozen=True, slots=True)
class PropertyDef:
    id: int
    name: str
    attr: str
    type: PropType
    carriers: frozenset[Carrier]
    repeatable: bool = False


_ACKS = (T.PUBACK, T.PUBREC, T.PUBREL, T.PUBCOMP)
_ALL: frozenset[Carrier] = frozenset({
    T.CONNECT, T.CONNACK, T.PUBLISH, WILL, *_ACKS, T.SUBSCRIBE, T.SUBACK, T.UNSUBSCRIBE,
    T.UNSUBACK, T.DISCONNECT, T.AUTH})


def _def(pid: int, name: str, attr: str, ptype: PropType, *carriers: Carrier,
         repeatable: bool = False) -> PropertyDef:
    return PropertyDef(pid, name, attr, ptype, frozenset(carriers), repeatable)


B, U16, U32, VBI, UTF8, BIN, PAIR = (PropType.BYTE, PropType.U16, PropType.U32, PropType.VBI,
                                     PropType.UTF8, PropType.BINARY, PropType.PAIR)

PROPERTIES: dict[int, PropertyDef] = {d.id: d for d in (
    _def(0x01, "Payload Format Indicator", "payload_format_indicator", B, T.PUBLISH, WILL),
    _def(0x02, "Message Expiry Interval", "message_expiry_interval", U32, T.PUBLISH, WILL),
    _def(0x03, "Content Type", "content_type", UTF8, T.PUBLISH, WILL),
    _def(0x08, "Response Topic", "response_topic", UTF8, T.PUBLISH, WILL),
    _def(0x09, "Correlation Data", "correlation_data", BIN, T.PUBLISH, WILL),
    _def(0x0B, "Subscription Identifier", "subscription_identifiers", VBI, T.PUBLISH,
         T.SUBSCRIBE, repeatable=True),
    _def(0x11, "Session Expiry Interval", "session_expiry_interval", U32, T.CONNECT, T.CONNACK,
         T.DISCONNECT),
    _def(0x12, "Assigned Client Identifier", "assigned_client_identifier", UTF8, T.CONNACK),
    _def(0x13, "Server Keep Alive", "server_keep_alive", U16, T.CONNACK),
    _def(0x15, "Authentication Method", "authentication_method", UTF8, T.CONNECT, T.CONNACK,
         T.AUTH),
    _def(0x16, "Authentication Data", "authentication_data", BIN, T.CONNECT, T.CONNACK, T.AUTH),
    _def(0x17, "Request Problem Information", "request_problem_information", B, T.CONNECT),
    _def(0x18, "Will Delay Interval", "will_delay_interval", U32, WILL),
    _def(0x19, "Request Response Information", "request_response_information", B, T.CONNECT),
    _def(0x1A, "Response Information", "response_information", UTF8, T.CONNACK),
    _def(0x1C, "Server Reference", "server_reference", UTF8, T.CONNACK, T.DISCONNECT),
    _def(0x1F, "Reason String", "reason_string", UTF8, T.CONNACK, *_ACKS, T.SUBACK,
         T.UNSUBACK, T.DISCONNECT, T.AUTH),
    _def(0x21, "Receive Maximum", "receive_maximum", U16, T.CONNECT, T.CONNACK),
    _def(0x22, "Topic Alias Maximum", "topic_alias_maximum", U16, T.CONNECT, T.CONNACK),
    _def(0x23, "Topic Alias", "topic_alias", U16, T.PUBLISH),
    _def(0x24, "Maximum QoS", "maximum_qos", B, T.CONNACK),
    _def(0x25, "Retain Available", "retain_available", B, T.CONNACK),
    _def(0x26, "User Property", "user_properties", PAIR, *_ALL, repeatable=True),
    _def(0x27, "Maximum Packet Size", "maximum_packet_size", U32, T.CONNECT, T.CONNACK),
    _def(0x28, "Wildcard Subscription Available", "wildcard_subscription_available", B,
         T.CONNACK),
    _def(0x29, "Subscription Identifier Available", "subscription_identifier_available", B,
         T.CONNACK),
    _def(0x2A, "Shared Subscription Available", "shared_subscription_available", B, T.CONNACK),
)}
BY_ATTR: dict[str, PropertyDef] = {d.attr: d for d in PROPERTIES.values()}

# Byte properties whose only values are 0 and 1 (a Protocol Error otherwise).
_BOOLEAN = frozenset({0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A})
# Properties for which 0 is a Protocol Error (Topic Alias 0 has its own reason code).
_NON_ZERO = frozenset({0x0B, 0x21, 0x23, 0x27})


@dataclass(frozen=True, slots=True, kw_only=True)
class Properties:
    payload_format_indicator: int | None = None
    message_expiry_interval: int | None = None
    content_type: str | None = None
    response_topic: str | None = None
    correlation_data: bytes | None = None
    subscription_identifiers: tuple[int, ...] = ()
    session_expiry_interval: int | None = None
    assigned_client_identifier: str | None = None
    server_keep_alive: int | None = None
    authentication_method: str | None = None
    authentication_data: bytes | None = None
    request_problem_information: int | None = None
    will_delay_interval: int | None = None
    request_response_information: int | None = None
    response_information: str | None = None
    server_reference: str | None = None
    reason_string: str | None = None
    receive_maximum: int | None = None
    topic_alias_maximum: int | None = None
    topic_alias: int | None = None
    maximum_qos: int | None = None
    retain_available: int | None = None
    user_properties: tuple[tuple[str, str], ...] = ()
    maximum_packet_size: int | None = None
    wildcard_subscription_available: int | None = None
    subscription_identifier_available: int | None = None
    shared_subscription_available: int | None = None

    def items(self) -> list[tuple[PropertyDef, Any]]:
        """The set properties, in table order (repeatable ones as their tuple)."""
        out = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and value != ():
                out.append((BY_ATTR[f.name], value))
        return out

    def __repr__(self) -> str:
        shown = ", ".join(f"{d.attr}={value!r}" for d, value in self.items())
        return f"Properties({shown})"

    def __bool__(self) -> bool:
        return self is not NO_PROPERTIES and self != NO_PROPERTIES


NO_PROPERTIES = Properties()


def _violation(detail: str, code: int, section: str, *statements: str) -> ProtocolViolation:
    return ProtocolViolation(detail, statements or ("MQTT-4.13.1-1",), code, section)


def read_properties(r: Reader, carrier: Carrier) -> Properties:
    """Read a Property Length and the properties it covers (MQTT 5 only)."""
    where = "Will Properties" if carrier == WILL else f"{r.what} properties"
    length = r.vbi("Property Length")
    stop = r.pos + length
    if stop > r.end:
        raise r.truncated("properties")
    if length == 0:
        return NO_PROPERTIES
    outer_end, r.end = r.end, stop
    values: dict[str, Any] = {}
    try:
        while r.pos < stop:
            pid = r.vbi("Property Identifier")
            d = PROPERTIES.get(pid)
            if d is None:
                raise _violation(f"{where}: unknown property identifier 0x{pid:02X}",
                                 MALFORMED_PACKET, "2.2.2.2")
            if carrier not in d.carriers:
                raise _violation(f"{where}: {d.name} may not appear here", MALFORMED_PACKET,
                                 "2.2.2.2")
            value = _read_value(r, d)
            _check_value(d, value, where)
            if d.repeatable and (d.id == 0x26 or carrier == T.PUBLISH):
                values[d.attr] = values.get(d.attr, ()) + (value,)
            elif d.attr in values:
                raise _violation(f"{where}: {d.name} included more than once", PROTOCOL_ERROR,
                                 "2.2.2.2")
            else:
                values[d.attr] = (value,) if d.repeatable else value
    finally:
        r.end = outer_end
    if "authentication_data" in values and "authentication_method" not in values:
        sections: dict[Carrier, str] = {T.CONNECT: "3.1.2.11.10", T.CONNACK: "3.2.2.3.18"}
        section = sections.get(carrier, "3.15.2.2.3")
        raise _violation(f"{where}: Authentication Data without Authentication Method",
                         PROTOCOL_ERROR, section)
    return Properties(**values)


def _read_value(r: Reader, d: PropertyDef) -> Any:
    t = d.type
    if t is PropType.BYTE:
        return r.u8(d.name)
    if t is PropType.U16:
        return r.u16(d.name)
    if t is PropType.U32:
        return r.u32(d.name)
    if t is PropType.VBI:
        return r.vbi(d.name)
    if t is PropType.UTF8:
        return r.string(d.name)
    if t is PropType.BINARY:
        return r.binary(d.name)
    key = r.string(f"{d.name} name")  # MQTT-1.5.7-1: both strings are UTF-8 strings
    return (key, r.string(f"{d.name} value"))


def _check_value(d: PropertyDef, value: Any, where: str) -> None:
    if d.id in _BOOLEAN and value not in (0, 1):
        raise _violation(f"{where}: {d.name} must be 0 or 1, got {value}", PROTOCOL_ERROR,
                         "2.2.2.2")
    if d.id in _NON_ZERO and value == 0:
        if d.id == 0x23:  # MQTT-3.3.2-8: a Topic Alias of 0 is not permitted
            raise _violation(f"{where}: Topic Alias 0", TOPIC_ALIAS_INVALID, "3.3.2.3.4",
                             "MQTT-3.3.2-8")
        raise _violation(f"{where}: {d.name} must not be 0", PROTOCOL_ERROR, "2.2.2.2")
    if d.id == 0x08 and not value:  # MQTT-4.7.3-1: a Topic Name has at least one character
        raise _violation(f"{where}: empty Response Topic", PROTOCOL_ERROR, "3.3.2.3.5",
                         "MQTT-4.7.3-1")
    if d.id == 0x08 and ("+" in value or "#" in value):
        # MQTT-3.3.2-14: the Response Topic is a Topic Name, no wildcards
        raise _violation(f"{where}: Response Topic {value!r} contains a wildcard",
                         PROTOCOL_ERROR, "3.3.2.3.5", "MQTT-3.3.2-14")


def encode_properties(props: Properties) -> bytes:
    """Property Length followed by the properties (MQTT-2.2.2-1: zero length when none)."""
    if not props:
        return b"\x00"
    body = bytearray()
    for d, value in props.items():
        if d.repeatable:
            for item in value:
                body += p.vbi(d.id) + _write_value(d, item)
        else:
            body += p.vbi(d.id) + _write_value(d, value)
    return p.vbi(len(body)) + bytes(body)


def _write_value(d: PropertyDef, value: Any) -> bytes:
    t = d.type
    try:
        if t is PropType.BYTE:
            return p.u8(value)
        if t is PropType.U16:
            return p.u16(value)
        if t is PropType.U32:
            return p.u32(value)
        if t is PropType.VBI:
            return p.vbi(value)
        if t is PropType.UTF8:
            return p.string(value)
        if t is PropType.BINARY:
            return p.binary(value)
        key, val = value
        return p.string(key) + p.string(val)
    except (TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, EncodeError):
            raise EncodeError(f"{d.name}: {exc}") from None
        raise EncodeError(f"{d.name}: bad value {value!r}") from None
