"""Client packets as lists of raw fields, valid to begin with, for the malformations to break.

Strategy: a `Shape` is a packet type, its fixed-header flags and its body as named fields
(bytes), written with the raw builder from random valid values (values.py).  A malformation
replaces, cuts or lengthens one field and rebuilds the packet, so the rest stays valid and the
decoder refuses the packet for the one reason the class names.  Each field says whether a
packet ending at its start, or inside it, is malformed: a PUBLISH may end anywhere in its
payload, an MQTT 5 PUBACK may end before its Reason Code (the short form), but a packet that
ends inside a Packet Identifier or a string never is well-formed.  MQTT 5 properties are kept
as a list of encoded items so property malformations can add, repeat or cut one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from functools import cache

from fuzz.generators import values as v
from mqttspec.properties import PropType
from mqttspec.raw import RawPacket, RawProperties, raw_string, raw_vbi
from mqttspec.reason_codes import (
    ALLOWED_V5,
    AUTH_SERVER_ONLY,
    DISCONNECT_SERVER_ONLY,
)
from mqttspec.types import REQUIRED_FLAGS, SENT_BY_CLIENT, PacketType

T = PacketType
ACKS = (T.PUBACK, T.PUBREC, T.PUBREL, T.PUBCOMP)
TOPIC_ALIAS = 0x23  # Topic Alias: its use depends on the CONNACK, kept out of random shapes


@dataclass(slots=True)
class Field:
    name: str
    data: bytes
    cut_start: bool = True  # the packet ending where this field starts is malformed
    cut_inside: bool = True  # ... and ending inside it
    string: bool = False  # a length-prefixed UTF-8 string (Topic Name, Topic Filter)


@dataclass(slots=True)
class Shape:
    ptype: PacketType
    flags: int
    fields: list[Field]
    props: list[bytes] | None = None  # MQTT 5 property items, if the packet has properties

    def body(self) -> bytes:
        return b"".join(f.data for f in self.fields)

    def index(self, name: str) -> int:
        for i, f in enumerate(self.fields):
            if f.name == name:
                return i
        raise KeyError(name)

    def offset(self, i: int) -> int:
        return sum(len(f.data) for f in self.fields[:i])

    def with_field(self, name: str, data: bytes) -> Shape:
        fields = list(self.fields)
        i = self.index(name)
        fields[i] = replace(fields[i], data=data)
        return replace(self, fields=fields)

    def with_props(self, items: list[bytes], declared: int | None = None,
                   width: int | None = None) -> Shape:
        return replace(self.with_field("Properties", props_field(items, declared, width)),
                       props=items)

    def build(self, remaining_length: int | None = None, length_width: int | None = None,
              length_bytes: bytes | None = None) -> bytes:
        return RawPacket(self.ptype, self.flags).raw(self.body()).build(
            remaining_length, length_width, length_bytes)

    def cut_points(self) -> list[int]:
        """Body lengths at which the packet, cut there, is malformed."""
        points: list[int] = []
        offset = 0
        for f in self.fields:
            if f.cut_start:
                points.append(offset)
            if f.cut_inside:
                points += range(offset + 1, offset + len(f.data))
            offset += len(f.data)
        return points


def props_field(items: list[bytes], declared: int | None = None, width: int | None = None
                ) -> bytes:
    data = b"".join(items)
    return raw_vbi(len(data) if declared is None else declared, width) + data


@cache
def client_types(level: int) -> tuple[PacketType, ...]:
    """What a client sends after CONNECT (AUTH exists from MQTT 5 on)."""
    return tuple(t for t in T if t in SENT_BY_CLIENT and t is not T.CONNECT
                 and (t is not T.AUTH or level == 5))


@cache
def client_codes(ptype: PacketType) -> tuple[int, ...]:
    """MQTT 5 Reason Codes a client may put in `ptype` (the per-packet tables)."""
    barred: frozenset[int] = {T.DISCONNECT: DISCONNECT_SERVER_ONLY,
                              T.AUTH: AUTH_SERVER_ONLY}.get(ptype, frozenset())
    return tuple(sorted(ALLOWED_V5[ptype] - barred))


@cache
def foreign_codes(ptype: PacketType) -> tuple[int, ...]:
    """Byte values that are not a Reason Code a client may put in `ptype`."""
    allowed = client_codes(ptype)
    return tuple(c for c in range(256) if c not in allowed)


def packet_id(rng: random.Random) -> bytes:
    return (1 + int(rng.random() * 0xFFFF)).to_bytes(2, "big")


def method_item(rng: random.Random) -> bytes:
    return RawProperties().add(v.AUTH_METHOD, v.pick(rng, ("SCRAM-SHA-1", "fuzz", "é"))).build()


def _props(rng: random.Random, carrier: PacketType, root: str, cut_start: bool
           ) -> tuple[Field, list[bytes]]:
    items = v.raw_props(rng, carrier, root, skip=(TOPIC_ALIAS,))
    if carrier is T.AUTH and not any(i[0] == v.AUTH_METHOD for i in items):
        items.insert(0, method_item(rng))
    return Field("Properties", props_field(items), cut_start=cut_start), items


def publish(rng: random.Random, level: int, root: str, qos: int | None = None) -> Shape:
    qos = int(rng.random() * 3) if qos is None else qos
    dup = qos > 0 and rng.random() < 0.2
    flags = (dup << 3) | (qos << 1) | (rng.random() < 0.2)
    fields = [Field("Topic Name", raw_string(v.topic(rng, root)), string=True)]
    if qos:
        fields.append(Field("Packet Identifier", packet_id(rng)))
    items = None
    if level == 5:
        prop, items = _props(rng, T.PUBLISH, root, True)
        fields.append(prop)
    utf8 = items is not None and b"\x01\x01" in items  # Payload Format Indicator 1
    fields.append(Field("Payload", v.payload(rng, utf8), cut_start=False, cut_inside=False))
    return Shape(T.PUBLISH, flags, fields, items)


def ack(rng: random.Random, level: int, ptype: PacketType, full: bool = False) -> Shape:
    fields = [Field("Packet Identifier", packet_id(rng))]
    items = None
    if level == 5 and (full or rng.random() < 0.7):
        code = v.pick(rng, client_codes(ptype))
        fields.append(Field("Reason Code", bytes((code,)), cut_start=False))
        if full or rng.random() < 0.6:
            items = v.raw_props(rng, ptype, "fuzz")
            fields.append(Field("Properties", props_field(items), cut_start=False))
    return Shape(ptype, REQUIRED_FLAGS[ptype], fields, items)


def _options(rng: random.Random, level: int, shared: bool) -> int:
    qos = int(rng.random() * 3)
    if level < 5:
        return qos
    no_local = not shared and rng.random() < 0.3
    return qos | (no_local << 2) | ((rng.random() < 0.3) << 3) | (int(rng.random() * 3) << 4)


def subscribe(rng: random.Random, level: int, root: str) -> Shape:
    fields = [Field("Packet Identifier", packet_id(rng))]
    items = None
    if level == 5:
        prop, items = _props(rng, T.SUBSCRIBE, root, True)
        fields.append(prop)
    for i in range(1 + int(rng.random() * 3)):
        flt = v.topic_filter(rng, root, wildcards=True)
        shared = level == 5 and rng.random() < 0.2
        if shared:
            flt = "$share/g/" + flt
        fields.append(Field(f"Topic Filter {i}", raw_string(flt), cut_start=i == 0, string=True))
        fields.append(Field(f"Subscription Options {i}", bytes((_options(rng, level, shared),))))
    return Shape(T.SUBSCRIBE, REQUIRED_FLAGS[T.SUBSCRIBE], fields, items)


def unsubscribe(rng: random.Random, level: int, root: str) -> Shape:
    fields = [Field("Packet Identifier", packet_id(rng))]
    items = None
    if level == 5:
        prop, items = _props(rng, T.UNSUBSCRIBE, root, True)
        fields.append(prop)
    for i in range(1 + int(rng.random() * 2)):
        flt = raw_string(v.topic_filter(rng, root, wildcards=rng.random() < 0.5))
        fields.append(Field(f"Topic Filter {i}", flt, cut_start=i == 0, string=True))
    return Shape(T.UNSUBSCRIBE, REQUIRED_FLAGS[T.UNSUBSCRIBE], fields, items)


def disconnect(rng: random.Random, level: int, full: bool = False) -> Shape:
    fields: list[Field] = []
    items = None
    if level == 5 and (full or rng.random() < 0.7):
        code = v.pick(rng, client_codes(T.DISCONNECT))
        fields.append(Field("Reason Code", bytes((code,)), cut_start=False))
        if full or rng.random() < 0.6:
            items = v.raw_props(rng, T.DISCONNECT, "fuzz")
            fields.append(Field("Properties", props_field(items), cut_start=False))
    return Shape(T.DISCONNECT, 0, fields, items)


def auth(rng: random.Random, root: str) -> Shape:
    code = v.pick(rng, client_codes(T.AUTH))
    # Remaining Length 0 would mean Success, which a client never sends: the code is needed;
    # and with any byte after it, the Authentication Method is too (3.15.2.2.2).
    prop, items = _props(rng, T.AUTH, root, True)
    return Shape(T.AUTH, 0, [Field("Reason Code", bytes((code,))), prop], items)


def shape(rng: random.Random, level: int, ptype: PacketType, root: str) -> Shape:
    if ptype is T.PUBLISH:
        return publish(rng, level, root)
    if ptype in ACKS:
        return ack(rng, level, ptype)
    if ptype is T.SUBSCRIBE:
        return subscribe(rng, level, root)
    if ptype is T.UNSUBSCRIBE:
        return unsubscribe(rng, level, root)
    if ptype is T.DISCONNECT:
        return disconnect(rng, level)
    if ptype is T.AUTH:
        return auth(rng, root)
    return Shape(ptype, REQUIRED_FLAGS.get(ptype, 0), [])  # PINGREQ


def with_props(rng: random.Random, level: int, root: str,
               carriers: tuple[PacketType, ...] | None = None) -> Shape:
    """An MQTT 5 shape that has a Properties field (full forms of acks and DISCONNECT)."""
    ptype = v.pick(rng, carriers or v.CLIENT_CARRIERS)
    if ptype in ACKS:
        return ack(rng, level, ptype, full=True)
    if ptype is T.DISCONNECT:
        return disconnect(rng, level, full=True)
    return shape(rng, level, ptype, root)


@cache
def string_props(carrier: PacketType) -> tuple[int, ...]:
    """Client properties of `carrier` holding a UTF-8 string (or a pair of them)."""
    return tuple(s.d.id for s in v.CLIENT_PROPS[carrier]
                 if s.d.type in (PropType.UTF8, PropType.PAIR))


def item(pid: int, value: int | str | bytes | tuple[str | bytes, str | bytes]) -> bytes:
    """One encoded property of the table (value written as its table type says)."""
    return RawProperties().add(pid, value).build()
