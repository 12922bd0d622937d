"""MQTT 5 rows with properties a packet may not carry: forbidden, repeated, unknown, bad values.

Strategy: generated from Table 2-4 as spec_tables.py transcribes it.  For every carrier a
client sends (CONNECT, its Will Properties, PUBLISH, the four acknowledgements, SUBSCRIBE,
UNSUBSCRIBE, DISCONNECT, AUTH): each property the table does not list for it (a Malformed
Packet, section 2.2.2.2), each property it lists twice unless the property may repeat there
(a Protocol Error, each property's own section), and a sample of identifiers the table does
not define.  Then the values the text calls a Protocol Error, one row each, and Variable Byte
Integers inside properties in more bytes than needed (MQTT-1.5.5-1).  The properties
replace the shape's own; an AUTH always keeps its Authentication Method.  The one statement
for these rules is the general close rule (MQTT-4.13.1-1), which make_row adds.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from conformance.malformed.rows import V5_ONLY, Builder, Malformation, Names, Row, make_row, slug
from conformance.malformed.shapes import AUTH_METHOD, prop, props_field, sample, shape, state_of
from conformance.malformed.spec_tables import (
    CLIENT_CARRIERS,
    PROPERTIES,
    REPEATABLE,
    UNKNOWN_PROPERTY_IDS,
    WILL,
)
from mqttspec.raw import raw_vbi


def where(carrier: str) -> tuple[str, str, str]:
    """(packet, field, row id prefix) of a carrier."""
    if carrier == WILL:
        return "CONNECT", "Will Properties", "connect.will-properties"
    return carrier, "Properties", carrier.lower()


def _with(carrier: str, props: Sequence[bytes] | None = None,
          topic_value: tuple[int, str] | None = None) -> Builder:
    """The carrier with these properties (`topic_value`: a UTF-8 property holding a topic
    under the case's root)."""
    packet, field, _ = where(carrier)

    def build(level: int, names: Names) -> bytes:
        chosen = list(props or ())
        if topic_value is not None:
            chosen.append(prop(topic_value[0], names.topic(topic_value[1])))
        if packet == "AUTH" and not any(p[:1] == b"\x15" for p in chosen):
            chosen.insert(0, AUTH_METHOD)
        return shape(packet, level, names).with_field(field, props_field(*chosen)).build()
    return build


def _title(carrier: str) -> str:
    return "CONNECT Will Properties" if carrier == WILL else carrier


def forbidden_rows() -> Iterator[Row]:
    for carrier in CLIENT_CARRIERS:
        packet, _, prefix = where(carrier)
        for p in PROPERTIES.values():
            if carrier in p.carriers:
                continue
            yield make_row(f"{prefix}.forbidden-property-0x{p.id:02x}-{slug(p.name)}",
                           f"{_title(carrier)} with {p.name} (0x{p.id:02X}), which it may "
                           "not carry", packet, Malformation.FORBIDDEN_PROPERTY, V5_ONLY,
                           _with(carrier, [sample(p.id)]), state=state_of(packet))


def duplicate_rows() -> Iterator[Row]:
    for carrier in CLIENT_CARRIERS:
        packet, _, prefix = where(carrier)
        for p in PROPERTIES.values():
            if carrier not in p.carriers or carrier in REPEATABLE.get(p.id, ()):
                continue
            one = prop(0x11, 0) if p.id == 0x11 else sample(p.id)  # a 0 expiry stays valid
            props = [one, one]
            if p.id == 0x16:  # Authentication Data needs its method beside it
                props.insert(0, AUTH_METHOD)
            yield make_row(f"{prefix}.duplicate-property-0x{p.id:02x}-{slug(p.name)}",
                           f"{_title(carrier)} with {p.name} (0x{p.id:02X}) twice", packet,
                           Malformation.DUPLICATE_PROPERTY, V5_ONLY, _with(carrier, props),
                           state=state_of(packet))


def unknown_rows() -> Iterator[Row]:
    for carrier in CLIENT_CARRIERS:
        packet, _, prefix = where(carrier)
        for pid in UNKNOWN_PROPERTY_IDS:
            yield make_row(f"{prefix}.unknown-property-0x{pid:02x}",
                           f"{_title(carrier)} with the undefined Property Identifier "
                           f"0x{pid:02X}", packet, Malformation.UNKNOWN_PROPERTY, V5_ONLY,
                           _with(carrier, [raw_vbi(pid) + b"\x00"]), state=state_of(packet))


# (carrier, row id, title, properties, 5.0 statements): each value the text calls an error
BAD_VALUES: tuple[tuple[str, str, str, Sequence[bytes], tuple[str, ...]], ...] = (
    ("CONNECT", "receive-maximum-0", "Receive Maximum 0 (3.1.2.11.3)",
     [prop(0x21, 0)], ()),
    ("CONNECT", "maximum-packet-size-0", "Maximum Packet Size 0 (3.1.2.11.4)",
     [prop(0x27, 0)], ()),
    ("CONNECT", "request-response-information-2", "Request Response Information 2 "
     "(3.1.2.11.6: 0 or 1)", [prop(0x19, 2)], ()),
    ("CONNECT", "request-problem-information-2", "Request Problem Information 2 "
     "(3.1.2.11.7: 0 or 1)", [prop(0x17, 2)], ()),
    ("CONNECT", "authentication-data-without-method", "Authentication Data but no "
     "Authentication Method (3.1.2.11.10)", [prop(0x16, b"x")], ()),
    ("PUBLISH", "topic-alias-0", "Topic Alias 0", [prop(0x23, 0)], ("MQTT-3.3.2-8",)),
    ("PUBLISH", "subscription-identifier-from-client", "a Subscription Identifier, which "
     "only a server puts in a PUBLISH", [prop(0x0B, 1)], ("MQTT-3.3.4-6",)),
    ("SUBSCRIBE", "subscription-identifier-0", "Subscription Identifier 0 (3.8.2.1.2)",
     [prop(0x0B, 0)], ()),
    ("AUTH", "authentication-method-missing", "no Authentication Method (3.15.2.2.2)",
     [prop(0x1F, "why")], ()),
)
# PUBLISH Response Topics with a wildcard (MQTT-3.3.2-14), under the case's topic root
WILDCARD_RESPONSE_TOPICS = (("plus", "+"), ("hash", "#"), ("plus-in-level", "a+"))


def bad_value_rows() -> Iterator[Row]:
    for carrier, row_id, title, props, v5 in BAD_VALUES:
        packet, _, prefix = where(carrier)
        builder = _with(carrier, props) if packet != "AUTH" else _auth_without_method(props)
        yield make_row(f"{prefix}.{row_id}", f"{_title(carrier)} with {title}", packet,
                       Malformation.PROPERTY_VALUE, V5_ONLY, builder, v5=v5,
                       state=state_of(packet))
    for name, level_text in WILDCARD_RESPONSE_TOPICS:
        yield make_row(f"publish.response-topic-wildcard-{name}",
                       f"PUBLISH whose Response Topic has the wildcard level '{level_text}'",
                       "PUBLISH", Malformation.PROPERTY_VALUE, V5_ONLY,
                       _with("PUBLISH", topic_value=(0x08, level_text)),
                       v5=("MQTT-3.3.2-14",))


def _auth_without_method(props: Sequence[bytes]) -> Builder:
    def build(level: int, names: Names) -> bytes:
        return shape("AUTH", level, names).with_field("Properties", props_field(*props)).build()
    return build


def vbi_rows() -> Iterator[Row]:
    """Variable Byte Integers inside properties in more bytes than needed (MQTT-1.5.5-1):
    a User Property's identifier (0x26 as A6 00) in every carrier, and a Subscription
    Identifier (1 as 81 00)."""
    pair = prop(0x26, ("k", "v"))
    for carrier in CLIENT_CARRIERS:
        packet, _, prefix = where(carrier)
        yield make_row(f"{prefix}.property-identifier-not-minimal",
                       f"{_title(carrier)} with a User Property whose identifier takes 2 "
                       "bytes (A6 00)", packet, Malformation.BAD_VBI, V5_ONLY,
                       _with(carrier, [b"\xa6\x00" + pair[1:]]), v5=("MQTT-1.5.5-1",),
                       state=state_of(packet))
    yield make_row("subscribe.subscription-identifier-not-minimal",
                   "SUBSCRIBE with Subscription Identifier 1 written in 2 bytes (81 00)",
                   "SUBSCRIBE", Malformation.BAD_VBI, V5_ONLY,
                   _with("SUBSCRIBE", [b"\x0b\x81\x00"]), v5=("MQTT-1.5.5-1",))


def rows() -> Iterator[Row]:
    yield from vbi_rows()
    yield from forbidden_rows()
    yield from duplicate_rows()
    yield from unknown_rows()
    yield from bad_value_rows()
