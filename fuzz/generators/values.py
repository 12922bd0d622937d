"""Random field values for the generators: topics, filters, texts, payloads, MQTT 5 properties.

Strategy: texts come from a small vocabulary of well-formed UTF-8 (ASCII, Latin, CJK, a
four-byte emoji, a space) that avoids U+0000 and the code points a receiver MAY treat as
malformed (controls, non-characters: 3.1.1 section 1.5.3, 5.0 section 1.5.4), so a valid
case stays valid everywhere.  Topics live under the case's own root `fuzz/<seed>`.

Which MQTT 5 property a client may put in which packet, and which values it may give, is
read from mqttspec's property table and then *asked of mqttspec's decoder* once at import:
each property is written into a minimal packet of each client carrier and decoded as sent by
a client.  So the Subscription Identifier drops out of a client's PUBLISH (MQTT-3.3.4-6), the
Payload Format Indicator keeps its values 0 and 1, a Response Topic refuses wildcards, and
the values the decoder refuses become the `invalid_property_value` malformation's material,
without a second hand-written list of the rules.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from mqttspec import Decoder, ProtocolViolation
from mqttspec.properties import PROPERTIES, PropertyDef, PropType
from mqttspec.raw import RawPacket, RawProperties, raw_vbi
from mqttspec.types import REQUIRED_FLAGS, SENT_BY_CLIENT, PacketType

T = PacketType
WORDS = ("a", "b", "c", "sensor", "temp", "x1", "0", "A-b_c", "é", "ü", "日本", "😀",
         "with space", "$mid", "ÿ", "ok.ok")
FILTER_WORDS = ("a", "b", "sensor", "x1", "é", "日本", "😀")
VBI_MAX = 268_435_455
Value = int | str | bytes | tuple[str, str]


def root_of(seed: int) -> str:
    """The case's own topic root (cases never share topics)."""
    return f"fuzz/{seed:x}"


def pick(rng: random.Random, seq: tuple[Any, ...] | list[Any]) -> Any:
    return seq[int(rng.random() * len(seq))]


def text(rng: random.Random) -> str:
    n = int(rng.random() * 3)
    return "".join(pick(rng, WORDS) for _ in range(n))


def topic(rng: random.Random, root: str) -> str:
    depth = 1 + int(rng.random() * 3)
    return root + "/" + "/".join(pick(rng, WORDS) for _ in range(depth))


def topic_filter(rng: random.Random, root: str, wildcards: bool) -> str:
    """A filter under `root`; with `wildcards`, '+' levels and a final '#' may appear."""
    parts = [pick(rng, FILTER_WORDS) for _ in range(int(rng.random() * 3))]
    if wildcards:
        parts = ["+" if rng.random() < 0.3 else p for p in parts]
        if rng.random() < 0.5 or not parts:
            parts.append("#")
    return root + ("/" + "/".join(parts) if parts else "")


def payload(rng: random.Random, utf8: bool = False) -> bytes:
    if utf8 or rng.random() < 0.3:
        return text(rng).encode()
    return rng.randbytes(int(rng.random() * 48))


# -- MQTT 5 properties a client sends, probed from the wire package ---------------------------

CLIENT_CARRIERS: tuple[PacketType, ...] = tuple(sorted(
    {c for d in PROPERTIES.values() for c in d.carriers
     if isinstance(c, PacketType) and c in SENT_BY_CLIENT and c is not T.CONNECT}))
_ACKS = (T.PUBACK, T.PUBREC, T.PUBREL, T.PUBCOMP)
AUTH_METHOD = 0x15  # the property AUTH cannot go without (MQTT-4.12.0-5 side of the probe)


def carrier_packet(carrier: PacketType, items: bytes, level: int = 5) -> bytes:
    """A minimal packet of `carrier` carrying the property bytes `items` (raw builder)."""
    props = raw_vbi(len(items)) + items if level == 5 else b""
    flags = REQUIRED_FLAGS.get(carrier, 0)
    p = RawPacket(carrier, flags)
    if carrier is T.PUBLISH:
        p.string("p").raw(props)
    elif carrier in _ACKS:
        p.u16(1)
        if level == 5:
            p.u8(0).raw(props)
    elif carrier is T.SUBSCRIBE:
        p.u16(1).raw(props).string("p").u8(0)
    elif carrier is T.UNSUBSCRIBE:
        p.u16(1).raw(props).string("p")
    elif carrier is T.AUTH:
        p.u8(0x18).raw(props)
    else:  # DISCONNECT
        p.u8(0).raw(props)
    return p.build()


def _item(pid: int, value: Value) -> bytes:
    return RawProperties().add(pid, value).build()


def _accepts(carrier: PacketType, pid: int, value: Value, times: int = 1) -> bool:
    items = _item(pid, value) * times
    if carrier is T.AUTH and pid != AUTH_METHOD:
        items = _item(AUTH_METHOD, "m") + items
    decoder = Decoder(5, "client")
    decoder.feed(carrier_packet(carrier, items))
    try:
        return decoder.next_packet() is not None
    except ProtocolViolation:
        return False


@dataclass(frozen=True, slots=True)
class PropSpec:
    """What the decoder lets a client give one property in one packet."""

    d: PropertyDef
    bytes_ok: tuple[int, ...]  # Byte properties: the values accepted
    zero_ok: bool  # integer properties: 0 accepted
    empty_ok: bool  # string properties: "" accepted
    wildcard_ok: bool  # string properties: a wildcard accepted (False: it is a Topic Name)
    repeat_ok: bool  # may appear twice in the packet


_SAMPLE: dict[PropType, Value] = {
    PropType.BYTE: 0, PropType.U16: 1, PropType.U32: 1, PropType.VBI: 1, PropType.UTF8: "p",
    PropType.BINARY: b"x", PropType.PAIR: ("k", "v")}


def _probe() -> tuple[dict[PacketType, tuple[PropSpec, ...]],
                      dict[PacketType, tuple[tuple[int, Value], ...]]]:
    specs: dict[PacketType, tuple[PropSpec, ...]] = {}
    invalid: dict[PacketType, tuple[tuple[int, Value], ...]] = {}
    for carrier in CLIENT_CARRIERS:
        ok: list[PropSpec] = []
        bad: list[tuple[int, Value]] = []
        for pid, d in PROPERTIES.items():
            if carrier not in d.carriers:
                continue
            t = d.type
            if t is PropType.BYTE:
                good = tuple(v for v in range(256) if _accepts(carrier, pid, v))
                bad += [(pid, v) for v in (2, 0x80, 0xFF) if v not in good]
                if good:
                    twice = _accepts(carrier, pid, good[0], 2)
                    ok.append(PropSpec(d, good, True, True, True, twice))
                continue
            if not _accepts(carrier, pid, _SAMPLE[t]):
                continue  # the table lists this carrier, but not for a client
            zero_ok = t not in (PropType.U16, PropType.U32, PropType.VBI) or _accepts(
                carrier, pid, 0)
            empty_ok = t is not PropType.UTF8 or _accepts(carrier, pid, "")
            wild_ok = t is not PropType.UTF8 or _accepts(carrier, pid, "p/#")
            bad += [(pid, v) for v, fine in ((0, zero_ok), ("", empty_ok), ("p/#", wild_ok),
                                             ("+", wild_ok)) if not fine]
            twice = _accepts(carrier, pid, _SAMPLE[t], 2)
            ok.append(PropSpec(d, (), zero_ok, empty_ok, wild_ok, twice))
        specs[carrier] = tuple(ok)
        invalid[carrier] = tuple(bad)
    return specs, invalid


CLIENT_PROPS, INVALID_VALUES = _probe()


def prop_value(rng: random.Random, spec: PropSpec, root: str) -> Value:
    """A value the decoder accepts for this property from a client."""
    t = spec.d.type
    r = rng.random()
    if t is PropType.BYTE:
        return int(pick(rng, spec.bytes_ok))
    if t in (PropType.U16, PropType.U32, PropType.VBI):
        top = {PropType.U16: 0xFFFF, PropType.U32: 0xFFFF_FFFF, PropType.VBI: VBI_MAX}[t]
        low = 0 if spec.zero_ok else 1
        if r < 0.3:
            return low
        return low + int(rng.random() * (top - low + 1)) if r < 0.8 else top
    if t is PropType.UTF8:
        if not spec.wildcard_ok:
            return topic(rng, root)
        value = text(rng)
        return value if value or spec.empty_ok else "t"
    if t is PropType.BINARY:
        return rng.randbytes(int(r * 12))
    return (text(rng), text(rng))


def raw_props(rng: random.Random, carrier: PacketType, root: str, chance: float = 0.15,
              skip: tuple[int, ...] = ()) -> list[bytes]:
    """Encoded properties (one bytes item each) a client may send in `carrier`."""
    items = []
    for spec in CLIENT_PROPS[carrier]:
        if spec.d.id in skip or rng.random() >= chance:
            continue
        count = 1 + int(rng.random() * 2) if spec.d.id == 0x26 else 1  # User Property repeats
        items += [_item(spec.d.id, prop_value(rng, spec, root)) for _ in range(count)]
    return items
