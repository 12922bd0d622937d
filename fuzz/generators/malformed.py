"""Named malformations of the fixed header, lengths, packet identifiers, QoS and topics.

Strategy: each class takes a valid shape (shapes.py), breaks one thing in it with the raw
builder, and returns the bytes; `wrap` puts 0 to 2 valid packets before them and reads the
statement IDs from the `ProtocolViolation` that mqttspec's Decoder (peer "client", the case's
level) raises on them, so the link to the spec comes from the wire package.  If the decoder
takes the bytes, the class is broken: `wrap` raises GeneratorError (the tests run every class
at every level, and check that the whole case is refused where its malformed part starts).
A conforming broker closes the connection on each of them (3.1.1 MQTT-4.8.0-1, 5.0
MQTT-4.13.1-1): Expect.CLOSE (Expect.ANY under MQTT 3.1, see expect.py).

The property, Reason Code and string classes (mostly MQTT 5) are in malformed_props.py.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

from fuzz.generators import shapes as sh
from fuzz.generators import values as v
from fuzz.generators.base import Built, GeneratorError, Make
from fuzz.generators.expect import judge
from fuzz.generators.valid import prefix
from mqttspec.raw import RawPacket, raw_string, raw_vbi
from mqttspec.types import DUP_ALLOWED_V31, REQUIRED_FLAGS, SENT_BY_CLIENT, SENT_BY_SERVER
from mqttspec.types import PacketType as T

Breaker = Callable[[random.Random, int, str], list[bytes]]  # (rng, level, root) -> frames
ALL = (3, 4, 5)
V5 = (5,)


def wrap(name: str, breaker: Breaker) -> Make:
    def build(rng: random.Random, level: int, seed: int) -> Built:
        root = v.root_of(seed)
        pre = prefix(rng, level, root)
        bad = breaker(rng, level, root)
        # The decoder keeps no state between packets but the level: the refusal of the bad
        # bytes alone is their refusal after the (valid, tested) prefix.
        verdict = judge(level, bad)
        if verdict.at < 0:
            raise GeneratorError(
                f"malformed:{name} (level {level}, seed {seed}): the decoder did not refuse "
                f"the malformed bytes ({verdict.reason or 'no violation'}): "
                f"{b''.join(bad).hex()}")
        return Built((*pre, *bad), verdict.expect, verdict.statements, malformation=name)
    return build


def _any_shape(rng: random.Random, level: int, root: str,
               types: tuple[T, ...] | None = None) -> sh.Shape:
    return sh.shape(rng, level, v.pick(rng, types or sh.client_types(level)), root)


_NOT_PUBLISH = {lv: tuple(t for t in sh.client_types(lv) if t is not T.PUBLISH) for lv in ALL}
_FIXED_END = {lv: tuple(t for t in sh.client_types(lv)
                        if t not in (T.PUBLISH, T.SUBSCRIBE, T.UNSUBSCRIBE)) for lv in ALL}
_BAD_OPTIONS_V3 = tuple(b for b in range(256) if b & 0xFC or b & 3 == 3)  # MQTT-3.8.3-4
_SERVER_ONLY = tuple(sorted(SENT_BY_SERVER - SENT_BY_CLIENT))
_RESERVED_TYPES = {lv: tuple(c for c in range(16) if c not in
                             {int(t) for t in T if t is not T.AUTH or lv == 5}) for lv in ALL}


def reserved_flags(rng: random.Random, level: int, root: str) -> list[bytes]:
    """MQTT-2.2.2-1/-2 (3.1.1), MQTT-2.1.3-1 (5.0): fixed-header flags as the table says."""
    s = _any_shape(rng, level, root, _NOT_PUBLISH[level])
    required = REQUIRED_FLAGS[s.ptype]
    if level == 3 and s.ptype in DUP_ALLOWED_V31:  # 3.1 lets these carry DUP: change 2..0
        flags = required ^ (1 + int(rng.random() * 7)) ^ (0b1000 if rng.random() < 0.5 else 0)
    else:
        flags = required ^ (1 + int(rng.random() * 15))
    return [replace(s, flags=flags).build()]


def bad_vbi(rng: random.Random, level: int, root: str) -> list[bytes]:
    """Variable Byte Integers longer than 4 bytes or not minimal (MQTT-1.5.5-1)."""
    variants = ["five", "non_minimal"] + (["props", "prop_id", "sub_id"] if level == 5 else [])
    variant = v.pick(rng, variants)
    if variant in ("five", "non_minimal"):
        s = _any_shape(rng, level, root)
        n = len(s.body())
        width = len(raw_vbi(n)) + 1 + int(rng.random() * 3)
        if variant == "five" or width > 4:
            head = bytes(0x80 | int(rng.random() * 128) for _ in range(4))
            return [s.build(length_bytes=head + bytes((int(rng.random() * 128),)))]
        return [s.build(length_width=width)]
    s = sh.with_props(rng, 5, root) if variant != "sub_id" else sh.subscribe(rng, 5, root)
    items = list(s.props or [])
    if variant == "props":
        return [s.with_props(items, width=min(4, len(raw_vbi(len(b"".join(items)))) + 1 +
                                               int(rng.random() * 3))).build()]
    if variant == "prop_id":
        if not items:
            items.append(sh.item(0x26, ("k", "v")))
        i = int(rng.random() * len(items))
        items[i] = bytes((items[i][0] | 0x80, 0)) + items[i][1:]  # id in 2 bytes
        return [s.with_props(items).build()]
    value = 1 + int(rng.random() * 0x3FFF)
    width = len(raw_vbi(value)) + 1 + int(rng.random() * 3)
    items = [i for i in items if i[0] != 0x0B] + [b"\x0b" + raw_vbi(value, width)]
    return [s.with_props(items).build()]


def reserved_type(rng: random.Random, level: int, root: str) -> list[bytes]:
    """Packet type 0, and 15 before MQTT 5 (MQTT-4.8.0-1 / MQTT-4.13.1-1)."""
    codes = _RESERVED_TYPES[level]
    body = rng.randbytes(int(rng.random() * 7))
    return [RawPacket(v.pick(rng, codes), int(rng.random() * 16)).raw(body).build()]


_CUTTABLE = (T.PUBLISH, T.PUBACK, T.PUBREC, T.PUBREL, T.PUBCOMP, T.SUBSCRIBE, T.UNSUBSCRIBE)


def _cuttable(rng: random.Random, level: int, root: str) -> tuple[sh.Shape, int]:
    types = _CUTTABLE + ((T.AUTH,) if level == 5 else ())
    s = _any_shape(rng, level, root, types)
    return s, v.pick(rng, s.cut_points())


def truncated(rng: random.Random, level: int, root: str) -> list[bytes]:
    """A packet whose Remaining Length ends it inside a field (MQTT-4.8.0-1, 4.13.1-1)."""
    s, cut = _cuttable(rng, level, root)
    return [RawPacket(s.ptype, s.flags).raw(s.body()[:cut]).build()]


def length_lie(rng: random.Random, level: int, root: str) -> list[bytes]:
    """Remaining Length, a string length or (5.0) a Property Length that lies."""
    variants = ["rl_short", "rl_long", "string_long"]
    variant = v.pick(rng, variants + (["props_long", "props_short"] if level == 5 else []))
    if variant == "rl_short":  # the rest of the body follows, read as the next packet
        s, cut = _cuttable(rng, level, root)
        return [s.build(remaining_length=cut)]
    if variant == "rl_long":  # a fixed-end packet swallows what comes next
        ptype = v.pick(rng, _FIXED_END[level])
        if ptype in sh.ACKS:
            s = sh.ack(rng, level, ptype, full=True)
        elif ptype is T.DISCONNECT:
            s = sh.disconnect(rng, level, full=True)
        else:
            s = sh.shape(rng, level, ptype, root)
        n = len(s.body())
        if rng.random() < 0.5:
            return [s.build(remaining_length=n + 2) + b"\xc0\x00"]  # the PINGREQ after it
        extra = rng.randbytes(1 + int(rng.random() * 4))
        return [s.build(remaining_length=n + len(extra)) + extra]
    if variant == "string_long":
        s = _any_shape(rng, level, root, (T.PUBLISH, T.SUBSCRIBE, T.UNSUBSCRIBE))
        i = v.pick(rng, [i for i, f in enumerate(s.fields) if f.string])
        f = s.fields[i]
        past = len(s.body()) - s.offset(i) - 2  # bytes after the length prefix
        lie = raw_string(f.data[2:], min(0xFFFF, past + 1 + int(rng.random() * 64)))
        return [s.with_field(f.name, lie).build()]
    s = sh.with_props(rng, 5, root)
    items = list(s.props or [])
    if variant == "props_long":
        at = s.index("Properties")
        old = s.fields[at].data
        after = len(s.body()) - s.offset(at) - (len(old) - len(b"".join(items)))
        return [s.with_props(items, declared=after + 1 + int(rng.random() * 32)).build()]
    if not items:
        items.append(sh.item(0x26, (v.text(rng), v.text(rng))))
    j = int(rng.random() * len(items))  # end the properties inside item j
    inside = sum(len(i) for i in items[:j]) + 1 + int(rng.random() * (len(items[j]) - 1))
    return [s.with_props(items, declared=inside).build()]


def packet_id_zero(rng: random.Random, level: int, root: str) -> list[bytes]:
    """Packet Identifier 0 (MQTT-2.3.1-1 3.1.1; MQTT-2.2.1-3/-5 5.0)."""
    ptype = v.pick(rng, _CUTTABLE)
    s = sh.publish(rng, level, root, 1 + int(rng.random() * 2)) if ptype is T.PUBLISH else \
        sh.shape(rng, level, ptype, root)
    return [s.with_field("Packet Identifier", b"\x00\x00").build()]


def bad_qos(rng: random.Random, level: int, root: str) -> list[bytes]:
    """PUBLISH at QoS 3 (MQTT-3.3.1-4) or with DUP at QoS 0 (MQTT-3.3.1-2)."""
    if rng.random() < 0.5:
        s = sh.publish(rng, level, root, 1 + int(rng.random() * 2))
        return [replace(s, flags=s.flags | 0b0110).build()]
    s = sh.publish(rng, level, root, 0)
    return [replace(s, flags=s.flags | 0b1000).build()]


def bad_subscription_options(rng: random.Random, level: int, root: str) -> list[bytes]:
    """Reserved bits, QoS 3, Retain Handling 3, No Local on a shared subscription."""
    s = sh.subscribe(rng, level, root)
    i = int(rng.random() * ((len(s.fields) - (2 if level == 5 else 1)) // 2))
    name, flt = f"Subscription Options {i}", f"Topic Filter {i}"
    options = s.fields[s.index(name)].data[0]
    if level < 5:  # MQTT-3.8.3-4: bits 7-2 reserved, QoS 3 malformed
        bad = v.pick(rng, _BAD_OPTIONS_V3)
        return [s.with_field(name, bytes((bad,))).build()]
    variant = int(rng.random() * 4)
    if variant == 0:  # MQTT-3.8.3-5: reserved bits 7-6
        return [s.with_field(name, bytes((options | (1 + int(rng.random() * 3)) << 6,))).build()]
    if variant == 1:  # QoS 3
        return [s.with_field(name, bytes((options | 3,))).build()]
    if variant == 2:  # Retain Handling 3
        return [s.with_field(name, bytes((options | 0x30,))).build()]
    # MQTT-3.8.3-4 (5.0): No Local on a Shared Subscription
    shared = raw_string("$share/g/" + v.topic_filter(rng, root, True))
    return [s.with_field(flt, shared).with_field(name, bytes((options & 0x3B | 0x04,))).build()]


def bad_topic_name(rng: random.Random, level: int, root: str) -> list[bytes]:
    """Wildcards in a Topic Name (MQTT-3.3.2-2), an empty one (MQTT-4.7.3-1)."""
    bad = v.pick(rng, ("", "+", "#", root + "/+", root + "/#", root + "/a+b", root + "/x/#/y",
                       root + "/#a", "+/" + root))
    return [sh.publish(rng, level, root).with_field("Topic Name", raw_string(bad)).build()]


def bad_topic_filter(rng: random.Random, level: int, root: str) -> list[bytes]:
    """'#' not last or not alone, '+' not alone, empty (MQTT-4.7.1-2/-3, MQTT-4.7.3-1);
    in 5.0 shared subscriptions without a ShareName or filter (MQTT-4.8.2-1/-2)."""
    bad = [root + "/#/x", root + "/a#", root + "/+a", root + "/a+/b", "", "#/", root + "/##"]
    if level == 5:
        bad += ["$share//" + root, "$share/g", "$share/g/", "$share/a+b/" + root,
                "$share/#/" + root]
    s = _any_shape(rng, level, root, (T.SUBSCRIBE, T.UNSUBSCRIBE))
    name = v.pick(rng, [f.name for f in s.fields if f.string])
    return [s.with_field(name, raw_string(v.pick(rng, bad))).build()]


def _server_body(rng: random.Random, level: int, ptype: T) -> bytes:
    props = b"\x00" if level == 5 else b""
    pid = sh.packet_id(rng)
    if ptype is T.CONNACK:
        return b"\x00\x00" + props
    if ptype is T.SUBACK:
        return pid + props + bytes(int(rng.random() * 3) for _ in range(1 + int(rng.random() * 3)))
    if ptype is T.UNSUBACK:
        return pid + (props + b"\x00" if level == 5 else b"")
    return b""


def server_only_packet(rng: random.Random, level: int, root: str) -> list[bytes]:
    """A packet only a server sends (MQTT-4.8.0-1 / MQTT-4.13.1-1)."""
    ptype = v.pick(rng, _SERVER_ONLY)
    return [RawPacket(ptype, REQUIRED_FLAGS[ptype]).raw(_server_body(rng, level, ptype)).build()]


CLASSES: dict[str, tuple[str, Breaker, tuple[int, ...]]] = {
    "reserved_flags": ("fixed-header flags other than the table's", reserved_flags, ALL),
    "bad_vbi": ("Variable Byte Integer of 5 bytes or not minimal", bad_vbi, ALL),
    "reserved_type": ("packet type 0, or 15 before MQTT 5", reserved_type, ALL),
    "truncated": ("Remaining Length ends the packet inside a field", truncated, ALL),
    "length_lie": ("a Remaining / string / Property Length that lies", length_lie, ALL),
    "packet_id_zero": ("Packet Identifier 0", packet_id_zero, ALL),
    "bad_qos": ("PUBLISH at QoS 3, or DUP at QoS 0", bad_qos, ALL),
    "bad_subscription_options": ("reserved or invalid Subscription Options",
                                 bad_subscription_options, ALL),
    "bad_topic_name": ("wildcard or empty Topic Name", bad_topic_name, ALL),
    "bad_topic_filter": ("ill-formed Topic Filter", bad_topic_filter, ALL),
    "server_only_packet": ("CONNACK, SUBACK, UNSUBACK or PINGRESP from the client",
                           server_only_packet, ALL),
}
