"""Rows where a packet ends too early or a length says what is not there.

Strategy: walk the fields of every packet a client sends (shapes.py).  Truncation: the packet
ends right before each field a packet cannot do without, and in the middle of each field of
two bytes or more, its Remaining Length matching what was sent (nothing follows the cut, so a
broker that reads on finds no other packet to trip over).  Lengths that lie: a string or
binary length prefix reaching past the packet's end, a Property Length reaching past the end
or cutting the last property short (5.0), and a Remaining Length one byte longer than the
fields (a trailing zero byte; not for PUBLISH, whose payload takes any bytes).  Each Property
Length is also padded to four bytes (5.0 wants the fewest, MQTT-1.5.5-1) and written in five
(four at most, 1.5.5).  Cutting a SUBSCRIBE / UNSUBSCRIBE before its first Topic Filter is
the no-topic-filters row (topics.py), not repeated here.
"""

from __future__ import annotations

from collections.abc import Iterator

from conformance.malformed.rows import Builder, Malformation, Names, Row, make_row, slug
from conformance.malformed.shapes import CLIENT_PACKETS, Field, Kind, levels_of, shape, state_of
from mqttspec.raw import RawPacket, raw_vbi

EXAMPLE = Names("tmalformed", "mqttlab/example", 10)
PACKETS = ("CONNECT", *CLIENT_PACKETS)

# The statements a missing field breaks, besides the general close rule: (3.1.1, 5.0).
MISSING: dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...]]] = {
    ("CONNECT", "Client Identifier"): (("MQTT-3.1.3-3",), ("MQTT-3.1.3-3",)),
    ("CONNECT", "Will Properties"): ((), ("MQTT-3.1.2-9",)),
    ("CONNECT", "Will Topic"): (("MQTT-3.1.2-9",), ("MQTT-3.1.2-9",)),
    ("CONNECT", "Will Payload"): (("MQTT-3.1.2-9",), ("MQTT-3.1.2-9",)),
    ("CONNECT", "User Name"): (("MQTT-3.1.2-19",), ("MQTT-3.1.2-17",)),
    ("CONNECT", "Password"): (("MQTT-3.1.2-21",), ("MQTT-3.1.2-19",)),
    ("PUBLISH", "Packet Identifier"): (("MQTT-2.3.1-1",), ()),
    ("SUBSCRIBE", "Packet Identifier"): (("MQTT-2.3.1-1",), ()),
    ("UNSUBSCRIBE", "Packet Identifier"): (("MQTT-2.3.1-1",), ()),
}
NOT_HERE = {("SUBSCRIBE", "Topic Filter"), ("UNSUBSCRIBE", "Topic Filter")}


def fields_by_level(packet: str) -> list[tuple[Field, tuple[int, ...]]]:
    """Each field of the packet's shape and the levels whose shape has it, in order."""
    found: dict[str, tuple[Field, list[int]]] = {}
    for level in levels_of(packet):
        for f in shape(packet, level, EXAMPLE).fields:
            found.setdefault(f.name, (f, []))[1].append(level)
    return [(f, tuple(levels)) for f, levels in found.values()]


def inside(f: Field) -> int | None:
    """How many bytes of the field a cut in its middle keeps (None: it cannot be cut)."""
    n = len(f.data)
    if f.kind is Kind.PAYLOAD or n < 2:
        return None
    if f.kind in (Kind.STRING, Kind.BINARY) and n > 2:
        return 2 + (n - 2) // 2  # the length prefix and half what it announces
    if f.kind is Kind.PROPERTIES:
        return 1 + (n - 1) // 2  # the Property Length and half the properties
    return 1


def _cut(packet: str, field: str, mid: bool) -> Builder:
    """The packet cut before the field, or (`mid`) in its middle."""
    def build(level: int, names: Names) -> bytes:
        s = shape(packet, level, names)
        at = s.offset(field) + ((inside(s.field(field)) or 0) if mid else 0)
        body = s.body()[:at]
        return RawPacket(s.first >> 4, s.first & 0x0F).raw(body).build()
    return build


def truncation_rows() -> Iterator[Row]:
    for packet in PACKETS:
        for f, levels in fields_by_level(packet):
            name = slug(f.name)
            v3, v5 = MISSING.get((packet, f.name), ((), ()))
            if f.kind is Kind.PROPERTIES:
                v5 = (*v5, "MQTT-2.2.2-1")  # no properties is a Property Length of 0
            if f.required and (packet, f.name) not in NOT_HERE:
                yield make_row(f"{packet.lower()}.truncated-before-{name}",
                               f"{packet} that ends before its {f.name}", packet,
                               Malformation.TRUNCATION, levels, _cut(packet, f.name, False),
                               v3=v3, v5=v5, state=state_of(packet))
            if inside(f) is not None:
                yield make_row(f"{packet.lower()}.truncated-inside-{name}",
                               f"{packet} that ends in the middle of its {f.name}", packet,
                               Malformation.TRUNCATION, levels, _cut(packet, f.name, True),
                               state=state_of(packet))


def _replaced(packet: str, field: str, how: str) -> Builder:
    """The field's length prefix made to lie ("past-end", "short") or written in more bytes
    than needed ("padded") or than allowed ("five-bytes")."""
    def build(level: int, names: Names) -> bytes:
        s = shape(packet, level, names)
        f = s.field(field)
        if f.kind is Kind.PROPERTIES:
            props = _property_bytes(f.data)
            if how == "short":
                data = raw_vbi(len(props) - 1) + props  # the last property is cut
            elif how == "padded":
                data = raw_vbi(len(props), 4) + props
            elif how == "five-bytes":
                data = raw_vbi(len(props), 5) + props
            else:
                after = len(s.body()) - s.offset(field) - len(f.data)
                data = raw_vbi(len(props) + after + 1) + props  # one past the packet's end
        else:
            data = b"\xff\xff" + f.data[2:]  # 65535 bytes announced
        return s.with_field(field, data).build()
    return build


def _property_bytes(field_data: bytes) -> bytes:
    """The properties after the Property Length (a one-byte VBI in every shape)."""
    assert field_data[0] < 0x80
    return field_data[1:]


def length_lie_rows() -> Iterator[Row]:
    for packet in PACKETS:
        state = state_of(packet)
        for f, levels in fields_by_level(packet):
            name = slug(f.name)
            if f.kind in (Kind.STRING, Kind.BINARY):
                yield make_row(f"{packet.lower()}.{name}-length-past-end",
                               f"{packet} whose {f.name} length (65535) runs past the end",
                               packet, Malformation.LENGTH_LIES, levels,
                               _replaced(packet, f.name, "past-end"), state=state)
            if f.kind is Kind.PROPERTIES:
                yield make_row(f"{packet.lower()}.{name}-length-past-end",
                               f"{packet} whose {f.name} Length runs past the end", packet,
                               Malformation.LENGTH_LIES, levels,
                               _replaced(packet, f.name, "past-end"), state=state)
                yield make_row(f"{packet.lower()}.{name}-length-cuts-last-property",
                               f"{packet} whose {f.name} Length ends inside its last "
                               "property", packet, Malformation.LENGTH_LIES, levels,
                               _replaced(packet, f.name, "short"), state=state)
                yield from _property_length_vbi_rows(packet, f.name, levels)
        if packet != "PUBLISH":
            yield make_row(f"{packet.lower()}.trailing-byte",
                           f"{packet} whose Remaining Length counts a byte after its last "
                           "field", packet, Malformation.LENGTH_LIES, levels_of(packet),
                           _trailing(packet), state=state)


def _property_length_vbi_rows(packet: str, field: str, levels: tuple[int, ...]
                              ) -> Iterator[Row]:
    """A Property Length padded to 4 bytes (MQTT-1.5.5-1) or written in 5 (4 at most)."""
    name, state = slug(field), state_of(packet)
    yield make_row(f"{packet.lower()}.{name}-length-padded-to-4-bytes",
                   f"{packet} whose {field} Length is padded to 4 bytes", packet,
                   Malformation.BAD_VBI, levels, _replaced(packet, field, "padded"),
                   v5=("MQTT-1.5.5-1",), state=state)
    yield make_row(f"{packet.lower()}.{name}-length-5-bytes",
                   f"{packet} whose {field} Length takes 5 bytes (4 at most)", packet,
                   Malformation.BAD_VBI, levels, _replaced(packet, field, "five-bytes"),
                   state=state)


def _trailing(packet: str) -> Builder:
    def build(level: int, names: Names) -> bytes:
        return shape(packet, level, names).appended("trailing", b"\x00").build()
    return build


def rows() -> Iterator[Row]:
    yield from truncation_rows()
    yield from length_lie_rows()
