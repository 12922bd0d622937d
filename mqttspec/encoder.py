"""Strict encoder: a packet value in, the bytes the spec prescribes out, or `EncodeError`.

Strategy: one small writer per packet type produces (flags, body); `encode` adds the fixed
header.  Strictness is not a second copy of the rules: the encoder reads its own output back
with the strict decoder and insists on getting the same packet.  So the encoder can never
write what the decoder would reject (a wildcard Topic Name, a reason code foreign to the
packet, QoS 3, ...), nor silently drop a field the protocol level cannot carry (properties
under 3.1.1, a Session Present flag under 3.1).  `verify=False` skips the read-back for hot
paths that write packets built from already-checked values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mqttspec import primitives as p
from mqttspec.decoder import decode_packet
from mqttspec.errors import EncodeError, ProtocolViolation
from mqttspec.packets import (
    Auth,
    Connack,
    Connect,
    Disconnect,
    Packet,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Subscribe,
    Unsuback,
    Unsubscribe,
)
from mqttspec.properties import encode_properties
from mqttspec.types import PROTOCOL_NAMES, REQUIRED_FLAGS, PacketType

Body = tuple[int, bytes]


def encode(packet: Packet, *, verify: bool = True) -> bytes:
    try:
        flags, body = _WRITERS[packet.TYPE](packet)
        out = bytes(((packet.TYPE << 4) | flags,)) + p.vbi(len(body)) + body
    except EncodeError as exc:
        raise EncodeError(f"{packet.TYPE.name}: {exc}") from None
    except (TypeError, ValueError, AttributeError, OverflowError, KeyError) as exc:
        raise EncodeError(f"{packet.TYPE.name}: cannot encode {packet!r}: {exc}") from None
    if verify:
        try:
            again = decode_packet(out, packet.protocol_level)
        except ProtocolViolation as exc:
            raise EncodeError(f"refusing to write an invalid {packet.TYPE.name}: {exc}") from None
        if again != packet:
            raise EncodeError(
                f"{packet.TYPE.name} has fields protocol level {packet.protocol_level} cannot "
                f"carry: {packet!r} would be read back as {again!r}")
    return out


def _props(packet: Any) -> bytes:
    return encode_properties(packet.properties) if packet.protocol_level == 5 else b""


def _connect(c: Connect) -> Body:
    level = c.protocol_level
    will = c.will
    flags = (c.clean_start << 1) | ((c.username is not None) << 7) | ((c.password is not None) << 6)
    if will is not None:
        flags |= 0x04 | (will.qos << 3) | (will.retain << 5)
    out = bytearray(p.string(PROTOCOL_NAMES[level]))
    out += p.u8(level) + p.u8(flags) + p.u16(c.keep_alive) + _props(c) + p.string(c.client_id)
    if will is not None:
        if level == 5:
            out += encode_properties(will.properties)
        out += p.string(will.topic) + p.binary(will.payload)
    if c.username is not None:
        out += p.string(c.username)
    if c.password is not None:
        out += p.binary(c.password)
    return 0, bytes(out)


def _connack(c: Connack) -> Body:
    return 0, p.u8(int(c.session_present)) + p.u8(c.reason_code) + _props(c)


def _publish(m: Publish) -> Body:
    flags = (m.dup << 3) | (m.qos << 1) | int(m.retain)
    out = p.string(m.topic)
    if m.qos and m.packet_id is not None:
        out += p.u16(m.packet_id)
    return flags, out + _props(m) + bytes(m.payload)


def _ack(a: Puback | Pubrec | Pubrel | Pubcomp) -> Body:
    flags = REQUIRED_FLAGS[a.TYPE] | (0x08 if isinstance(a, Pubrel) and a.dup else 0)
    out = p.u16(a.packet_id)
    if a.protocol_level == 5 and (a.reason_code or a.properties):
        out += p.u8(a.reason_code)
        if a.properties:
            out += encode_properties(a.properties)
    return flags, out


def _subscribe(s: Subscribe) -> Body:
    out = bytearray(p.u16(s.packet_id) + _props(s))
    for sub in s.subscriptions:
        options = sub.qos | (sub.no_local << 2) | (sub.retain_as_published << 3)
        options |= sub.retain_handling << 4
        out += p.string(sub.topic_filter) + p.u8(options)
    return 0x02 | (0x08 if s.dup else 0), bytes(out)


def _suback(s: Suback | Unsuback) -> Body:
    return 0, p.u16(s.packet_id) + _props(s) + bytes(s.reason_codes)


def _unsubscribe(u: Unsubscribe) -> Body:
    out = p.u16(u.packet_id) + _props(u) + b"".join(p.string(f) for f in u.topic_filters)
    return 0x02 | (0x08 if u.dup else 0), out


def _empty(_: Any) -> Body:
    return 0, b""


def _disconnect_or_auth(d: Disconnect | Auth) -> Body:
    if d.protocol_level < 5 or (d.reason_code == 0 and not d.properties):
        return 0, b""
    if not d.properties:
        return 0, p.u8(d.reason_code)
    return 0, p.u8(d.reason_code) + encode_properties(d.properties)


_WRITERS: dict[PacketType, Callable[[Any], Body]] = {
    PacketType.CONNECT: _connect,
    PacketType.CONNACK: _connack,
    PacketType.PUBLISH: _publish,
    PacketType.PUBACK: _ack,
    PacketType.PUBREC: _ack,
    PacketType.PUBREL: _ack,
    PacketType.PUBCOMP: _ack,
    PacketType.SUBSCRIBE: _subscribe,
    PacketType.SUBACK: _suback,
    PacketType.UNSUBSCRIBE: _unsubscribe,
    PacketType.UNSUBACK: _suback,
    PacketType.PINGREQ: _empty,
    PacketType.PINGRESP: _empty,
    PacketType.DISCONNECT: _disconnect_or_auth,
    PacketType.AUTH: _disconnect_or_auth,
}
