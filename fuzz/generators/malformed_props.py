"""Named malformations of strings, MQTT 5 properties and Reason Codes.

Strategy: as malformed.py (a valid shape, one thing broken with the raw builder, the
statement IDs read from the decoder's refusal by `wrap`).  Which property a packet may not
carry, which may not repeat and which values are refused come from mqttspec's property table
and the decoder itself (values.py probes them at import), the Reason Codes a client may send
from the wire package's per-packet tables (reason_codes.ALLOWED_V5 less the server-only ones).
"""

from __future__ import annotations

import random
from functools import cache

from fuzz.generators import shapes as sh
from fuzz.generators import values as v
from fuzz.generators.malformed import V5, Breaker
from mqttspec.properties import PROPERTIES, PropType
from mqttspec.raw import raw_string, raw_vbi
from mqttspec.reason_codes import ALLOWED_V5
from mqttspec.types import PacketType as T

# Ill-formed UTF-8 (MQTT-1.5.3-1 3.1.1, MQTT-1.5.4-1 5.0): a lone continuation byte, an
# overlong NUL and '/', a cut two-byte sequence, a surrogate, a code point above U+10FFFF,
# bytes never used in UTF-8, a five-byte form.
BAD_UTF8 = (b"\x80", b"\xc0\x80", b"\xe0\x80\xaf", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
            b"\xff", b"\xfe", b"\xf8\x88\x80\x80\x80")
_SAMPLE: dict[PropType, int | str | bytes | tuple[str, str]] = {
    PropType.BYTE: 1, PropType.U16: 1, PropType.U32: 1, PropType.VBI: 1, PropType.UTF8: "x",
    PropType.BINARY: b"x", PropType.PAIR: ("k", "v")}

# Tables of the classes below, from mqttspec's tables and the decoder's answers (values.py)
_FORBIDDEN = {c: tuple(p for p in PROPERTIES if p not in {s.d.id for s in v.CLIENT_PROPS[c]})
              for c in v.CLIENT_CARRIERS}
_SINGLE_CARRIERS = tuple(c for c in v.CLIENT_CARRIERS
                         if any(not s.repeat_ok for s in v.CLIENT_PROPS[c]))
_VALUE_CARRIERS = tuple(c for c, bad in v.INVALID_VALUES.items() if bad)
_UNKNOWN_IDS = tuple(p for p in range(128) if p not in PROPERTIES)
_CODED = tuple(t for t in sh.client_types(5) if t in ALLOWED_V5)


@cache
def _refused_bytes(accepted: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(b for b in range(256) if b not in accepted)


def _insert(rng: random.Random, items: list[bytes], *new: bytes) -> list[bytes]:
    out = list(items)
    for n in new:
        out.insert(int(rng.random() * (len(out) + 1)), n)
    return out


def _spoil(rng: random.Random, good: str, bad: bytes) -> bytes:
    raw = good.encode()
    at = int(rng.random() * (len(raw) + 1))
    while at < len(raw) and raw[at] & 0xC0 == 0x80:  # keep the good part's characters whole
        at += 1
    return raw[:at] + bad + raw[at:]


def _bad_string(rng: random.Random, level: int, root: str, bad: bytes) -> list[bytes]:
    if level == 5 and rng.random() < 0.5:  # in a property (every client carrier has one)
        s = sh.with_props(rng, 5, root)
        pid = v.pick(rng, sh.string_props(s.ptype))
        spoilt = _spoil(rng, v.text(rng), bad)
        if PROPERTIES[pid].type is PropType.PAIR:
            value: bytes | tuple[bytes, bytes] = ((spoilt, b"v") if rng.random() < 0.5
                                                  else (b"k", spoilt))
        else:
            value = spoilt
        return [s.with_props(_insert(rng, s.props or [], sh.item(pid, value))).build()]
    s = sh.shape(rng, level, v.pick(rng, (T.PUBLISH, T.SUBSCRIBE, T.UNSUBSCRIBE)), root)
    f = v.pick(rng, [f for f in s.fields if f.string])
    return [s.with_field(f.name, raw_string(_spoil(rng, f.data[2:].decode(), bad))).build()]


def ill_formed_utf8(rng: random.Random, level: int, root: str) -> list[bytes]:
    """MQTT-1.5.3-1 (3.1.1) / MQTT-1.5.4-1 (5.0): strings are well-formed UTF-8."""
    return _bad_string(rng, level, root, v.pick(rng, BAD_UTF8))


def null_character(rng: random.Random, level: int, root: str) -> list[bytes]:
    """MQTT-1.5.3-2 (3.1.1) / MQTT-1.5.4-2 (5.0): no U+0000 in a string."""
    return _bad_string(rng, level, root, b"\x00")


def forbidden_property(rng: random.Random, level: int, root: str) -> list[bytes]:
    """A property the packet may not carry (2.2.2.2; MQTT-3.3.4-6 for a client's
    Subscription Identifier in PUBLISH)."""
    s = sh.with_props(rng, 5, root)
    pid = v.pick(rng, _FORBIDDEN[s.ptype])
    return [s.with_props(_insert(rng, s.props or [],
                                 sh.item(pid, _SAMPLE[PROPERTIES[pid].type]))).build()]


def duplicate_property(rng: random.Random, level: int, root: str) -> list[bytes]:
    """A property other than User Property twice (2.2.2.2: a Protocol Error)."""
    s = sh.with_props(rng, 5, root, _SINGLE_CARRIERS)
    spec = v.pick(rng, [x for x in v.CLIENT_PROPS[s.ptype] if not x.repeat_ok])
    items = [i for i in s.props or [] if i[0] != spec.d.id]
    twice = [sh.item(spec.d.id, v.prop_value(rng, spec, root)) for _ in range(2)]
    return [s.with_props(_insert(rng, items, *twice)).build()]


def unknown_property(rng: random.Random, level: int, root: str) -> list[bytes]:
    """A property identifier the table does not define (2.2.2.2: Malformed Packet)."""
    pid = v.pick(rng, _UNKNOWN_IDS) if rng.random() < 0.8 else 128 + int(rng.random() * 0x3F80)
    s = sh.with_props(rng, 5, root)
    new = raw_vbi(pid) + rng.randbytes(int(rng.random() * 5))
    return [s.with_props(_insert(rng, s.props or [], new)).build()]


def invalid_property_value(rng: random.Random, level: int, root: str) -> list[bytes]:
    """A value the spec forbids: a Payload Format Indicator other than 0/1, Topic Alias 0
    (MQTT-3.3.2-8), Subscription Identifier 0, a Response Topic empty or with wildcards
    (MQTT-4.7.3-1, MQTT-3.3.2-14)."""
    s = sh.with_props(rng, 5, root, _VALUE_CARRIERS)
    pid, value = v.pick(rng, v.INVALID_VALUES[s.ptype])
    spec = next(x for x in v.CLIENT_PROPS[s.ptype] if x.d.id == pid)
    if spec.bytes_ok:
        value = v.pick(rng, _refused_bytes(spec.bytes_ok))
    items = [i for i in s.props or [] if i[0] != pid]
    return [s.with_props(_insert(rng, items, sh.item(pid, value))).build()]


def invalid_reason_code(rng: random.Random, level: int, root: str) -> list[bytes]:
    """A Reason Code not in the packet's table, or one only the server sends
    (MQTT-3.4.2-1 ... MQTT-3.7.2-1, MQTT-3.14.2-1, MQTT-3.15.2-1)."""
    ptype = v.pick(rng, _CODED)
    if ptype in sh.ACKS:
        s = sh.ack(rng, 5, ptype, full=True)
    elif ptype is T.DISCONNECT:
        s = sh.disconnect(rng, 5, full=True)
    else:
        s = sh.auth(rng, root)
    code = v.pick(rng, sh.foreign_codes(ptype))
    return [s.with_field("Reason Code", bytes((code,))).build()]


def auth_without_method(rng: random.Random, level: int, root: str) -> list[bytes]:
    """AUTH with properties but no Authentication Method (3.15.2.2.2, MQTT-4.12.0-5)."""
    s = sh.auth(rng, root)
    keep = [i for i in s.props or [] if i[0] not in (v.AUTH_METHOD, 0x16)]
    if rng.random() < 0.4:
        keep = _insert(rng, keep, sh.item(0x16, rng.randbytes(int(rng.random() * 8))))
    return [s.with_props(keep).build()]


CLASSES: dict[str, tuple[str, Breaker, tuple[int, ...]]] = {
    "ill_formed_utf8": ("ill-formed UTF-8 in a string", ill_formed_utf8, (3, 4, 5)),
    "null_character": ("U+0000 in a string", null_character, (3, 4, 5)),
    "forbidden_property": ("a property the packet may not carry", forbidden_property, V5),
    "duplicate_property": ("a non-repeatable property twice", duplicate_property, V5),
    "unknown_property": ("an undefined property identifier", unknown_property, V5),
    "invalid_property_value": ("a property value the spec forbids", invalid_property_value,
                               V5),
    "invalid_reason_code": ("a Reason Code foreign to the packet or the client",
                            invalid_reason_code, V5),
    "auth_without_method": ("AUTH without Authentication Method", auth_without_method, V5),
}
