"""The spec's tables that the malformed rows are generated from, transcribed for the suite.

Strategy: written from the MQTT 5.0 text - Table 2-4 (each property's identifier, type and
the packets that may carry it), section 2.4 (every Reason Code value) and the per-packet
Reason Code tables (3.4.2.1, 3.5.2.1, 3.6.2.1, 3.7.2.1, 3.14.2.1, 3.15.2.1) - and kept apart
from mqttspec's own tables, so the suite and the codec cannot share a transcription mistake
(tests/conformance/test_malformed_table.py feeds every row to the codec as a cross-check).
Also the fixed-header flags every packet must carry (3.1.1 Table 2.2, 5.0 Table 2-3).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class PropKind(Enum):
    BYTE = 1
    U16 = 2
    U32 = 4
    VBI = "vbi"
    UTF8 = "utf8"
    BINARY = "binary"
    PAIR = "pair"


WILL = "WILL"  # the Will Properties of a CONNECT: a carrier of their own
ACKS = ("PUBACK", "PUBREC", "PUBREL", "PUBCOMP")
EVERY_CARRIER = ("CONNECT", "CONNACK", "PUBLISH", WILL, *ACKS, "SUBSCRIBE", "SUBACK",
                 "UNSUBSCRIBE", "UNSUBACK", "DISCONNECT", "AUTH")
# The carriers a client sends: the rows put properties in these.
CLIENT_CARRIERS = ("CONNECT", WILL, "PUBLISH", *ACKS, "SUBSCRIBE", "UNSUBSCRIBE", "DISCONNECT",
                   "AUTH")


@dataclass(frozen=True, slots=True)
class Prop:
    id: int
    name: str
    kind: PropKind
    carriers: tuple[str, ...]


_PROPS = (
    Prop(0x01, "Payload Format Indicator", PropKind.BYTE, ("PUBLISH", WILL)),
    Prop(0x02, "Message Expiry Interval", PropKind.U32, ("PUBLISH", WILL)),
    Prop(0x03, "Content Type", PropKind.UTF8, ("PUBLISH", WILL)),
    Prop(0x08, "Response Topic", PropKind.UTF8, ("PUBLISH", WILL)),
    Prop(0x09, "Correlation Data", PropKind.BINARY, ("PUBLISH", WILL)),
    Prop(0x0B, "Subscription Identifier", PropKind.VBI, ("PUBLISH", "SUBSCRIBE")),
    Prop(0x11, "Session Expiry Interval", PropKind.U32, ("CONNECT", "CONNACK", "DISCONNECT")),
    Prop(0x12, "Assigned Client Identifier", PropKind.UTF8, ("CONNACK",)),
    Prop(0x13, "Server Keep Alive", PropKind.U16, ("CONNACK",)),
    Prop(0x15, "Authentication Method", PropKind.UTF8, ("CONNECT", "CONNACK", "AUTH")),
    Prop(0x16, "Authentication Data", PropKind.BINARY, ("CONNECT", "CONNACK", "AUTH")),
    Prop(0x17, "Request Problem Information", PropKind.BYTE, ("CONNECT",)),
    Prop(0x18, "Will Delay Interval", PropKind.U32, (WILL,)),
    Prop(0x19, "Request Response Information", PropKind.BYTE, ("CONNECT",)),
    Prop(0x1A, "Response Information", PropKind.UTF8, ("CONNACK",)),
    Prop(0x1C, "Server Reference", PropKind.UTF8, ("CONNACK", "DISCONNECT")),
    Prop(0x1F, "Reason String", PropKind.UTF8,
         ("CONNACK", *ACKS, "SUBACK", "UNSUBACK", "DISCONNECT", "AUTH")),
    Prop(0x21, "Receive Maximum", PropKind.U16, ("CONNECT", "CONNACK")),
    Prop(0x22, "Topic Alias Maximum", PropKind.U16, ("CONNECT", "CONNACK")),
    Prop(0x23, "Topic Alias", PropKind.U16, ("PUBLISH",)),
    Prop(0x24, "Maximum QoS", PropKind.BYTE, ("CONNACK",)),
    Prop(0x25, "Retain Available", PropKind.BYTE, ("CONNACK",)),
    Prop(0x26, "User Property", PropKind.PAIR, EVERY_CARRIER),
    Prop(0x27, "Maximum Packet Size", PropKind.U32, ("CONNECT", "CONNACK")),
    Prop(0x28, "Wildcard Subscription Available", PropKind.BYTE, ("CONNACK",)),
    Prop(0x29, "Subscription Identifier Available", PropKind.BYTE, ("CONNACK",)),
    Prop(0x2A, "Shared Subscription Available", PropKind.BYTE, ("CONNACK",)),
)
PROPERTIES: dict[int, Prop] = {p.id: p for p in _PROPS}

# May appear more than once: User Property anywhere, Subscription Identifier only in a
# PUBLISH (3.8.2.1.2: more than one in a SUBSCRIBE is a Protocol Error).
REPEATABLE = {0x26: EVERY_CARRIER, 0x0B: ("PUBLISH",)}

# Identifiers Table 2-4 does not define (a sample: single-byte gaps, and 128 in two bytes).
UNKNOWN_PROPERTY_IDS = (0x00, 0x04, 0x2B, 0x7F, 0x80)

# Section 2.4: every Reason Code value the spec defines.
DEFINED_REASON_CODES = frozenset(
    {0x00, 0x01, 0x02, 0x04, 0x10, 0x11, 0x18, 0x19, *range(0x80, 0xA3)})
# Values section 2.4 leaves undefined (a sample).
UNDEFINED_REASON_CODES = (0x03, 0x20, 0x7F, 0xA3, 0xFE, 0xFF)

# The Reason Codes a client may put in each packet (the per-packet tables).
PUBACK_CODES = frozenset({0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99})
CLIENT_REASON_CODES: dict[str, frozenset[int]] = {
    "PUBACK": PUBACK_CODES,
    "PUBREC": PUBACK_CODES,  # Table 3-5 has the same values as Table 3-4
    "PUBREL": frozenset({0x00, 0x92}),
    "PUBCOMP": frozenset({0x00, 0x92}),
    # Table 3-10, the codes marked "Client" or "Client or Server"
    "DISCONNECT": frozenset({0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x90, 0x93, 0x94, 0x95,
                             0x96, 0x97, 0x98, 0x99}),
    # Table 3-13, the codes marked "Client" or "Client or Server"
    "AUTH": frozenset({0x18, 0x19}),
}
# The codes Tables 3-10 and 3-13 mark as sent by the server only.
DISCONNECT_SERVER_ONLY = frozenset({0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, *range(0x9A, 0xA3)})
AUTH_SERVER_ONLY = frozenset({0x00})

# Fixed-header flags (bits 3-0) each packet type must carry.
PACKET_TYPES = {"CONNECT": 1, "CONNACK": 2, "PUBLISH": 3, "PUBACK": 4, "PUBREC": 5,
                "PUBREL": 6, "PUBCOMP": 7, "SUBSCRIBE": 8, "SUBACK": 9, "UNSUBSCRIBE": 10,
                "UNSUBACK": 11, "PINGREQ": 12, "PINGRESP": 13, "DISCONNECT": 14, "AUTH": 15}
REQUIRED_FLAGS = {name: 0b0010 if name in ("PUBREL", "SUBSCRIBE", "UNSUBSCRIBE") else 0
                  for name in PACKET_TYPES if name != "PUBLISH"}
# MQTT 3.1 set DUP (bit 3) on a re-sent PUBREL, SUBSCRIBE or UNSUBSCRIBE.
DUP_ALLOWED_IN_3_1 = ("PUBREL", "SUBSCRIBE", "UNSUBSCRIBE")
