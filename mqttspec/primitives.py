"""Data representations of MQTT (3.1.1 section 1.5, 5.0 section 1.5), read and written.

Strategy: `Reader` walks one packet's bytes (the part after the fixed header) with an offset
and raises `ProtocolViolation` the moment a field runs past the end or breaks its encoding
rule.  Writers are plain functions returning bytes; they range-check and raise `EncodeError`.
The statement IDs differ between 3.1.1 and 5.0, so the reader knows its protocol level.
"""

from __future__ import annotations

from mqttspec.errors import EncodeError, ProtocolViolation, ids
from mqttspec.reason_codes import MALFORMED_PACKET

VBI_MAX = 268_435_455


class Reader:
    __slots__ = ("data", "pos", "end", "level", "what")

    def __init__(self, data: bytes, level: int, what: str) -> None:
        self.data = data
        self.pos = 0
        self.end = len(data)
        self.level = level
        self.what = what  # packet name, for messages

    def remaining(self) -> int:
        return self.end - self.pos

    def truncated(self, field: str) -> ProtocolViolation:
        # Remaining Length says the packet ends before this field does.
        return ProtocolViolation(
            f"{self.what}: {field} runs past the end of the packet",
            ids(self.level, "MQTT-4.8.0-1", "MQTT-4.13.1-1"),
            MALFORMED_PACKET,
            "2.2.3" if self.level < 5 else "2.1.4",
        )

    def u8(self, field: str) -> int:
        if self.pos >= self.end:
            raise self.truncated(field)
        value = self.data[self.pos]
        self.pos += 1
        return value

    def u16(self, field: str) -> int:
        pos = self.pos
        if pos + 2 > self.end:
            raise self.truncated(field)
        self.pos = pos + 2
        return (self.data[pos] << 8) | self.data[pos + 1]

    def u32(self, field: str) -> int:
        pos = self.pos
        if pos + 4 > self.end:
            raise self.truncated(field)
        self.pos = pos + 4
        return int.from_bytes(self.data[pos : pos + 4], "big")

    def vbi(self, field: str) -> int:
        where = f"{self.what} {field}"
        value, self.pos = read_vbi(self.data, self.pos, self.end, self.level, where)
        return value

    def take(self, n: int, field: str) -> bytes:
        pos = self.pos
        if pos + n > self.end:
            raise self.truncated(field)
        self.pos = pos + n
        return self.data[pos : pos + n]

    def binary(self, field: str) -> bytes:
        return self.take(self.u16(f"{field} length"), field)

    def string(self, field: str) -> str:
        return check_utf8(self.binary(field), self.level, f"{self.what} {field}")

    def rest(self) -> bytes:
        data = self.data[self.pos : self.end]
        self.pos = self.end
        return data


def read_vbi(data: bytes, pos: int, end: int, level: int, field: str) -> tuple[int, int]:
    """Decode a Variable Byte Integer at `pos`; return (value, position after it).

    Raises ProtocolViolation if it runs past `end`, is longer than 4 bytes or is not in its
    minimum number of bytes.  (The fixed header's Remaining Length, which may still be
    arriving, is read by the decoder itself.)
    """
    value = 0
    shift = 0
    start = pos
    while True:
        if pos >= end:
            raise ProtocolViolation(
                f"{field}: Variable Byte Integer runs past the end of the packet",
                ids(level, "MQTT-4.8.0-1", "MQTT-4.13.1-1"),
                MALFORMED_PACKET,
                "2.2.3" if level < 5 else "1.5.5",
            )
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
        if pos - start == 4:
            raise ProtocolViolation(
                f"{field}: Variable Byte Integer longer than 4 bytes",
                ids(level, "MQTT-4.8.0-1", "MQTT-4.13.1-1"),
                MALFORMED_PACKET,
                "2.2.3" if level < 5 else "1.5.5",
            )
    if pos - start > 1 and byte == 0:
        raise ProtocolViolation(
            f"{field}: Variable Byte Integer not in its minimum number of bytes",
            ids(level, "MQTT-4.8.0-1", "MQTT-1.5.5-1"),
            MALFORMED_PACKET,
            "2.2.3" if level < 5 else "1.5.5",
        )
    return value, pos


def check_utf8(raw: bytes, level: int, field: str) -> str:
    """Well-formed UTF-8 without U+0000.  U+FEFF is kept, never stripped."""
    try:
        text = raw.decode("utf-8")  # strict: rejects surrogates, overlongs, > U+10FFFF
    except UnicodeDecodeError as exc:
        raise ProtocolViolation(
            f"{field}: ill-formed UTF-8 ({exc.reason} at byte {exc.start})",
            ids(level, "MQTT-1.5.3-1", "MQTT-1.5.4-1"),
            MALFORMED_PACKET,
        ) from None
    if "\x00" in text:
        raise ProtocolViolation(
            f"{field}: contains U+0000",
            ids(level, "MQTT-1.5.3-2", "MQTT-1.5.4-2"),
            MALFORMED_PACKET,
        )
    return text


# ---- writers ------------------------------------------------------------------------------

def vbi(value: int) -> bytes:
    if not 0 <= value <= VBI_MAX:
        raise EncodeError(f"Variable Byte Integer out of range: {value}")
    if value < 128:
        return bytes((value,))
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def u8(value: int) -> bytes:
    if not 0 <= value <= 0xFF:
        raise EncodeError(f"byte out of range: {value}")
    return bytes((value,))


def u16(value: int) -> bytes:
    if not 0 <= value <= 0xFFFF:
        raise EncodeError(f"two byte integer out of range: {value}")
    return value.to_bytes(2, "big")


def u32(value: int) -> bytes:
    if not 0 <= value <= 0xFFFF_FFFF:
        raise EncodeError(f"four byte integer out of range: {value}")
    return value.to_bytes(4, "big")


def binary(data: bytes) -> bytes:
    if len(data) > 0xFFFF:
        raise EncodeError(f"binary data longer than 65535 bytes: {len(data)}")
    return len(data).to_bytes(2, "big") + bytes(data)


def string(text: str) -> bytes:
    if "\x00" in text:
        raise EncodeError("UTF-8 string contains U+0000")
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        raise EncodeError("string contains a surrogate code point") from None
    return binary(raw)
