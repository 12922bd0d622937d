"""Rows that break the fixed header: reserved flags, PUBLISH QoS / DUP, Remaining Length,
reserved packet types.

Strategy: for every packet type a client sends, every flag value but the one the flags table
requires (3.1.1 Table 2.2, 5.0 Table 2-3) - MQTT 3.1 allowed DUP on a re-sent PUBREL,
SUBSCRIBE and UNSUBSCRIBE, so those values are not rows at level 3; PUBLISH with QoS 3 and
with DUP at QoS 0; the Remaining Length in five bytes (four at most: 3.1.1 section 2.2.3,
5.0 section 1.5.5) and, under 5.0 only, in more bytes than needed (MQTT-1.5.5-1; 3.1.1 has
no such statement); packet types 0 and 15 (15 is AUTH from 5.0 on).  The rest of each packet
is the well-formed shape from shapes.py.
"""

from __future__ import annotations

from collections.abc import Iterator

from conformance.malformed.rows import (
    ALL_LEVELS,
    V3_LEVELS,
    Builder,
    Malformation,
    Names,
    Row,
    make_row,
)
from conformance.malformed.shapes import (
    SERVER_ONLY_PACKETS,
    levels_of,
    publish,
    publish_qos0,
    shape,
    state_of,
)
from conformance.malformed.spec_tables import DUP_ALLOWED_IN_3_1, REQUIRED_FLAGS
from mqttspec.raw import raw_vbi

FLAGS_V3 = ("MQTT-2.2.2-1", "MQTT-2.2.2-2")
FLAGS_V5 = ("MQTT-2.1.3-1",)
# The packets whose own section repeats the flags rule (3.1.1 / 5.0).
SPECIFIC_FLAGS_V3 = {"PUBREL": "MQTT-3.6.1-1", "SUBSCRIBE": "MQTT-3.8.1-1",
                     "UNSUBSCRIBE": "MQTT-3.10.1-1", "DISCONNECT": "MQTT-3.14.1-1"}
SPECIFIC_FLAGS_V5 = {**SPECIFIC_FLAGS_V3, "AUTH": "MQTT-3.15.1-1"}
MALFORMED_PACKET = 0x81


def _flagged(packet: str, flags: int) -> Builder:
    def build(level: int, names: Names) -> bytes:
        return shape(packet, level, names).with_flags(flags).build()
    return build


def reserved_flag_rows() -> Iterator[Row]:
    for packet, required in REQUIRED_FLAGS.items():
        if packet in SERVER_ONLY_PACKETS:
            continue  # sent by a client they are wrong anyway (state.py)
        for flags in range(16):
            if flags == required:
                continue
            dup_of_3_1 = packet in DUP_ALLOWED_IN_3_1 and flags == required | 0b1000
            levels = [lv for lv in levels_of(packet) if not (lv == 3 and dup_of_3_1)]
            specific3 = (SPECIFIC_FLAGS_V3[packet],) if packet in SPECIFIC_FLAGS_V3 else ()
            specific5 = (SPECIFIC_FLAGS_V5[packet],) if packet in SPECIFIC_FLAGS_V5 else ()
            yield make_row(
                f"{packet.lower()}.reserved-flags-{flags:04b}",
                f"{packet} with fixed-header flags {flags:04b} (the table requires "
                f"{required:04b})", packet, Malformation.RESERVED_FLAGS, levels,
                _flagged(packet, flags), v3=(*FLAGS_V3, *specific3),
                v5=(*FLAGS_V5, *specific5), state=state_of(packet),
                # MQTT-3.14.1-1 (5.0): the DISCONNECT that answers it carries 0x81
                codes_v5=(MALFORMED_PACKET,) if packet == "DISCONNECT" else None)


def _publish_flags(flags: int) -> Builder:
    def build(level: int, names: Names) -> bytes:
        body = publish(level, names) if flags & 0b0110 else publish_qos0(level, names)
        return body.with_flags(flags).build()
    return build


def publish_flag_rows() -> Iterator[Row]:
    for flags in (0b0110, 0b0111, 0b1110, 0b1111):  # both QoS bits set
        yield make_row(f"publish.qos-3-flags-{flags:04b}",
                       f"PUBLISH with QoS 3 (flags {flags:04b})", "PUBLISH",
                       Malformation.PUBLISH_FLAGS, ALL_LEVELS, _publish_flags(flags),
                       v3=("MQTT-3.3.1-4",), v5=("MQTT-3.3.1-4",))
    for flags in (0b1000, 0b1001):  # DUP at QoS 0
        yield make_row(f"publish.dup-at-qos-0-flags-{flags:04b}",
                       f"PUBLISH at QoS 0 with DUP set (flags {flags:04b})", "PUBLISH",
                       Malformation.PUBLISH_FLAGS, ALL_LEVELS, _publish_flags(flags),
                       v3=("MQTT-3.3.1-2",), v5=("MQTT-3.3.1-2",))


def _length_bytes(packet: str, width: int | None = None, extra: int = 0) -> Builder:
    """The Remaining Length in `width` bytes, or in `extra` bytes more than needed."""
    def build(level: int, names: Names) -> bytes:
        s = shape(packet, level, names)
        needed = len(raw_vbi(len(s.body())))
        return s.build(length_width=width or needed + extra)
    return build


def remaining_length_rows() -> Iterator[Row]:
    for packet in REQUIRED_FLAGS:
        if packet in SERVER_ONLY_PACKETS:
            continue
        name = packet.lower()
        state = state_of(packet)
        yield make_row(f"{name}.remaining-length-5-bytes",
                       f"{packet} whose Remaining Length takes 5 bytes (4 at most)", packet,
                       Malformation.BAD_VBI, levels_of(packet),
                       _length_bytes(packet, width=5), state=state)
        # 5.0 only: 3.1.1 describes the encoding but states no rule on its length
        yield make_row(f"{name}.remaining-length-one-byte-too-many",
                       f"{packet} whose Remaining Length takes one byte more than needed",
                       packet, Malformation.BAD_VBI, (5,),
                       _length_bytes(packet, extra=1), v5=("MQTT-1.5.5-1",), state=state)
        yield make_row(f"{name}.remaining-length-padded-to-4-bytes",
                       f"{packet} whose Remaining Length is padded to 4 bytes", packet,
                       Malformation.BAD_VBI, (5,), _length_bytes(packet, width=4),
                       v5=("MQTT-1.5.5-1",), state=state)


def _literal(data: bytes) -> Builder:
    def build(level: int, names: Names) -> bytes:
        return data
    return build


def reserved_type_rows() -> Iterator[Row]:
    """Packet types the spec reserves (3.1.1 Table 2.1, 5.0 Table 2-1), after CONNECT."""
    yield make_row("reserved-type-0.after-connect", "a packet of the reserved type 0",
                   "RESERVED-0", Malformation.RESERVED_TYPE, ALL_LEVELS,
                   _literal(b"\x00\x00"))
    yield make_row("reserved-type-0.with-flags-and-body",
                   "a packet of the reserved type 0 with flags 1111 and a body",
                   "RESERVED-0", Malformation.RESERVED_TYPE, ALL_LEVELS,
                   _literal(b"\x0f\x02\x00\x01"))
    yield make_row("reserved-type-15.after-connect",
                   "a packet of type 15, reserved before MQTT 5 (AUTH from 5.0 on)",
                   "RESERVED-15", Malformation.RESERVED_TYPE, V3_LEVELS,
                   _literal(b"\xf0\x00"))


def rows() -> Iterator[Row]:
    yield from reserved_flag_rows()
    yield from publish_flag_rows()
    yield from remaining_length_rows()
    yield from reserved_type_rows()
