"""`ProtocolViolation.protocol_level`: the level a refused packet was read under; for a refused
CONNECT the Protocol Level it declared, so a server can answer in the client's version."""

from __future__ import annotations

import pytest

from mqttspec import Decoder, ProtocolViolation


def refusal(hex_bytes: str, level: int | None = None, limit: int | None = None
            ) -> ProtocolViolation:
    decoder = Decoder(level, peer="client", max_packet_size=limit)
    decoder.feed(bytes.fromhex(hex_bytes))
    with pytest.raises(ProtocolViolation) as info:
        decoder.next_packet()
    return info.value


@pytest.mark.parametrize(("hex_bytes", "limit", "level"), [
    # CONNECT "MQTX" level 5: refused at the name, after the level byte was read
    ("10 0d 00 04 4d 51 54 58 05 02 00 00 00 00 00", None, 5),
    # CONNECT "MQTT" level 6: an unknown level is still reported as declared
    ("10 0d 00 04 4d 51 54 54 06 02 00 00 00 00 00", None, 6),
    # CONNECT "MQTT" level 5 whose reserved Connect Flag is set
    ("10 0d 00 04 4d 51 54 54 05 03 00 00 00 00 00", None, 5),
    # CONNECT with ill-formed UTF-8 in the name: the level byte was never reached
    ("10 0d 00 04 4d c3 28 54 05 02 00 00 00 00 00", None, None),
    # CONNECT declaring 257 bytes over a limit of 100: refused from its header; the name
    # and level that have arrived are read all the same ...
    ("10 ff 01 00 04 4d 51 54 54 05", 100, 5),
    # ... unless they have not arrived yet
    ("10 ff 01 00 04 4d 51", 100, None),
    # PUBLISH before any CONNECT: no level known
    ("30 02 00 00", None, None),
])
def test_refused_connect_declares_its_level(hex_bytes: str, limit: int | None,
                                            level: int | None) -> None:
    assert refusal(hex_bytes, limit=limit).protocol_level == level


def test_after_connect_the_decoders_level() -> None:
    # PUBLISH with QoS 3 on a decoder that reads MQTT 3.1.1
    assert refusal("36 03 00 01 61", level=4).protocol_level == 4
