"""Rows with ill-formed UTF-8 or U+0000 in every UTF-8 string a client sends.

Strategy: a list of string sites - every UTF-8 Encoded String field of every packet a client
sends, and under 5.0 every string property (both halves of a User Property) in every packet
that may carry it - crossed with eight ill-formed byte sequences (overlong forms, surrogates,
bytes UTF-8 never uses, a cut sequence, a code point past U+10FFFF: MQTT-1.5.3-1 / 1.5.4-1)
and U+0000 (MQTT-1.5.3-2 / 1.5.4-2; in a topic also MQTT-4.7.3-2).  The bad bytes follow a
valid start ("m", the topic root, ...), and the rest of the packet is the shape from
shapes.py.  A bad Protocol Name is also a wrong one: the server MAY answer it as another
protocol would (MQTT-3.1.2-1), so those rows accept a CONNACK refusal too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from conformance.malformed.rows import (
    ALL_LEVELS,
    V5_ONLY,
    Builder,
    Expect,
    Malformation,
    Names,
    Row,
    make_row,
    slug,
)
from conformance.malformed.shapes import (
    AUTH_METHOD,
    PROTOCOL_NAME,
    prop,
    props_field,
    shape,
    state_of,
)
from mqttspec.raw import raw_string

ILL_FORMED = {
    "overlong-slash": (b"\xc0\xaf", "an overlong '/' (C0 AF)"),
    "overlong-u0000": (b"\xc0\x80", "an overlong U+0000 (C0 80)"),
    "surrogate-d800": (b"\xed\xa0\x80", "the surrogate U+D800 (ED A0 80)"),
    "surrogate-dfff": (b"\xed\xbf\xbf", "the surrogate U+DFFF (ED BF BF)"),
    "byte-ff": (b"\xff", "the byte FF, which UTF-8 never uses"),
    "lone-continuation-byte": (b"\x80", "a continuation byte with no lead byte (80)"),
    "cut-sequence": (b"\xe2\x82", "a three-byte sequence cut after two bytes (E2 82)"),
    "above-u10ffff": (b"\xf4\x90\x80\x80", "U+110000, past the last code point"),
}
NUL = b"\x00"
# The other packets with string properties (5.0), and which (User Property is in each).
STRING_PROPERTIES = (("PUBACK", (0x1F,)), ("PUBREC", (0x1F,)), ("PUBREL", (0x1F,)),
                     ("PUBCOMP", (0x1F,)), ("DISCONNECT", (0x1C, 0x1F)),
                     ("AUTH", (0x15, 0x1F)))

Make = Callable[[int, Names, bytes], bytes]


@dataclass(frozen=True, slots=True)
class Site:
    packet: str
    where: str  # e.g. "Topic Name", "Will Properties: Content Type"
    levels: tuple[int, ...]
    make: Make  # the packet with `bad` inside the string
    v3: tuple[str, ...] = ()  # the statement making this field a UTF-8 string
    v5: tuple[str, ...] = ()
    topic: bool = False  # a Topic Name or Filter: U+0000 also breaks MQTT-4.7.3-2


def _in_field(packet: str, field: str, start: Callable[[Names], bytes]) -> Make:
    def make(level: int, names: Names, bad: bytes) -> bytes:
        s = shape(packet, level, names)
        return s.with_field(field, raw_string(start(names) + bad)).build()
    return make


def _protocol_name(level: int, names: Names, bad: bytes) -> bytes:
    s = shape("CONNECT", level, names)
    return s.with_field("Protocol Name", raw_string(PROTOCOL_NAME[level].encode() + bad)).build()


def _in_property(packet: str, field: str, pid: int, part: int = 0) -> Make:
    """The string property `pid` (part 0 / 1: name / value of a User Property)."""
    def make(level: int, names: Names, bad: bytes) -> bytes:
        text = b"x" + bad
        value: bytes | tuple[bytes, bytes] = text
        if pid == 0x26:
            value = (text, b"v") if part == 0 else (b"k", text)
        props = [prop(pid, value)]
        if packet == "AUTH" and pid != 0x15:
            props.insert(0, AUTH_METHOD)  # an AUTH names its method
        return shape(packet, level, names).with_field(field, props_field(*props)).build()
    return make


def _property_sites(packet: str, field: str, pids: tuple[int, ...]) -> Iterator[Site]:
    titles = {0x03: "Content Type", 0x08: "Response Topic", 0x15: "Authentication Method",
              0x1C: "Server Reference", 0x1F: "Reason String"}
    # the statements naming the property a UTF-8 string (5.0)
    specific: dict[int, tuple[str, ...]] = {}
    if packet == "PUBLISH":
        specific = {0x03: ("MQTT-3.3.2-19",), 0x08: ("MQTT-3.3.2-13",)}
    prefix = "Will Properties: " if field == "Will Properties" else ""
    for pid in pids:
        yield Site(packet, prefix + titles[pid], V5_ONLY, _in_property(packet, field, pid),
                   v5=specific.get(pid, ()))
    for part, half in enumerate(("name", "value")):
        yield Site(packet, f"{prefix}User Property {half}", V5_ONLY,
                   _in_property(packet, field, 0x26, part), v5=("MQTT-1.5.7-1",))


def sites() -> Iterator[Site]:
    yield Site("CONNECT", "Protocol Name", ALL_LEVELS, _protocol_name,
               ("MQTT-3.1.2-1",), ("MQTT-3.1.2-1",))
    yield Site("CONNECT", "Client Identifier", ALL_LEVELS,
               _in_field("CONNECT", "Client Identifier", lambda n: b"m"),
               ("MQTT-3.1.3-4",), ("MQTT-3.1.3-4",))
    yield Site("CONNECT", "Will Topic", ALL_LEVELS,
               _in_field("CONNECT", "Will Topic", lambda n: n.topic("will/").encode()),
               ("MQTT-3.1.3-10",), ("MQTT-3.1.3-11",), topic=True)
    yield Site("CONNECT", "User Name", ALL_LEVELS,
               _in_field("CONNECT", "User Name", lambda n: b"user"),
               ("MQTT-3.1.3-11",), ("MQTT-3.1.3-12",))
    yield from _property_sites("CONNECT", "Properties", (0x15,))
    yield from _property_sites("CONNECT", "Will Properties", (0x03, 0x08))
    yield Site("PUBLISH", "Topic Name", ALL_LEVELS,
               _in_field("PUBLISH", "Topic Name", lambda n: n.topic("t/").encode()),
               ("MQTT-3.3.2-1",), ("MQTT-3.3.2-1",), topic=True)
    yield from _property_sites("PUBLISH", "Properties", (0x03, 0x08))
    for packet, v3 in (("SUBSCRIBE", "MQTT-3.8.3-1"), ("UNSUBSCRIBE", "MQTT-3.10.3-1")):
        yield Site(packet, "Topic Filter", ALL_LEVELS,
                   _in_field(packet, "Topic Filter", lambda n: n.topic("f/").encode()),
                   (v3,), (v3,), topic=True)
        yield from _property_sites(packet, "Properties", ())
    for packet, pids in STRING_PROPERTIES:
        yield from _property_sites(packet, "Properties", pids)


def _row(site: Site, variant: str, bad: bytes, what: str) -> Row:
    nul = bad == NUL
    v3 = ("MQTT-1.5.3-2" if nul else "MQTT-1.5.3-1", *site.v3)
    v5 = ("MQTT-1.5.4-2" if nul else "MQTT-1.5.4-1", *site.v5)
    if nul and site.topic:
        v3, v5 = (*v3, "MQTT-4.7.3-2"), (*v5, "MQTT-4.7.3-2")
    where = slug(site.where.replace(":", ""))
    return make_row(f"{site.packet.lower()}.{where}.{variant}",
                    f"{site.packet} whose {site.where} contains {what}", site.packet,
                    Malformation.UTF8_NUL if nul else Malformation.ILL_FORMED_UTF8,
                    site.levels, _builder(site.make, bad), v3=v3, v5=v5,
                    state=state_of(site.packet),
                    expect=Expect.CLOSE_OR_REFUSE if site.where == "Protocol Name" else
                    Expect.CLOSE)


def _builder(make: Make, bad: bytes) -> Builder:
    def build(level: int, names: Names) -> bytes:
        return make(level, names, bad)
    return build


def rows() -> Iterator[Row]:
    for site in sites():
        for variant, (bad, what) in ILL_FORMED.items():
            yield _row(site, variant, bad, what)
        yield _row(site, "u0000", NUL, "U+0000")
