"""Well-formed packets as named fields, for the malformed rows to break one field at a time.

Strategy: `shape(packet, level, names)` gives a packet a client could validly send (or, for
the server-only types, one a server could) as its first byte and a tuple of `Field`s, each
written with mqttspec.raw's primitives.  A row changes one thing - a field's bytes, the first
byte, where the packet ends - and `Shape.build()` frames the result with a Remaining Length
that matches the bytes (unless the row writes its own).  Each field says whether a packet
that ends just before it is malformed (`required`), which drives the truncation rows.
The CONNECT has every optional part (Will, User Name, Password), so every field exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum

from conformance.malformed.rows import Names, State
from conformance.malformed.spec_tables import PACKET_TYPES, PROPERTIES, PropKind
from mqttspec.raw import RawPacket, StrLike, raw_string, raw_vbi

PROTOCOL_NAME = {3: "MQIsdp", 4: "MQTT", 5: "MQTT"}
PropValue = int | StrLike | tuple[StrLike, StrLike]


class Kind(Enum):
    INTEGER = "integer"
    STRING = "UTF-8 string"
    BINARY = "binary data"
    PROPERTIES = "properties"
    PAYLOAD = "payload"


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    data: bytes
    kind: Kind
    required: bool = True  # a packet ending right before this field is malformed


@dataclass(frozen=True, slots=True)
class Shape:
    packet: str
    first: int  # packet type and flags
    fields: tuple[Field, ...]

    def body(self) -> bytes:
        return b"".join(f.data for f in self.fields)

    def build(self, remaining_length: int | None = None, length_width: int | None = None
              ) -> bytes:
        raw = RawPacket(self.first >> 4, self.first & 0x0F).raw(self.body())
        return raw.build(remaining_length, length_width)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.packet} has no field {name!r}")

    def has(self, name: str) -> bool:
        return any(f.name == name for f in self.fields)

    def offset(self, name: str) -> int:
        """Where the field starts in the body."""
        at = 0
        for f in self.fields:
            if f.name == name:
                return at
            at += len(f.data)
        raise KeyError(f"{self.packet} has no field {name!r}")

    def with_field(self, name: str, data: bytes) -> Shape:
        self.field(name)
        return replace(self, fields=tuple(replace(f, data=data) if f.name == name else f
                                          for f in self.fields))

    def without(self, *names: str) -> Shape:
        return replace(self, fields=tuple(f for f in self.fields if f.name not in names))

    def with_flags(self, flags: int) -> Shape:
        return replace(self, first=(self.first & 0xF0) | flags)

    def appended(self, name: str, data: bytes, kind: Kind = Kind.INTEGER) -> Shape:
        return replace(self, fields=(*self.fields, Field(name, data, kind)))


# -- property bytes ------------------------------------------------------------------------

def prop(pid: int, value: PropValue) -> bytes:
    """One property, its value in the type Table 2-4 gives the identifier."""
    kind = PROPERTIES[pid].kind
    return raw_vbi(pid) + prop_value(kind, value)


def prop_value(kind: PropKind, value: PropValue) -> bytes:
    if kind is PropKind.PAIR:
        assert isinstance(value, tuple)
        return raw_string(value[0]) + raw_string(value[1])
    if kind in (PropKind.UTF8, PropKind.BINARY):
        assert isinstance(value, str | bytes)
        return raw_string(value)
    assert isinstance(value, int)
    if kind is PropKind.VBI:
        return raw_vbi(value)
    assert isinstance(kind.value, int)
    return value.to_bytes(kind.value, "big")


SAMPLE: dict[PropKind, PropValue] = {
    PropKind.BYTE: 1, PropKind.U16: 1, PropKind.U32: 1, PropKind.VBI: 1,
    PropKind.UTF8: "x", PropKind.BINARY: b"x", PropKind.PAIR: ("k", "v")}


def sample(pid: int) -> bytes:
    """The property with a value of the right type."""
    return prop(pid, SAMPLE[PROPERTIES[pid].kind])


def props_field(*props: bytes) -> bytes:
    """Property Length, then the properties."""
    data = b"".join(props)
    return raw_vbi(len(data)) + data


USER_PAIR = prop(0x26, ("k", "v"))
AUTH_METHOD = prop(0x15, "mqttlab-unoffered")


# -- the packets ---------------------------------------------------------------------------

def _u16(value: int) -> bytes:
    return value.to_bytes(2, "big")


def _first(packet: str, flags: int = 0) -> int:
    return (PACKET_TYPES[packet] << 4) | flags


def connect(level: int, names: Names) -> Shape:
    """CONNECT with Clean Session / Start, a Will, a User Name and a Password."""
    f = [Field("Protocol Name", raw_string(PROTOCOL_NAME[level]), Kind.STRING),
         Field("Protocol Level", bytes((level,)), Kind.INTEGER),
         Field("Connect Flags", b"\xc6", Kind.INTEGER),  # user, password, will QoS 0, clean
         Field("Keep Alive", _u16(60), Kind.INTEGER)]
    if level == 5:
        f.append(Field("Properties", props_field(prop(0x11, 0), USER_PAIR), Kind.PROPERTIES))
    f.append(Field("Client Identifier", raw_string(names.client_id), Kind.STRING))
    if level == 5:
        f.append(Field("Will Properties", props_field(prop(0x02, 60), USER_PAIR),
                       Kind.PROPERTIES))
    f += [Field("Will Topic", raw_string(names.topic("will")), Kind.STRING),
          Field("Will Payload", raw_string(b"gone"), Kind.BINARY),
          Field("User Name", raw_string("user"), Kind.STRING),
          Field("Password", raw_string(b"secret"), Kind.BINARY)]
    return Shape("CONNECT", _first("CONNECT"), tuple(f))


def plain_connect(level: int, names: Names, client_id: StrLike | None = None,
                  clean: bool = True) -> Shape:
    """A CONNECT meant to be valid but for one rule: no Will, the target's credentials."""
    flags = (0x02 if clean else 0) | (0x80 if names.username is not None else 0) | (
        0x40 if names.password is not None else 0)
    f = [Field("Protocol Name", raw_string(PROTOCOL_NAME[level]), Kind.STRING),
         Field("Protocol Level", bytes((level,)), Kind.INTEGER),
         Field("Connect Flags", bytes((flags,)), Kind.INTEGER),
         Field("Keep Alive", _u16(60), Kind.INTEGER)]
    if level == 5:
        f.append(Field("Properties", props_field(), Kind.PROPERTIES))
    cid = names.client_id if client_id is None else client_id
    f.append(Field("Client Identifier", raw_string(cid), Kind.STRING))
    if names.username is not None:
        f.append(Field("User Name", raw_string(names.username), Kind.STRING))
    if names.password is not None:
        f.append(Field("Password", raw_string(names.password), Kind.BINARY))
    return Shape("CONNECT", _first("CONNECT"), tuple(f))


def publish(level: int, names: Names) -> Shape:
    """PUBLISH at QoS 1 (a broker that takes it answers PUBACK: never silent)."""
    f = [Field("Topic Name", raw_string(names.topic("t")), Kind.STRING),
         Field("Packet Identifier", _u16(1), Kind.INTEGER)]
    if level == 5:
        f.append(Field("Properties", props_field(prop(0x02, 60), USER_PAIR), Kind.PROPERTIES))
    f.append(Field("Payload", b"payload", Kind.PAYLOAD, required=False))
    return Shape("PUBLISH", _first("PUBLISH", 0b0010), tuple(f))


def publish_qos0(level: int, names: Names) -> Shape:
    f = [Field("Topic Name", raw_string(names.topic("t")), Kind.STRING)]
    if level == 5:
        f.append(Field("Properties", props_field(), Kind.PROPERTIES))
    f.append(Field("Payload", b"payload", Kind.PAYLOAD, required=False))
    return Shape("PUBLISH", _first("PUBLISH"), tuple(f))


def _ack(packet: str) -> Callable[[int, Names], Shape]:
    def build(level: int, names: Names) -> Shape:
        f = [Field("Packet Identifier", _u16(1), Kind.INTEGER)]
        if level == 5:  # 3.4.2.1: Reason Code and properties may be left out
            f += [Field("Reason Code", b"\x00", Kind.INTEGER, required=False),
                  Field("Properties", props_field(prop(0x1F, "why"), USER_PAIR),
                        Kind.PROPERTIES, required=False)]
        flags = 0b0010 if packet == "PUBREL" else 0
        return Shape(packet, _first(packet, flags), tuple(f))
    return build


def subscribe(level: int, names: Names) -> Shape:
    f = [Field("Packet Identifier", _u16(1), Kind.INTEGER)]
    if level == 5:
        f.append(Field("Properties", props_field(USER_PAIR), Kind.PROPERTIES))
    f += [Field("Topic Filter", raw_string(names.topic("f")), Kind.STRING),
          Field("Subscription Options", b"\x01", Kind.INTEGER)]
    return Shape("SUBSCRIBE", _first("SUBSCRIBE", 0b0010), tuple(f))


def unsubscribe(level: int, names: Names) -> Shape:
    f = [Field("Packet Identifier", _u16(1), Kind.INTEGER)]
    if level == 5:
        f.append(Field("Properties", props_field(USER_PAIR), Kind.PROPERTIES))
    f.append(Field("Topic Filter", raw_string(names.topic("f")), Kind.STRING))
    return Shape("UNSUBSCRIBE", _first("UNSUBSCRIBE", 0b0010), tuple(f))


def pingreq(level: int, names: Names) -> Shape:
    return Shape("PINGREQ", _first("PINGREQ"), ())


def disconnect(level: int, names: Names) -> Shape:
    f: tuple[Field, ...] = ()
    if level == 5:  # 3.14.2.1: Reason Code and properties may be left out
        f = (Field("Reason Code", b"\x00", Kind.INTEGER, required=False),
             Field("Properties", props_field(prop(0x1F, "why"), USER_PAIR), Kind.PROPERTIES,
                   required=False))
    return Shape("DISCONNECT", _first("DISCONNECT"), f)


def auth(level: int, names: Names) -> Shape:
    """AUTH continuing an authentication (3.15.2.1: Remaining Length 0 means Success)."""
    f = (Field("Reason Code", b"\x18", Kind.INTEGER, required=False),
         Field("Properties", props_field(AUTH_METHOD, prop(0x1F, "why"), USER_PAIR),
               Kind.PROPERTIES))
    return Shape("AUTH", _first("AUTH"), f)


def connack(level: int, names: Names) -> Shape:
    f = [Field("Acknowledge Flags", b"\x00", Kind.INTEGER),
         Field("Return Code", b"\x00", Kind.INTEGER)]
    if level == 5:
        f.append(Field("Properties", props_field(), Kind.PROPERTIES))
    return Shape("CONNACK", _first("CONNACK"), tuple(f))


def suback(level: int, names: Names) -> Shape:
    f = [Field("Packet Identifier", _u16(1), Kind.INTEGER)]
    if level == 5:
        f.append(Field("Properties", props_field(), Kind.PROPERTIES))
    f.append(Field("Return Codes", b"\x00", Kind.PAYLOAD))
    return Shape("SUBACK", _first("SUBACK"), tuple(f))


def unsuback(level: int, names: Names) -> Shape:
    f = [Field("Packet Identifier", _u16(1), Kind.INTEGER)]
    if level == 5:
        f += [Field("Properties", props_field(), Kind.PROPERTIES),
              Field("Reason Codes", b"\x00", Kind.PAYLOAD)]
    return Shape("UNSUBACK", _first("UNSUBACK"), tuple(f))


def pingresp(level: int, names: Names) -> Shape:
    return Shape("PINGRESP", _first("PINGRESP"), ())


SHAPES: dict[str, Callable[[int, Names], Shape]] = {
    "CONNECT": connect, "CONNACK": connack, "PUBLISH": publish, "PUBACK": _ack("PUBACK"),
    "PUBREC": _ack("PUBREC"), "PUBREL": _ack("PUBREL"), "PUBCOMP": _ack("PUBCOMP"),
    "SUBSCRIBE": subscribe, "SUBACK": suback, "UNSUBSCRIBE": unsubscribe,
    "UNSUBACK": unsuback, "PINGREQ": pingreq, "PINGRESP": pingresp,
    "DISCONNECT": disconnect, "AUTH": auth,
}
# What a client sends after CONNECT, and the state a row about it starts from: a broken
# DISCONNECT is told from a normal one by the Will it leaves published.
CLIENT_PACKETS = ("PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP", "SUBSCRIBE",
                  "UNSUBSCRIBE", "PINGREQ", "DISCONNECT", "AUTH")
SERVER_ONLY_PACKETS = ("CONNACK", "SUBACK", "UNSUBACK", "PINGRESP")


def levels_of(packet: str) -> tuple[int, ...]:
    return (5,) if packet == "AUTH" else (3, 4, 5)


def shape(packet: str, level: int, names: Names) -> Shape:
    return SHAPES[packet](level, names)


def state_of(packet: str) -> State:
    """When a row about this packet sends it: a CONNECT first, a DISCONNECT with a Will
    watched (a broken DISCONNECT must not end the session like a normal one), the rest after
    a successful CONNECT."""
    if packet == "CONNECT":
        return State.FIRST
    return State.WITH_WILL if packet == "DISCONNECT" else State.CONNECTED
