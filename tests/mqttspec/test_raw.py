"""The raw builder writes exactly what it is asked, valid or not; checked against bytes
written by hand."""

from __future__ import annotations

import pytest

from mqttspec import RawPacket, RawProperties, raw_string, raw_vbi
from mqttspec.properties import PropType


@pytest.mark.parametrize(
    ("value", "width", "expected"),
    [
        (0, None, "00"),
        (127, None, "7f"),
        (128, None, "8001"),
        (16_383, None, "ff7f"),
        (16_384, None, "808001"),
        (268_435_455, None, "ffffff7f"),
        (268_435_456, None, "8080808001"),  # beyond the 4-byte maximum, on purpose
        (0, 2, "8000"),  # non-minimal
        (5, 5, "8580808000"),  # five bytes
    ],
)
def test_raw_vbi(value: int, width: int | None, expected: str) -> None:
    assert raw_vbi(value, width).hex() == expected


def test_raw_vbi_rejects_impossible_requests() -> None:
    with pytest.raises(ValueError):
        raw_vbi(-1)
    with pytest.raises(ValueError):
        raw_vbi(300, 1)


def test_strings_may_lie_and_be_ill_formed() -> None:
    assert raw_string("ab").hex() == "00026162"
    assert raw_string(b"\xc0\x80", length=9).hex() == "0009c080"
    assert raw_string("\ud800").hex() == "0003eda080"  # a lone surrogate, encoded anyway


def test_packet_with_lying_lengths() -> None:
    publish = RawPacket(3, 0b0110).string("a").u16(0)  # QoS 3, packet id 0
    assert publish.build().hex() == "36050001610000"
    assert publish.build(remaining_length=200).hex() == "36c8010001610000"
    assert publish.build(length_width=3).hex() == "3685800000016100" + "00"
    assert publish.build(length_bytes=b"\xff\xff\xff\xff\xff").hex().startswith("36ffffffffff")


def test_properties_any_order_duplicates_unknown() -> None:
    props = (RawProperties().add(0x23, 0).add(0x23, 1).add(0x26, ("k", b"\x00"))
             .add(0x7F, 5, PropType.BYTE).raw(b"\x01"))
    assert props.build().hex() == "230000" "230001" "2600016b000100" "7f05" "01"
    with pytest.raises(ValueError):
        RawProperties().add(0x7F, 5)
    packet = RawPacket(14).u8(0).properties(props, length=2).build()
    assert packet[:4].hex() == "e0" "12" "00" "02"  # 18 = 1 + 1 + 16 bytes of properties
    assert RawPacket(14).u8(0).properties(None, length_width=2).build().hex() == "e003008000"
