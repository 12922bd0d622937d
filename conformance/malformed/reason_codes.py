"""MQTT 5 rows whose Reason Code the packet's table does not have.

Strategy: for each packet a client sends with a Reason Code (PUBACK, PUBREC, PUBREL, PUBCOMP,
DISCONNECT, AUTH), every value section 2.4 defines that the packet's own table does not
list, plus a sample of values no table defines, plus the codes its table gives to the server
only (DISCONNECT, AUTH).  Whether a server-only code from a client breaks MQTT-3.14.2-1 (which
asks for "one of the DISCONNECT Reason Code values") is a reading of the table; those rows
hold under either: a DISCONNECT with a code other than 0x00 leaves the Will to be published
(MQTT-3.1.2-8) whether or not the server calls it a Protocol Error, and every AUTH here is
out of place anyway (MQTT-4.12.0-7).  The acknowledgements take their short form (Packet
Identifier and Reason Code); a DISCONNECT is its Reason Code alone, watched by its Will.
"""

from __future__ import annotations

from collections.abc import Iterator

from conformance.malformed.rows import V5_ONLY, Builder, Malformation, Names, Row, make_row
from conformance.malformed.shapes import shape, state_of
from conformance.malformed.spec_tables import (
    ACKS,
    AUTH_SERVER_ONLY,
    CLIENT_REASON_CODES,
    DEFINED_REASON_CODES,
    DISCONNECT_SERVER_ONLY,
    UNDEFINED_REASON_CODES,
)

STATEMENT = {"PUBACK": "MQTT-3.4.2-1", "PUBREC": "MQTT-3.5.2-1", "PUBREL": "MQTT-3.6.2-1",
             "PUBCOMP": "MQTT-3.7.2-1", "DISCONNECT": "MQTT-3.14.2-1",
             "AUTH": "MQTT-3.15.2-1"}
SERVER_ONLY = {"DISCONNECT": DISCONNECT_SERVER_ONLY, "AUTH": AUTH_SERVER_ONLY}


def invalid_codes(packet: str) -> list[int]:
    """Every code a client may not put in this packet."""
    return sorted((DEFINED_REASON_CODES - CLIENT_REASON_CODES[packet])
                  | set(UNDEFINED_REASON_CODES))


def why(packet: str, code: int) -> str:
    if code not in DEFINED_REASON_CODES:
        return "no packet defines it"
    if code in SERVER_ONLY.get(packet, ()):
        return f"a {packet} code for the server only"
    return f"not a {packet} Reason Code"


def _with_code(packet: str, code: int) -> Builder:
    def build(level: int, names: Names) -> bytes:
        s = shape(packet, level, names)
        if packet != "AUTH":
            s = s.without("Properties")
        return s.with_field("Reason Code", bytes((code,))).build()
    return build


def rows() -> Iterator[Row]:
    for packet in (*ACKS, "DISCONNECT", "AUTH"):
        for code in invalid_codes(packet):
            yield make_row(f"{packet.lower()}.reason-code-0x{code:02x}",
                           f"{packet} with Reason Code 0x{code:02X} ({why(packet, code)})",
                           packet, Malformation.REASON_CODE, V5_ONLY, _with_code(packet, code),
                           v5=(STATEMENT[packet],), state=state_of(packet))
