"""Incremental, sans-IO decoder: feed bytes, take complete packets.

Strategy (after h11): `feed()` only appends to a buffer; `next_packet()` returns the next
complete packet, None when more bytes are needed, or raises `ProtocolViolation`.  The fixed
header is checked as soon as its first byte is in (packet type, reserved flags, who may send
it; once the protocol level is known, a first byte that passed is remembered with its
parser, so the checks run once per distinct first byte); the Remaining Length as soon as it
is complete (4 bytes at most, minimal, within `max_packet_size`), so an oversized packet
is refused before its body arrives and is never buffered.  The body is then parsed by one
function per packet type (decoder_packets.py).  After a violation the decoder stays failed:
the connection must close.

The protocol level is either given (a client knows what it sent in CONNECT) or learnt from
the first CONNECT (a server).  `peer` names who sent the bytes ("client", "server", or None
for no direction checks).  `keep_raw` keeps each packet's bytes in `last_raw` (for logs).
"""

from __future__ import annotations

from collections.abc import Iterator

from mqttspec.decoder_packets import PARSERS, Parser
from mqttspec.errors import ProtocolViolation, ids
from mqttspec.packets import Connect, Packet
from mqttspec.primitives import Reader, vbi
from mqttspec.reason_codes import MALFORMED_PACKET, PACKET_TOO_LARGE, PROTOCOL_ERROR
from mqttspec.types import (
    DUP_ALLOWED_V31,
    REQUIRED_FLAGS,
    SENT_BY_CLIENT,
    SENT_BY_SERVER,
    PacketType,
)

_COMPACT_AT = 1 << 16
_TYPES: tuple[PacketType, ...] = tuple(PacketType)  # code - 1 -> type, without an enum call
_NAMES = {ptype: ptype.name for ptype in PacketType}  # without the enum's property
_CONNECT = PacketType.CONNECT
_FLAG_IDS_V5 = {
    PacketType.PUBREL: "MQTT-3.6.1-1", PacketType.SUBSCRIBE: "MQTT-3.8.1-1",
    PacketType.UNSUBSCRIBE: "MQTT-3.10.1-1", PacketType.DISCONNECT: "MQTT-3.14.1-1",
    PacketType.AUTH: "MQTT-3.15.1-1",
}
_FLAG_IDS_V3 = {
    PacketType.PUBREL: "MQTT-3.6.1-1", PacketType.SUBSCRIBE: "MQTT-3.8.1-1",
    PacketType.UNSUBSCRIBE: "MQTT-3.10.1-1", PacketType.DISCONNECT: "MQTT-3.14.1-1",
}


class Decoder:
    def __init__(
        self,
        protocol_level: int | None = None,
        peer: str | None = None,
        max_packet_size: int | None = None,
        keep_raw: bool = False,
    ) -> None:
        if protocol_level not in (None, 3, 4, 5):
            raise ValueError(f"protocol level must be 3, 4 or 5, not {protocol_level!r}")
        if peer not in (None, "client", "server"):
            raise ValueError(f"peer must be 'client', 'server' or None, not {peer!r}")
        self.protocol_level = protocol_level
        self.peer = peer
        self.max_packet_size = max_packet_size
        self._buf = bytearray()
        self._pos = 0
        self._error: ProtocolViolation | None = None
        self._refused = b""  # a complete packet the parser refused (already consumed)
        # first bytes already accepted at the known protocol level -> (packet type, its
        # parser, its name)
        self._first_bytes: dict[int, tuple[PacketType, Parser, str]] = {}
        self.keep_raw = keep_raw
        self.last_raw = b""  # with keep_raw: the bytes of the packet last returned

    def feed(self, data: bytes) -> None:
        self._buf += data

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as packets."""
        return len(self._buf) - self._pos

    def unread(self) -> bytes:
        """The bytes received but not yet returned as packets; after a violation, from the
        start of the offending packet."""
        return self._refused + bytes(self._buf[self._pos:])

    def __iter__(self) -> Iterator[Packet]:
        if self._error is not None:
            raise self._error
        try:
            while (packet := self._next()) is not None:
                yield packet
        except ProtocolViolation as exc:
            self._failed(exc)
            raise

    def next_packet(self) -> Packet | None:
        if self._error is not None:
            raise self._error
        try:
            return self._next()
        except ProtocolViolation as exc:
            self._failed(exc)
            raise

    def _failed(self, exc: ProtocolViolation) -> None:
        if exc.protocol_level is None:
            exc.protocol_level = self.protocol_level
        self._error = exc

    def _next(self) -> Packet | None:
        buf, pos = self._buf, self._pos
        end = len(buf)
        if pos == end:
            self._compact()
            return None
        first = buf[pos]
        known = self._first_bytes.get(first)
        if known is None:
            ptype = self._check_first_byte(first)
            known = (ptype, PARSERS[ptype], _NAMES[ptype])
            if self.protocol_level is not None:  # the verdict is then fixed: keep it
                self._first_bytes[first] = known
        ptype, parse, name = known
        i = pos + 1
        if i < end and buf[i] < 0x80:  # a one-byte Remaining Length: most packets
            length = buf[i]
            i += 1
        else:
            found = self._remaining_length(buf, pos)
            if found is None:
                return None
            length, i = found
        total = i - pos + length
        if self.max_packet_size is not None and total > self.max_packet_size:
            exc = ProtocolViolation(
                f"packet of {total} bytes exceeds the maximum packet size "
                f"{self.max_packet_size}",
                self._size_ids(), PACKET_TOO_LARGE,
                "3.2.2.3.6" if self.protocol_level == 5 else "")
            if ptype is PacketType.CONNECT:
                exc.protocol_level = _declared_level(bytes(buf[i : i + 0x10003]))
            raise exc
        after = i + length
        if after > end:
            return None
        body = bytes(buf[i:after])
        if self.keep_raw:
            self.last_raw = bytes(buf[pos:after])
        self._pos = after
        if after >= _COMPACT_AT or after == end:
            self._compact()
        level = self.protocol_level
        try:
            if ptype is _CONNECT:
                packet = parse(Reader(body, level or 4, name), first & 0x0F, self.peer)
                assert isinstance(packet, Connect)
                if self.protocol_level is None:
                    self.protocol_level = packet.protocol_level
                return packet
            assert level is not None
            return parse(Reader(body, level, name), first & 0x0F, self.peer)
        except ProtocolViolation:
            self._refused = bytes([first]) + vbi(length) + body
            raise

    def _remaining_length(self, buf: bytearray, pos: int) -> tuple[int, int] | None:
        """The Remaining Length after the first byte at `pos`: 1 to 4 bytes, 7 bits each,
        and where the packet's body starts; None while it is incomplete."""
        length = 0
        shift = 0
        i = pos + 1
        while True:
            if i >= len(buf):
                return None
            byte = buf[i]
            i += 1
            length |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
            shift += 7
            if i - pos - 1 == 4:
                raise self._violation("Remaining Length longer than 4 bytes",
                                      "MQTT-4.8.0-1", "MQTT-4.13.1-1", section=self._rl_section())
        if i - pos > 2 and byte == 0:
            raise self._violation("Remaining Length not in its minimum number of bytes",
                                  "MQTT-4.8.0-1", "MQTT-1.5.5-1", section=self._rl_section())
        return length, i

    def _compact(self) -> None:
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0

    def _check_first_byte(self, first: int) -> PacketType:
        code, flags = first >> 4, first & 0x0F
        level = self.protocol_level
        if code == 0 or (code == 15 and level is not None and level < 5):
            raise self._violation(f"reserved packet type {code}", "MQTT-4.8.0-1",
                                  "MQTT-4.13.1-1", section="2.2.1" if (level or 5) < 5 else "2.1.2")
        ptype = _TYPES[code - 1]
        if level is None and ptype is not PacketType.CONNECT:
            raise ProtocolViolation(f"{ptype.name} before CONNECT", ("MQTT-3.1.0-1",),
                                    PROTOCOL_ERROR, "3.1")
        level = level or 4
        if ptype is PacketType.PUBLISH:
            if flags & 0b0110 == 0b0110:  # MQTT-3.3.1-4
                raise ProtocolViolation("PUBLISH with both QoS bits set",
                                        ("MQTT-3.3.1-4",), MALFORMED_PACKET, "3.3.1.2")
            if flags & 0b1000 and not flags & 0b0110:  # MQTT-3.3.1-2
                raise ProtocolViolation("PUBLISH with DUP set at QoS 0", ("MQTT-3.3.1-2",),
                                        MALFORMED_PACKET, "3.3.1.1")
        else:
            required = REQUIRED_FLAGS[ptype]
            if level == 3 and ptype in DUP_ALLOWED_V31:
                flags &= 0b0111
            if flags != required:
                table = _FLAG_IDS_V5 if level == 5 else _FLAG_IDS_V3
                general = ("MQTT-2.1.3-1",) if level == 5 else ("MQTT-2.2.2-1", "MQTT-2.2.2-2")
                specific = (table[ptype],) if ptype in table else ()
                raise ProtocolViolation(
                    f"{ptype.name} with reserved flags 0x{first & 0x0F:X} "
                    f"(must be 0x{required:X})", general + specific, MALFORMED_PACKET,
                    "2.1.3" if level == 5 else "2.2.2")
        if self.peer is not None:
            allowed = SENT_BY_CLIENT if self.peer == "client" else SENT_BY_SERVER
            if ptype not in allowed or (
                ptype is PacketType.DISCONNECT and self.peer == "server" and level < 5
            ):
                raise self._violation(f"{ptype.name} may not be sent by a {self.peer}",
                                      "MQTT-4.8.0-1", "MQTT-4.13.1-1", PROTOCOL_ERROR,
                                      "2.1.2" if level == 5 else "2.2.1")
        return ptype

    def _violation(self, detail: str, v3: str, v5: str, code: int = MALFORMED_PACKET,
                   section: str = "") -> ProtocolViolation:
        return ProtocolViolation(detail, ids(self.protocol_level or 4, v3, v5), code, section)

    def _rl_section(self) -> str:
        return "2.1.4" if self.protocol_level == 5 else "2.2.3"

    def _size_ids(self) -> tuple[str, ...]:
        if self.protocol_level != 5:
            return ()  # MQTT 3.x has no Maximum Packet Size; the limit is the receiver's own
        return ("MQTT-3.2.2-15",) if self.peer == "client" else ("MQTT-3.1.2-24",)


def _declared_level(start: bytes) -> int | None:
    """The Protocol Level of a CONNECT refused for its size, if the Protocol Name before it
    has arrived and is well-formed (the bytes that have arrived, never more)."""
    r = Reader(start, 4, "CONNECT")
    try:
        r.string("Protocol Name")
        return r.u8("Protocol Level")
    except ProtocolViolation:
        return None


def decode_packet(
    data: bytes, protocol_level: int | None = None, peer: str | None = None
) -> Packet:
    """Decode exactly one packet from `data` (a test and encoder helper)."""
    decoder = Decoder(protocol_level, peer)
    decoder.feed(data)
    packet = decoder.next_packet()
    if packet is None:
        raise ProtocolViolation(f"incomplete packet ({len(data)} bytes)", (), MALFORMED_PACKET)
    if decoder.buffered:
        raise ProtocolViolation(f"{decoder.buffered} bytes after the packet", (),
                                MALFORMED_PACKET)
    return packet
