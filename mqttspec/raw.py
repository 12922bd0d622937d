"""Raw builder: write any packet, valid or not, field by field, for the suite and the fuzzer.

Strategy: nothing here checks anything.  Every field is written as asked: any first byte,
Remaining Length that lies or is not minimal or is five bytes long, string length prefixes
that lie, ill-formed UTF-8 (strings may be given as bytes), unknown, duplicate or forbidden
properties.  Malformed test inputs are built with this (or written as literal bytes), never
with the strict encoder, so the codec and the tests cannot share a mistake.
"""

from __future__ import annotations

from typing import Self

from mqttspec.properties import PROPERTIES, PropType

StrLike = str | bytes


def _b(text: StrLike) -> bytes:
    return text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)


def raw_vbi(value: int, width: int | None = None) -> bytes:
    """`value` as a Variable Byte Integer; `width` pads it with continuation bytes to that
    many bytes (non-minimal, or longer than the 4 the spec allows)."""
    if value < 0:
        raise ValueError("a Variable Byte Integer cannot be negative")
    out = bytearray()
    while True:
        out.append(value & 0x7F)
        value >>= 7
        if not value:
            break
    if width is not None:
        if width < len(out):
            raise ValueError(f"{width} bytes cannot hold this value")
        out.extend(b"\x00" * (width - len(out)))
    for i in range(len(out) - 1):
        out[i] |= 0x80
    return bytes(out)


def raw_string(text: StrLike, length: int | None = None) -> bytes:
    """A length-prefixed string or binary field; `length` overrides the true length."""
    data = _b(text)
    return (len(data) if length is None else length).to_bytes(2, "big") + data


class RawProperties:
    """Properties in the order added; `build()` gives the bytes without Property Length."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def add(self, pid: int, value: int | StrLike | tuple[StrLike, StrLike],
            ptype: PropType | None = None) -> Self:
        """Property `pid` with `value` in its table type (or `ptype` for unknown ids)."""
        kind = ptype or (PROPERTIES[pid].type if pid in PROPERTIES else None)
        if kind is None:
            raise ValueError(f"unknown property 0x{pid:02X}: give ptype, or use raw()")
        self._parts.append(raw_vbi(pid) + _value(kind, value))
        return self

    def raw(self, data: bytes) -> Self:
        self._parts.append(bytes(data))
        return self

    def build(self) -> bytes:
        return b"".join(self._parts)


def _value(kind: PropType, value: int | StrLike | tuple[StrLike, StrLike]) -> bytes:
    if kind is PropType.PAIR:
        assert isinstance(value, tuple)
        return raw_string(value[0]) + raw_string(value[1])
    if kind in (PropType.UTF8, PropType.BINARY):
        assert isinstance(value, str | bytes)
        return raw_string(value)
    assert isinstance(value, int)
    if kind is PropType.VBI:
        return raw_vbi(value)
    width = {PropType.BYTE: 1, PropType.U16: 2, PropType.U32: 4}[kind]
    return value.to_bytes(width, "big")


class RawPacket:
    """A packet assembled field by field: RawPacket(3, 0b0010).string("a").u16(1).build()."""

    def __init__(self, packet_type: int, flags: int = 0) -> None:
        self.first_byte = ((packet_type & 0x0F) << 4) | (flags & 0x0F)
        self._body = bytearray()

    def u8(self, value: int) -> Self:
        self._body += (value & 0xFF).to_bytes(1, "big")
        return self

    def u16(self, value: int) -> Self:
        self._body += (value & 0xFFFF).to_bytes(2, "big")
        return self

    def u32(self, value: int) -> Self:
        self._body += (value & 0xFFFF_FFFF).to_bytes(4, "big")
        return self

    def vbi(self, value: int, width: int | None = None) -> Self:
        self._body += raw_vbi(value, width)
        return self

    def string(self, text: StrLike, length: int | None = None) -> Self:
        self._body += raw_string(text, length)
        return self

    binary = string

    def properties(self, props: RawProperties | bytes | None = None,
                   length: int | None = None, length_width: int | None = None) -> Self:
        """Property Length then the properties; `length` may lie."""
        data = props.build() if isinstance(props, RawProperties) else bytes(props or b"")
        self._body += raw_vbi(len(data) if length is None else length, length_width)
        self._body += data
        return self

    def raw(self, data: bytes) -> Self:
        self._body += data
        return self

    @property
    def body(self) -> bytes:
        return bytes(self._body)

    def build(self, remaining_length: int | None = None,
              length_width: int | None = None, length_bytes: bytes | None = None) -> bytes:
        """The packet; `remaining_length` may lie, `length_width` pads it, `length_bytes`
        replaces the Remaining Length field with anything at all."""
        if length_bytes is None:
            declared = len(self._body) if remaining_length is None else remaining_length
            length_bytes = raw_vbi(declared, length_width)
        return bytes((self.first_byte,)) + length_bytes + bytes(self._body)
