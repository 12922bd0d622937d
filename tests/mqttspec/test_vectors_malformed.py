"""Hand-written malformed packets: which rule each breaks and what a v5 receiver answers.

Every row is literal bytes written from the OASIS specifications, one field per string with its
decoding next to it, never produced by the strict encoder.  A row names:
  the bytes, the protocol level they are read under (None: before CONNECT), the peer that sent
  them (None: no direction checks), the rule broken, and the MQTT 5 reason code.
The rule is a statement ID ("MQTT-x.y.z-n", which must be in `exc.statements`) or, where the spec
has no numbered statement for it, a section ("§x.y.z", which must be `exc.section`; "|" separates
sections that are equally right).  MQTT 3.1 has no numbered statements: level 3 carries the
3.1.1 ID of the equivalent rule.
"""

from __future__ import annotations

import pytest

from mqttspec import Decoder, ProtocolViolation, decode_packet

V31, V311, V5 = 3, 4, 5
MAL, PROTO, UNSUP, ALIAS, TOO_LARGE = 0x81, 0x82, 0x84, 0x94, 0x95
CLIENT, SERVER = "client", "server"


def hexb(*fields: str) -> bytes:
    return bytes.fromhex("".join(fields))


def bad(name: str, level: int | None, peer: str | None, rule: str, code: int, *fields: str):
    return pytest.param(hexb(*fields), level, peer, rule, code, id=name)


# ---------------------------------------------------------------------------------------------
# Reserved fixed-header flags (3.1.1 2.2.2 Table 2.2, 5.0 2.1.3 Table 2-3), every non-PUBLISH
# type at every level.  Each body after the bad first byte is an otherwise valid packet.
# ---------------------------------------------------------------------------------------------

_CONNECT_BODY = {
    V31: "0f 00 06 4d 51 49 73 64 70 03 02 00 3c 00 01 63",  # RL 15, "MQIsdp" 3, id "c"
    V311: "0c 00 04 4d 51 54 54 04 02 00 3c 00 00",           # RL 12, "MQTT" 4, id ""
    V5: "0d 00 04 4d 51 54 54 05 02 00 3c 00 00 00",          # RL 13, "MQTT" 5, props 0, id ""
}
_FLAG_CASES = [
    # (type, bad first byte: type nibble + wrong flags, specific statement, body per level)
    ("connect", "11", "", _CONNECT_BODY),                                  # flags 0001
    ("connack", "28", "", {V31: "02 00 00", V311: "02 00 00", V5: "03 00 00 00"}),  # 1000
    ("puback", "42", "", {lv: "02 00 01" for lv in (V31, V311, V5)}),      # 0010
    ("pubrec", "54", "", {lv: "02 00 01" for lv in (V31, V311, V5)}),      # 0100
    ("pubrel", "60", "MQTT-3.6.1-1", {lv: "02 00 01" for lv in (V31, V311, V5)}),  # 0000
    ("pubcomp", "71", "", {lv: "02 00 01" for lv in (V31, V311, V5)}),     # 0001
    ("subscribe", "80", "MQTT-3.8.1-1",                                    # 0000
     {V31: "06 00 01 00 01 61 00", V311: "06 00 01 00 01 61 00", V5: "07 00 01 00 00 01 61 00"}),
    ("suback", "9f", "",                                                   # 1111
     {V31: "03 00 01 00", V311: "03 00 01 00", V5: "04 00 01 00 00"}),
    ("unsubscribe", "a3", "MQTT-3.10.1-1",                                 # 0011
     {V31: "05 00 01 00 01 61", V311: "05 00 01 00 01 61", V5: "06 00 01 00 00 01 61"}),
    ("unsuback", "b2", "", {V31: "02 00 01", V311: "02 00 01", V5: "04 00 01 00 00"}),  # 0010
    ("pingreq", "c8", "", {lv: "00" for lv in (V31, V311, V5)}),           # 1000
    ("pingresp", "d1", "", {lv: "00" for lv in (V31, V311, V5)}),          # 0001
    ("disconnect", "e2", "MQTT-3.14.1-1", {lv: "00" for lv in (V31, V311, V5)}),  # 0010
    ("auth", "f1", "MQTT-3.15.1-1", {V5: "00"}),                           # 0001
]
TAG = {V31: "31", V311: "311", V5: "5"}
FLAG_ROWS = [
    bad(f"flags-{kind}-{TAG[level]}", level, None,
        specific or ("MQTT-2.1.3-1" if level == V5 else "MQTT-2.2.2-1"), MAL, first, body)
    for kind, first, specific, bodies in _FLAG_CASES
    for level, body in bodies.items()
] + [
    bad("flags-311-pubrel-dup", V311, None, "MQTT-3.6.1-1", MAL,
        "6a", "02 00 01"),           # PUBREL with DUP (1010): only 3.1 allowed that
    bad("flags-311-subscribe-dup", V311, None, "MQTT-3.8.1-1", MAL,
        "8a", "06 00 01 00 01 61 00"),  # SUBSCRIBE with DUP (1010)
    bad("flags-5-unsubscribe-dup", V5, None, "MQTT-3.10.1-1", MAL,
        "aa", "06 00 01 00 00 01 61"),  # UNSUBSCRIBE with DUP (1010)
    bad("flags-31-puback-dup", V31, None, "MQTT-2.2.2-1", MAL,
        "48", "02 00 01"),           # 3.1 PUBACK with DUP: DUP is for PUBREL/SUB/UNSUB only
    bad("flags-31-pubrel-qos2", V31, None, "MQTT-3.6.1-1", MAL,
        "64", "02 00 01"),           # 3.1 PUBREL with QoS 2 bits (0100): must be QoS 1
    bad("flags-31-subscribe-dup-qos3", V31, None, "MQTT-3.8.1-1", MAL,
        "8e", "06 00 01 00 01 61 00"),  # 3.1 SUBSCRIBE with DUP + QoS 3 (1110)
]

# ---------------------------------------------------------------------------------------------
# Fixed header: packet type, PUBLISH flags, Remaining Length
# ---------------------------------------------------------------------------------------------

HEADER_ROWS = [
    bad("type0-31", V31, None, "§2.2.1", MAL, "00 00"),   # type 0: reserved (Table 2.1)
    bad("type0-311", V311, None, "§2.2.1", MAL, "00 00"),  # type 0: reserved
    bad("type0-5", V5, None, "§2.1.2", MAL, "00 00"),      # type 0: reserved (Table 2-1)
    bad("type15-311", V311, None, "§2.2.1", MAL, "f0 00"),  # type 15 is reserved in 3.1.1
    bad("type15-31", V31, None, "§2.2.1", MAL, "f0 00"),    # and in 3.1
    bad("publish-qos3-31", V31, None, "MQTT-3.3.1-4", MAL,
        "36 05",                     # PUBLISH flags 0110: QoS 3
        "00 01 74",                  # Topic Name "t"
        "00 01"),                    # Packet Identifier 1
    bad("publish-qos3-311", V311, None, "MQTT-3.3.1-4", MAL,
        "36 05", "00 01 74", "00 01"),  # PUBLISH QoS 3, "t", id 1
    bad("publish-qos3-5", V5, None, "MQTT-3.3.1-4", MAL,
        "36 06", "00 01 74", "00 01", "00"),  # PUBLISH QoS 3, "t", id 1, props 0
    bad("publish-qos3-retain-dup-5", V5, None, "MQTT-3.3.1-4", MAL,
        "3f 06", "00 01 74", "00 01", "00"),  # PUBLISH flags 1111
    bad("publish-dup-qos0-311", V311, None, "MQTT-3.3.1-2", MAL,
        "38 03",                     # PUBLISH flags 1000: DUP at QoS 0
        "00 01 74"),                 # Topic Name "t"
    bad("publish-dup-qos0-5", V5, None, "MQTT-3.3.1-2", MAL,
        "38 04", "00 01 74", "00"),  # PUBLISH DUP at QoS 0, "t", props 0
    bad("rl-5-bytes-311", V311, None, "§2.2.3", MAL,
        "30",                        # PUBLISH QoS 0
        "80 80 80 80 01"),           # Remaining Length in 5 bytes (4 at most)
    bad("rl-5-bytes-5", V5, None, "§2.1.4|1.5.5", MAL,
        "30", "80 80 80 80 01"),     # Remaining Length in 5 bytes
    bad("rl-non-minimal-311", V311, None, "§2.2.3", MAL,
        "c0 80 00"),                 # PINGREQ, Remaining Length 0 written in 2 bytes
    bad("rl-non-minimal-5", V5, None, "MQTT-1.5.5-1", MAL,
        "c0 80 00"),                 # PINGREQ, Remaining Length 0 in 2 bytes
    bad("rl-non-minimal-3-bytes-311", V311, None, "§2.2.3", MAL,
        "30 83 80 00",               # PUBLISH, Remaining Length 3 in 3 bytes
        "00 01 74"),                 # Topic Name "t"
    bad("rl-non-minimal-31", V31, None, "§2.2.3", MAL,
        "d0 80 00"),                 # PINGRESP, Remaining Length 0 in 2 bytes
]

# ---------------------------------------------------------------------------------------------
# Remaining Length shorter than the fields (truncation) or longer (bytes left over)
# ---------------------------------------------------------------------------------------------

CONNECT311 = "00 04 4d 51 54 54 04"  # Protocol Name "MQTT", Protocol Level 4
CONNECT5 = "00 04 4d 51 54 54 05"    # Protocol Name "MQTT", Protocol Version 5

TRUNCATION_ROWS = [
    # CONNECT, 3.1.1: the Remaining Length stops inside each field in turn
    bad("trunc-connect-name-length", V311, None, "§2.2.3", MAL,
        "10 00"),                    # CONNECT, RL 0: no Protocol Name length
    bad("trunc-connect-name-length-half", V311, None, "§2.2.3", MAL,
        "10 01", "00"),              # RL 1: half the length
    bad("trunc-connect-name", V311, None, "§2.2.3", MAL,
        "10 04", "00 04 4d 51"),     # RL 4: "MQ" of a 4-byte name
    bad("trunc-connect-level", V311, None, "§2.2.3", MAL,
        "10 06", "00 04 4d 51 54 54"),  # RL 6: no Protocol Level
    bad("trunc-connect-flags", V311, None, "§2.2.3", MAL,
        "10 07", CONNECT311),        # RL 7: no Connect Flags
    bad("trunc-connect-keep-alive", V311, None, "§2.2.3", MAL,
        "10 09", CONNECT311, "02", "00"),  # RL 9: half the Keep Alive
    bad("trunc-connect-no-client-id", V311, None, "MQTT-3.1.3-3", MAL,
        "10 0a", CONNECT311, "02", "00 3c"),  # RL 10: no Client Identifier at all
    bad("trunc-connect-client-id-length", V311, None, "§2.2.3", MAL,
        "10 0b", CONNECT311, "02", "00 3c", "00"),  # RL 11: half its length
    bad("trunc-connect-client-id-lies", V311, None, "§2.2.3", MAL,
        "10 0d", CONNECT311, "02", "00 3c",
        "00 03 63"),                 # Client Identifier length 3, 1 byte there
    bad("trunc-connect-no-will", V311, None, "MQTT-3.1.2-9", MAL,
        "10 0d", CONNECT311, "06",   # Flags: Will Flag, Clean Session
        "00 3c", "00 01 63"),        # Keep Alive, Client Identifier "c"; no Will Topic
    bad("trunc-connect-will-topic", V311, None, "§2.2.3", MAL,
        "10 0f", CONNECT311, "06", "00 3c", "00 01 63",
        "00 03"),                    # Will Topic length 3, no bytes
    bad("trunc-connect-will-message", V311, None, "§2.2.3", MAL,
        "10 12", CONNECT311, "06", "00 3c", "00 01 63",
        "00 03 77 2f 74"),           # Will Topic "w/t"; no Will Message
    bad("trunc-connect-no-username", V311, None, "MQTT-3.1.2-19", MAL,
        "10 0d", CONNECT311, "82",   # Flags: User Name, Clean Session
        "00 3c", "00 01 63"),        # no User Name
    bad("trunc-connect-username", V311, None, "§2.2.3", MAL,
        "10 10", CONNECT311, "82", "00 3c", "00 01 63",
        "00 04 75"),                 # User Name length 4, 1 byte
    bad("trunc-connect-no-password", V311, None, "MQTT-3.1.2-21", MAL,
        "10 10", CONNECT311, "c2",   # Flags: User Name, Password, Clean Session
        "00 3c", "00 01 63", "00 01 75"),  # User Name "u"; no Password
    bad("trunc-connect-password", V311, None, "§2.2.3", MAL,
        "10 13", CONNECT311, "c2", "00 3c", "00 01 63", "00 01 75",
        "00 05 70"),                 # Password length 5, 1 byte
    # CONNECT, 5.0
    bad("trunc-connect5-properties", V5, None, "§2.1.4", MAL,
        "10 0d", CONNECT5, "02", "00 3c",
        "05",                        # Property Length 5 ...
        "11 00"),                    # ... but 2 bytes left
    bad("trunc-connect5-no-property-length", V5, None, "MQTT-2.2.2-1", MAL,
        "10 0a", CONNECT5, "02", "00 3c"),  # ends before the Property Length
    bad("trunc-connect5-will-properties", V5, None, "§2.1.4", MAL,
        "10 10", CONNECT5, "06", "00 3c", "00", "00 01 63",
        "04",                        # Will Property Length 4 ...
        "01"),                       # ... 1 byte left
    bad("trunc-connect5-will-topic", V5, None, "§2.1.4", MAL,
        "10 0f", CONNECT5, "06", "00 3c", "00", "00 01 63",
        "00"),                       # Will Property Length 0, then nothing
    # PUBLISH
    bad("trunc-publish-topic-length", V311, None, "§2.2.3", MAL,
        "30 00"),                    # PUBLISH, RL 0: no Topic Name
    bad("trunc-publish-topic-length-half", V311, None, "§2.2.3", MAL,
        "30 01", "00"),              # half a length
    bad("trunc-publish-topic-lies", V311, None, "§2.2.3", MAL,
        "30 03", "00 05 61"),        # Topic Name length 5, 1 byte
    bad("trunc-publish-packet-id", V311, None, "§2.2.3", MAL,
        "32 03", "00 01 74"),        # QoS 1, Topic "t", no Packet Identifier
    bad("trunc-publish-packet-id-half", V311, None, "§2.2.3", MAL,
        "32 04", "00 01 74", "00"),  # half a Packet Identifier
    bad("trunc-publish5-packet-id-half", V5, None, "§2.1.4", MAL,
        "34 04", "00 01 74", "00"),  # QoS 2, half a Packet Identifier
    bad("trunc-publish5-no-property-length", V5, None, "MQTT-2.2.2-1", MAL,
        "30 03", "00 01 74"),        # QoS 0, Topic "t", no Property Length
    bad("trunc-publish5-property-length-too-big", V5, None, "§2.1.4", MAL,
        "30 06", "00 01 74",
        "05",                        # Property Length 5 ...
        "01 01"),                    # ... only 2 bytes remain
    bad("trunc-publish5-property-value", V5, None, "§2.1.4", MAL,
        "30 06", "00 01 74",
        "02",                        # Property Length 2
        "02 00"),                    # Message Expiry Interval needs 4 bytes, 1 inside
    bad("trunc-publish5-user-property-value", V5, None, "§2.1.4", MAL,
        "30 09", "00 01 74",
        "05",                        # Property Length 5
        "26 00 01 6b 00"),           # User Property "k", value length cut
    # SUBSCRIBE / UNSUBSCRIBE
    bad("trunc-subscribe-packet-id", V311, None, "§2.2.3", MAL,
        "82 00"),                    # SUBSCRIBE, RL 0
    bad("trunc-subscribe-packet-id-half", V311, None, "§2.2.3", MAL,
        "82 01", "00"),
    bad("trunc-subscribe-filter", V311, None, "§2.2.3", MAL,
        "82 04", "00 01", "00 03"),  # Packet Id 1, Topic Filter length 3, no bytes
    bad("trunc-subscribe-options", V311, None, "§2.2.3", MAL,
        "82 05", "00 01", "00 01 61"),  # Topic Filter "a", no Requested QoS
    bad("trunc-subscribe-second-filter", V311, None, "§2.2.3", MAL,
        "82 07", "00 01", "00 01 61", "00",
        "00"),                       # half the length of a second Topic Filter
    bad("trunc-subscribe5-options", V5, None, "§2.1.4", MAL,
        "82 06", "00 01", "00", "00 01 61"),  # props 0, Filter "a", no Options
    bad("trunc-subscribe5-no-property-length", V5, None, "MQTT-2.2.2-1", MAL,
        "82 02", "00 01"),
    bad("trunc-unsubscribe-string-lies", V311, None, "§2.2.3", MAL,
        "a2 07", "00 01",
        "00 02 61 2f",               # Topic Filter length 2: "a/" ...
        "62"),                       # ... then "b" is read as half a length
    bad("trunc-unsubscribe5-no-property-length", V5, None, "MQTT-2.2.2-1", MAL,
        "a2 02", "00 01"),
    bad("trunc-subscribe-string-lies", V311, None, "MQTT-3.8.3-4", MAL,
        "82 08", "00 01",
        "00 02 61 2f",               # Topic Filter length 2: "a/" ...
        "62",                        # ... so "b" (0x62) is read as the Requested QoS byte,
                                     # whose reserved bits are set
        "01"),                       # (never reached)
    # the rest
    bad("trunc-connack-return-code", V311, None, "§2.2.3", MAL,
        "20 01", "00"),              # CONNACK, no Return Code
    bad("trunc-puback-packet-id", V311, None, "§2.2.3", MAL,
        "40 01", "00"),              # PUBACK, half a Packet Identifier
    bad("trunc-connack5-no-property-length", V5, None, "MQTT-2.2.2-1", MAL,
        "20 02", "00 00"),           # CONNACK 5.0 needs a Property Length
    bad("trunc-suback5-no-property-length", V5, None, "MQTT-2.2.2-1", MAL,
        "90 02", "00 01"),
    bad("trunc-unsuback5-no-property-length", V5, None, "MQTT-2.2.2-1", MAL,
        "b0 02", "00 01"),
    bad("trunc-disconnect5-properties", V5, None, "§2.1.4", MAL,
        "e0 03", "00", "05", "11"),  # Reason 0, Property Length 5, 1 byte
    bad("trunc-auth-properties", V5, None, "§2.1.4", MAL,
        "f0 03", "18", "07", "15"),  # Reason 0x18, Property Length 7, 1 byte
    # bytes left over after the last field
    bad("extra-pingreq-311", V311, None, "§2.2.3", MAL, "c0 01", "00"),  # PINGREQ, RL 1
    bad("extra-pingreq-5", V5, None, "§2.1.4", MAL, "c0 01", "00"),
    bad("extra-pingresp-31", V31, None, "§2.2.3", MAL, "d0 01", "00"),
    bad("extra-puback-311", V311, None, "§2.2.3", MAL,
        "40 03", "00 01", "00"),     # 3.1.1 PUBACK has no Reason Code
    bad("extra-pubrec-31", V31, None, "§2.2.3", MAL, "50 03", "00 01", "00"),
    bad("extra-pubrel-311", V311, None, "§2.2.3", MAL, "62 04", "00 01", "00 00"),
    bad("extra-pubcomp-311", V311, None, "§2.2.3", MAL, "70 03", "00 01", "00"),
    bad("extra-unsuback-311", V311, None, "§2.2.3", MAL,
        "b0 03", "00 01", "00"),     # 3.1.1 UNSUBACK has no payload
    bad("extra-disconnect-311", V311, None, "§2.2.3", MAL, "e0 01", "00"),
    bad("extra-connack-311", V311, None, "§2.2.3", MAL, "20 03", "00 00", "00"),
    bad("extra-connect-311", V311, None, "MQTT-3.1.4-1", MAL,
        "10 0d", CONNECT311, "02", "00 3c", "00 00",
        "ff"),                       # a byte no flag announced
    bad("extra-connect-5", V5, None, "MQTT-3.1.4-1", MAL,
        "10 0e", CONNECT5, "02", "00 3c", "00", "00 00", "ff"),
    bad("extra-puback-5", V5, None, "§2.1.4", MAL,
        "40 05", "00 01", "00", "00", "ff"),  # id, reason, props 0, stray byte
    bad("extra-disconnect-5", V5, None, "§2.1.4", MAL, "e0 03", "00", "00", "ff"),
    bad("extra-connack-5", V5, None, "§2.1.4", MAL, "20 04", "00 00", "00", "ff"),
]

# ---------------------------------------------------------------------------------------------
# Variable Byte Integers inside the packet (5.0 section 1.5.5)
# ---------------------------------------------------------------------------------------------

VBI_ROWS = [
    bad("vbi-property-length-non-minimal", V5, None, "MQTT-1.5.5-1", MAL,
        "40 05", "00 01", "00",
        "80 00"),                    # Property Length 0 written in 2 bytes
    bad("vbi-subscription-id-non-minimal", V5, None, "MQTT-1.5.5-1", MAL,
        "82 0a", "00 01",
        "03",                        # Property Length 3
        "0b 81 00",                  #   Subscription Identifier 1 written in 2 bytes
        "00 01 61", "00"),           # Topic Filter "a", QoS 0
    bad("vbi-property-id-non-minimal", V5, None, "MQTT-1.5.5-1", MAL,
        "30 0a", "00 01 74",
        "06",                        # Property Length 6
        "82 00",                     #   identifier 0x02 written in 2 bytes
        "00 00 00 01"),              #   (Message Expiry Interval 1)
    bad("vbi-property-length-5-bytes", V5, None, "§1.5.5", MAL,
        "40 08", "00 01", "00",
        "80 80 80 80 01"),           # Property Length in 5 bytes
]

# ---------------------------------------------------------------------------------------------
# UTF-8 strings (3.1.1 1.5.3, 5.0 1.5.4): ill-formed, or containing U+0000
# ---------------------------------------------------------------------------------------------

U311_BAD, U311_NUL = "MQTT-1.5.3-1", "MQTT-1.5.3-2"
U5_BAD, U5_NUL = "MQTT-1.5.4-1", "MQTT-1.5.4-2"

UTF8_ROWS = [
    # Topic Name, each malformation, 3.1.1 then 5.0
    bad("utf8-topic-lone-continuation-311", V311, None, U311_BAD, MAL,
        "30 04", "00 02 61 80"),     # "a" + 80 (continuation byte with no lead)
    bad("utf8-topic-overlong-311", V311, None, U311_BAD, MAL,
        "30 05", "00 03 61 c0 80"),  # "a" + c0 80 (overlong U+0000)
    bad("utf8-topic-surrogate-311", V311, None, U311_BAD, MAL,
        "30 06", "00 04 61 ed a0 80"),  # "a" + ed a0 80 (U+D800)
    bad("utf8-topic-above-10ffff-311", V311, None, U311_BAD, MAL,
        "30 07", "00 05 61 f4 90 80 80"),  # "a" + f4 90 80 80 (U+110000)
    bad("utf8-topic-truncated-311", V311, None, U311_BAD, MAL,
        "30 05", "00 03 61 e2 82"),  # "a" + e2 82 (3-byte sequence cut)
    bad("utf8-topic-ff-311", V311, None, U311_BAD, MAL,
        "30 04", "00 02 61 ff"),     # "a" + ff (never valid)
    bad("utf8-topic-nul-311", V311, None, U311_NUL, MAL,
        "30 05", "00 03 61 00 62"),  # "a" U+0000 "b"
    bad("utf8-topic-nul-31", V31, None, U311_NUL, MAL,
        "30 05", "00 03 61 00 62"),  # same under 3.1
    bad("utf8-topic-lone-continuation-5", V5, None, U5_BAD, MAL,
        "30 05", "00 02 61 80", "00"),
    bad("utf8-topic-overlong-5", V5, None, U5_BAD, MAL,
        "30 06", "00 03 61 c0 80", "00"),
    bad("utf8-topic-surrogate-5", V5, None, U5_BAD, MAL,
        "30 07", "00 04 61 ed a0 80", "00"),
    bad("utf8-topic-above-10ffff-5", V5, None, U5_BAD, MAL,
        "30 08", "00 05 61 f4 90 80 80", "00"),
    bad("utf8-topic-truncated-5", V5, None, U5_BAD, MAL,
        "30 06", "00 03 61 e2 82", "00"),
    bad("utf8-topic-truncated-mid-5", V5, None, U5_BAD, MAL,
        "30 06", "00 03 e2 82 61", "00"),  # e2 82 then "a": sequence cut mid-string
    bad("utf8-topic-nul-5", V5, None, U5_NUL, MAL,
        "30 06", "00 03 61 00 62", "00"),
    # Topic Filters
    bad("utf8-subscribe-filter-surrogate-311", V311, None, U311_BAD, MAL,
        "82 09", "00 01", "00 04 61 ed a0 80", "00"),  # filter "a" + U+D800
    bad("utf8-subscribe-filter-nul-311", V311, None, U311_NUL, MAL,
        "82 07", "00 01", "00 02 61 00", "00"),  # filter "a" U+0000
    bad("utf8-subscribe-filter-overlong-5", V5, None, U5_BAD, MAL,
        "82 08", "00 01", "00", "00 02 c0 80", "00"),
    bad("utf8-subscribe-filter-nul-5", V5, None, U5_NUL, MAL,
        "82 08", "00 01", "00", "00 02 61 00", "01"),
    bad("utf8-unsubscribe-filter-continuation-311", V311, None, U311_BAD, MAL,
        "a2 05", "00 01", "00 01 80"),
    bad("utf8-unsubscribe-filter-nul-5", V5, None, U5_NUL, MAL,
        "a2 06", "00 01", "00", "00 01 00"),
    bad("utf8-unsubscribe-filter-above-10ffff-5", V5, None, U5_BAD, MAL,
        "a2 09", "00 01", "00", "00 04 f4 90 80 80"),
    # CONNECT fields
    bad("utf8-client-id-surrogate-311", V311, None, U311_BAD, MAL,
        "10 0f", CONNECT311, "02", "00 3c", "00 03 ed a0 80"),
    bad("utf8-client-id-nul-311", V311, None, U311_NUL, MAL,
        "10 0e", CONNECT311, "02", "00 3c", "00 02 63 00"),
    bad("utf8-client-id-nul-31", V31, None, U311_NUL, MAL,
        "10 10", "00 06 4d 51 49 73 64 70 03", "02", "00 3c", "00 02 63 00"),
    bad("utf8-client-id-truncated-5", V5, None, U5_BAD, MAL,
        "10 0f", CONNECT5, "02", "00 3c", "00", "00 02 e2 82"),
    bad("utf8-client-id-nul-5", V5, None, U5_NUL, MAL,
        "10 0e", CONNECT5, "02", "00 3c", "00", "00 01 00"),
    bad("utf8-username-overlong-311", V311, None, U311_BAD, MAL,
        "10 12", CONNECT311, "82", "00 3c", "00 01 63",
        "00 03 e0 80 80"),           # User Name: overlong 3-byte U+0000
    bad("utf8-username-nul-311", V311, None, U311_NUL, MAL,
        "10 11", CONNECT311, "82", "00 3c", "00 01 63", "00 02 75 00"),
    bad("utf8-username-nul-5", V5, None, U5_NUL, MAL,
        "10 12", CONNECT5, "82", "00 3c", "00", "00 01 63", "00 02 75 00"),
    bad("utf8-will-topic-continuation-311", V311, None, U311_BAD, MAL,
        "10 13", CONNECT311, "06", "00 3c", "00 01 63",
        "00 02 77 80",               # Will Topic "w" + 80
        "00 00"),                    # Will Message ""
    bad("utf8-will-topic-nul-311", V311, None, U311_NUL, MAL,
        "10 13", CONNECT311, "06", "00 3c", "00 01 63", "00 02 77 00", "00 00"),
    bad("utf8-will-topic-nul-5", V5, None, U5_NUL, MAL,
        "10 14", CONNECT5, "06", "00 3c", "00", "00 01 63",
        "00",                        # Will Property Length 0
        "00 01 00",                  # Will Topic U+0000
        "00 00"),                    # Will Payload ""
    bad("utf8-will-topic-surrogate-5", V5, None, U5_BAD, MAL,
        "10 16", CONNECT5, "06", "00 3c", "00", "00 01 63", "00",
        "00 03 ed bf bf", "00 00"),  # Will Topic U+DFFF
    bad("utf8-protocol-name-311", V311, None, U311_BAD, MAL,
        "10 0c", "00 04 4d 51 54 ff", "04", "02", "00 3c", "00 00"),  # "MQT" + ff
    # properties (5.0)
    bad("utf8-user-property-name-nul", V5, None, U5_NUL, MAL,
        "30 0b", "00 01 74", "07",
        "26 00 01 00 00 01 76"),     # User Property (U+0000, "v")
    bad("utf8-user-property-value-surrogate", V5, None, U5_BAD, MAL,
        "30 0d", "00 01 74", "09",
        "26 00 01 6b 00 03 ed a0 80"),  # User Property ("k", U+D800)
    bad("utf8-user-property-value-nul-subscribe", V5, None, U5_NUL, MAL,
        "82 0e", "00 01", "07",
        "26 00 01 6b 00 01 00",      # User Property ("k", U+0000)
        "00 01 61", "00"),           # Topic Filter "a", QoS 0
    bad("utf8-user-property-name-connect", V5, None, U5_BAD, MAL,
        "10 13", CONNECT5, "02", "00 3c", "06",
        "26 00 01 80 00 00",         # User Property (80, "")
        "00 00"),                    # Client Identifier ""
    bad("utf8-content-type-nul", V5, None, U5_NUL, MAL,
        "30 09", "00 01 74", "05",
        "03 00 02 61 00"),           # Content Type "a" U+0000
    bad("utf8-will-content-type-overlong", V5, None, U5_BAD, MAL,
        "10 19", CONNECT5, "06", "00 3c", "00", "00 01 63",
        "05",                        # Will Property Length 5
        "03 00 02 c1 bf",            #   Content Type c1 bf (overlong "?")
        "00 01 74", "00 00"),        # Will Topic "t", Will Payload ""
    bad("utf8-response-topic-ff", V5, None, U5_BAD, MAL,
        "30 08", "00 01 74", "04", "08 00 01 ff"),  # Response Topic ff
    bad("utf8-reason-string-continuation", V5, None, U5_BAD, MAL,
        "40 08", "00 01", "80", "04", "1f 00 01 80"),  # PUBACK Reason String 80
    bad("utf8-reason-string-nul-disconnect", V5, None, U5_NUL, MAL,
        "e0 07", "00", "05", "1f 00 02 6f 00"),  # DISCONNECT Reason String "o" U+0000
    bad("utf8-auth-method-nul", V5, None, U5_NUL, MAL,
        "f0 06", "18", "04", "15 00 01 00"),  # AUTH Authentication Method U+0000
    bad("utf8-assigned-client-id-truncated", V5, None, U5_BAD, MAL,
        "20 07", "00 00", "04", "12 00 01 c3"),  # CONNACK Assigned Client Id c3 (cut)
    bad("utf8-server-reference-nul", V5, SERVER, U5_NUL, MAL,
        "e0 06", "9c", "04", "1c 00 01 00"),  # DISCONNECT Server Reference U+0000
    bad("utf8-response-information-surrogate", V5, None, U5_BAD, MAL,
        "20 09", "00 00", "06", "1a 00 03 ed b0 80"),  # CONNACK Response Information U+DC00
]

# ---------------------------------------------------------------------------------------------
# CONNECT (3.1.2, 3.1.3)
# ---------------------------------------------------------------------------------------------

CONNECT_ROWS = [
    bad("connect-protocol-name-wrong-311", None, CLIENT, "MQTT-3.1.2-1", UNSUP,
        "10 0c", "00 04 4d 51 54 58",  # Protocol Name "MQTX"
        "04 02 00 3c 00 00"),        # Level 4, Clean Session, Keep Alive 60, id ""
    bad("connect-protocol-name-lowercase-5", None, CLIENT, "MQTT-3.1.2-1", UNSUP,
        "10 0d", "00 04 6d 71 74 74",  # Protocol Name "mqtt"
        "05 02 00 3c 00 00 00"),     # Version 5, Clean Start, 60, props 0, id ""
    bad("connect-protocol-level-6", None, CLIENT, "MQTT-3.1.2-2", UNSUP,
        "10 0d", "00 04 4d 51 54 54", "06",  # "MQTT", level 6: unknown
        "02 00 3c 00 00 00"),
    bad("connect-protocol-level-0", None, CLIENT, "MQTT-3.1.2-2", UNSUP,
        "10 0c", "00 04 4d 51 54 54", "00", "02 00 3c 00 00"),  # "MQTT", level 0
    bad("connect-mqtt-name-with-level-3", None, CLIENT, "MQTT-3.1.2-2", UNSUP,
        "10 0c", "00 04 4d 51 54 54", "03",  # "MQTT" + 3: 3.1 is named "MQIsdp"
        "02 00 3c 00 00"),
    bad("connect-mqisdp-name-with-level-4", None, CLIENT, "MQTT-3.1.2-2", UNSUP,
        "10 0e", "00 06 4d 51 49 73 64 70", "04",  # "MQIsdp" + 4 (codec's choice of ID)
        "02 00 3c 00 00"),
    bad("connect-reserved-flag-311", V311, None, "MQTT-3.1.2-3", MAL,
        "10 0c", CONNECT311, "03",   # Connect Flags 0000 0011: reserved bit 0 set
        "00 3c", "00 00"),
    bad("connect-reserved-flag-5", V5, None, "MQTT-3.1.2-3", MAL,
        "10 0d", CONNECT5, "03", "00 3c", "00", "00 00"),
    bad("connect-reserved-flag-31", V31, None, "MQTT-3.1.2-3", MAL,
        "10 0f", "00 06 4d 51 49 73 64 70 03", "03", "00 3c", "00 01 63"),
    bad("connect-will-qos3-311", V311, None, "MQTT-3.1.2-14", MAL,
        "10 11", CONNECT311, "1e",   # Flags 0001 1110: Will QoS 3, Will Flag, Clean Session
        "00 3c", "00 00", "00 01 74", "00 00"),  # id "", Will Topic "t", Will Message ""
    bad("connect-will-qos3-5", V5, None, "MQTT-3.1.2-12", MAL,
        "10 13", CONNECT5, "1e", "00 3c", "00", "00 00",
        "00", "00 01 74", "00 00"),  # Will props 0, Will Topic "t", Will Payload ""
    bad("connect-will-qos-without-will-311", V311, None, "MQTT-3.1.2-13", MAL,
        "10 0c", CONNECT311, "0a",   # Flags 0000 1010: Will QoS 1, no Will Flag
        "00 3c", "00 00"),
    bad("connect-will-qos-without-will-5", V5, None, "MQTT-3.1.2-11", MAL,
        "10 0d", CONNECT5, "0a", "00 3c", "00", "00 00"),
    bad("connect-will-retain-without-will-311", V311, None, "MQTT-3.1.2-15", MAL,
        "10 0c", CONNECT311, "22",   # Flags 0010 0010: Will Retain, no Will Flag
        "00 3c", "00 00"),
    bad("connect-will-retain-without-will-5", V5, None, "MQTT-3.1.2-13", MAL,
        "10 0d", CONNECT5, "22", "00 3c", "00", "00 00"),
    bad("connect-password-without-username-311", V311, None, "MQTT-3.1.2-22", MAL,
        "10 0f", CONNECT311, "42",   # Flags 0100 0010: Password, no User Name
        "00 3c", "00 00", "00 01 70"),  # id "", Password "p"
    bad("connect-username-flag-no-username-311", V311, None, "MQTT-3.1.2-19", MAL,
        "10 0c", CONNECT311, "82", "00 3c", "00 00"),  # User Name Flag, nothing after id
    bad("connect-username-flag-no-username-5", V5, None, "MQTT-3.1.2-17", MAL,
        "10 0e", CONNECT5, "82", "00 3c", "00", "00 01 63"),
    bad("connect-password-flag-no-password-5", V5, None, "MQTT-3.1.2-19", MAL,
        "10 0e", CONNECT5, "42", "00 3c", "00", "00 01 63"),
    bad("connect-will-flag-no-will-5", V5, None, "MQTT-3.1.2-9", MAL,
        "10 0e", CONNECT5, "06", "00 3c", "00", "00 01 63"),
    bad("connect-will-topic-wildcard-311", V311, None, "MQTT-4.7.1-1", MAL,
        "10 14", CONNECT311, "06", "00 3c", "00 01 63",
        "00 03 77 2f 23",            # Will Topic "w/#"
        "00 00"),
    bad("connect-will-topic-empty-311", V311, None, "MQTT-4.7.3-1", MAL,
        "10 11", CONNECT311, "06", "00 3c", "00 01 63", "00 00", "00 00"),
    bad("connect-will-topic-wildcard-5", V5, None, "MQTT-4.7.0-1", MAL,
        "10 14", CONNECT5, "06", "00 3c", "00", "00 01 63", "00",
        "00 01 2b",                  # Will Topic "+"
        "00 00"),
]

# ---------------------------------------------------------------------------------------------
# Packet Identifier 0 (3.1.1 2.3.1, 5.0 2.2.1)
# ---------------------------------------------------------------------------------------------

PACKET_ID_ROWS = [
    bad("id0-publish-qos1-311", V311, None, "MQTT-2.3.1-1", PROTO,
        "32 05", "00 01 74", "00 00"),  # QoS 1, "t", Packet Identifier 0
    bad("id0-publish-qos2-5-client", V5, CLIENT, "MQTT-2.2.1-3", PROTO,
        "34 06", "00 01 74", "00 00", "00"),
    bad("id0-publish-qos1-5-server", V5, SERVER, "MQTT-2.2.1-4", PROTO,
        "32 06", "00 01 74", "00 00", "00"),
    bad("id0-subscribe-311", V311, None, "MQTT-2.3.1-1", PROTO,
        "82 06", "00 00", "00 01 61", "00"),
    bad("id0-subscribe-5", V5, None, "MQTT-2.2.1-3", PROTO,
        "82 07", "00 00", "00", "00 01 61", "00"),
    bad("id0-unsubscribe-311", V311, None, "MQTT-2.3.1-1", PROTO,
        "a2 05", "00 00", "00 01 61"),
    bad("id0-unsubscribe-5", V5, None, "MQTT-2.2.1-3", PROTO,
        "a2 06", "00 00", "00", "00 01 61"),
    bad("id0-puback-311", V311, None, "MQTT-2.3.1-6", PROTO, "40 02", "00 00"),
    bad("id0-puback-5", V5, None, "MQTT-2.2.1-5", PROTO, "40 02", "00 00"),
    bad("id0-pubrec-311", V311, None, "MQTT-2.3.1-6", PROTO, "50 02", "00 00"),
    bad("id0-pubrel-31", V31, None, "MQTT-2.3.1-6", PROTO, "62 02", "00 00"),
    bad("id0-pubcomp-311", V311, None, "§2.3.1", PROTO, "70 02", "00 00"),
    bad("id0-pubcomp-5", V5, None, "MQTT-2.2.1-5", PROTO, "70 02", "00 00"),
    bad("id0-suback-311", V311, None, "MQTT-2.3.1-7", PROTO, "90 03", "00 00", "00"),
    bad("id0-unsuback-5", V5, None, "MQTT-2.2.1-6", PROTO, "b0 04", "00 00", "00", "00"),
]

# ---------------------------------------------------------------------------------------------
# SUBSCRIBE / UNSUBSCRIBE payloads, Topic Names and Topic Filters
# ---------------------------------------------------------------------------------------------

SHARE_G_A = "00 0a 24 73 68 61 72 65 2f 67 2f 61"  # Topic Filter "$share/g/a"

TOPIC_ROWS = [
    bad("subscribe-no-filter-311", V311, None, "MQTT-3.8.3-3", PROTO,
        "82 02", "00 01"),           # Packet Identifier 1, empty payload
    bad("subscribe-no-filter-5", V5, None, "MQTT-3.8.3-2", PROTO,
        "82 03", "00 01", "00"),
    bad("unsubscribe-no-filter-311", V311, None, "MQTT-3.10.3-2", PROTO,
        "a2 02", "00 01"),
    bad("unsubscribe-no-filter-5", V5, None, "MQTT-3.10.3-2", PROTO,
        "a2 03", "00 01", "00"),
    bad("subscribe-reserved-bit2-311", V311, None, "MQTT-3.8.3-4", MAL,
        "82 06", "00 01", "00 01 61", "04"),  # Requested QoS byte 0000 0100
    bad("subscribe-reserved-bit7-311", V311, None, "MQTT-3.8.3-4", MAL,
        "82 06", "00 01", "00 01 61", "80"),  # 1000 0000
    bad("subscribe-qos3-311", V311, None, "MQTT-3.8.3-4", MAL,
        "82 06", "00 01", "00 01 61", "03"),  # Requested QoS 3
    bad("subscribe-qos3-31", V31, None, "MQTT-3.8.3-4", MAL,
        "82 06", "00 01", "00 01 61", "03"),
    bad("subscribe-reserved-bit6-5", V5, None, "MQTT-3.8.3-5", MAL,
        "82 07", "00 01", "00", "00 01 61", "40"),  # Options 0100 0000
    bad("subscribe-reserved-bit7-5", V5, None, "MQTT-3.8.3-5", MAL,
        "82 07", "00 01", "00", "00 01 61", "81"),  # Options 1000 0001
    bad("subscribe-qos3-5", V5, None, "§3.8.3.1", PROTO,
        "82 07", "00 01", "00", "00 01 61", "03"),  # Maximum QoS 3
    bad("subscribe-retain-handling3-5", V5, None, "§3.8.3.1", PROTO,
        "82 07", "00 01", "00", "00 01 61", "30"),  # Retain Handling 3
    bad("subscribe-no-local-shared-5", V5, None, "MQTT-3.8.3-4", PROTO,
        "82 10", "00 01", "00", SHARE_G_A,
        "04"),                       # No Local on "$share/g/a"
    bad("share-empty-name", V5, None, "MQTT-4.8.2-1", PROTO,
        "82 0f", "00 01", "00",
        "00 09 24 73 68 61 72 65 2f 2f 61",  # "$share//a": empty ShareName
        "00"),
    bad("share-no-filter", V5, None, "MQTT-4.8.2-2", PROTO,
        "82 0e", "00 01", "00",
        "00 08 24 73 68 61 72 65 2f 67",  # "$share/g": no "/" and filter after the name
        "00"),
    bad("share-wildcard-in-name", V5, None, "MQTT-4.8.2-2", PROTO,
        "82 11", "00 01", "00",
        "00 0b 24 73 68 61 72 65 2f 67 2b 2f 61",  # "$share/g+/a"
        "00"),
    bad("share-empty-filter", V5, None, "MQTT-4.8.2-2", PROTO,
        "82 0f", "00 01", "00",
        "00 09 24 73 68 61 72 65 2f 67 2f",  # "$share/g/": nothing after the "/"
        "00"),
    bad("share-hash-name", V5, None, "MQTT-4.8.2-2", PROTO,
        "82 10", "00 01", "00",
        "00 0a 24 73 68 61 72 65 2f 23 2f 61",  # "$share/#/a"
        "00"),
    bad("share-bad-inner-filter", V5, None, "MQTT-4.7.1-1", MAL,
        "82 14", "00 01", "00",
        "00 0e 24 73 68 61 72 65 2f 67 2f 61 2f 23 2f 62",  # "$share/g/a/#/b"
        "00"),
    bad("share-empty-name-unsubscribe", V5, None, "MQTT-4.8.2-1", PROTO,
        "a2 0e", "00 01", "00", "00 09 24 73 68 61 72 65 2f 2f 61"),  # "$share//a"
    # wildcards in a Topic Name
    bad("topic-name-plus-311", V311, None, "MQTT-3.3.2-2", MAL,
        "30 05", "00 03 61 2f 2b"),  # Topic Name "a/+"
    bad("topic-name-hash-311", V311, None, "MQTT-4.7.1-1", MAL,
        "30 03", "00 01 23"),        # Topic Name "#"
    bad("topic-name-plus-5", V5, None, "MQTT-3.3.2-2", MAL,
        "30 06", "00 03 61 2f 2b", "00"),
    bad("topic-name-hash-5", V5, None, "MQTT-4.7.0-1", MAL,
        "30 04", "00 01 23", "00"),
    bad("topic-name-plus-inside-level-5", V5, None, "MQTT-3.3.2-2", MAL,
        "32 08", "00 03 61 2b 62", "00 01", "00"),  # QoS 1, Topic Name "a+b"
    bad("topic-name-plus-31", V31, None, "MQTT-3.3.2-2", MAL,
        "30 03", "00 01 2b"),
    bad("topic-name-wildcard-with-alias-5", V5, None, "MQTT-3.3.2-2", MAL,
        "30 07", "00 01 23", "03", "23 00 01"),  # "#" with a Topic Alias: still invalid
    # malformed Topic Filters
    bad("filter-hash-not-last-311", V311, None, "MQTT-4.7.1-2", MAL,
        "82 0a", "00 01", "00 05 61 2f 23 2f 62", "00"),  # "a/#/b"
    bad("filter-hash-in-level-311", V311, None, "MQTT-4.7.1-2", MAL,
        "82 09", "00 01", "00 04 61 2f 62 23", "00"),  # "a/b#"
    bad("filter-plus-in-level-311", V311, None, "MQTT-4.7.1-3", MAL,
        "82 09", "00 01", "00 04 61 2b 2f 62", "00"),  # "a+/b"
    bad("filter-empty-311", V311, None, "MQTT-4.7.3-1", MAL,
        "82 05", "00 01", "00 00", "00"),  # ""
    bad("filter-second-bad-311", V311, None, "MQTT-4.7.1-2", MAL,
        "82 0c", "00 01", "00 01 61", "00",
        "00 03 23 2f 61", "00"),     # "a" fine, then "#/a"
    bad("filter-hash-not-last-31", V31, None, "MQTT-4.7.1-2", MAL,
        "82 0a", "00 01", "00 05 61 2f 23 2f 62", "00"),
    bad("filter-hash-not-last-5", V5, None, "MQTT-4.7.1-1", MAL,
        "82 0b", "00 01", "00", "00 05 61 2f 23 2f 62", "00"),
    bad("filter-hash-in-level-5", V5, None, "MQTT-4.7.1-1", MAL,
        "82 0a", "00 01", "00", "00 04 61 2f 62 23", "00"),
    bad("filter-plus-in-level-5", V5, None, "MQTT-4.7.1-2", MAL,
        "82 0a", "00 01", "00", "00 04 61 2b 2f 62", "00"),
    bad("filter-empty-5", V5, None, "MQTT-4.7.3-1", MAL,
        "82 06", "00 01", "00", "00 00", "00"),
    bad("unsubscribe-filter-hash-not-last-311", V311, None, "MQTT-4.7.1-2", MAL,
        "a2 09", "00 01", "00 05 61 2f 23 2f 62"),
    bad("unsubscribe-filter-plus-in-level-5", V5, None, "MQTT-4.7.1-2", MAL,
        "a2 09", "00 01", "00", "00 04 61 2b 2f 62"),
    bad("unsubscribe-filter-empty-5", V5, None, "MQTT-4.7.3-1", MAL,
        "a2 05", "00 01", "00", "00 00"),
    # empty Topic Name
    bad("topic-name-empty-311", V311, None, "MQTT-4.7.3-1", MAL,
        "30 02", "00 00"),
    bad("topic-name-empty-31", V31, None, "MQTT-4.7.3-1", MAL,
        "30 02", "00 00"),
    bad("topic-name-empty-no-alias-5", V5, None, "MQTT-4.7.3-1", PROTO,
        "30 03", "00 00", "00"),     # 3.3.2.3.4: Protocol Error without a Topic Alias
    bad("topic-name-empty-other-props-5", V5, None, "MQTT-4.7.3-1", PROTO,
        "30 05", "00 00", "02", "01 01"),  # only a Payload Format Indicator
]

# ---------------------------------------------------------------------------------------------
# Properties (5.0 section 2.2.2 and the per-packet property sections)
# ---------------------------------------------------------------------------------------------

PROPERTY_ROWS = [
    bad("prop-unknown-05-publish", V5, None, "§2.2.2.2", MAL,
        "30 06", "00 01 74", "02", "05 00"),  # identifier 0x05 does not exist
    bad("prop-unknown-00-puback", V5, None, "§2.2.2.2", MAL,
        "40 06", "00 01", "00", "02", "00 00"),  # identifier 0x00
    bad("prop-unknown-7f-connect", V5, None, "§2.2.2.2", MAL,
        "10 0f", CONNECT5, "02", "00 3c", "02", "7f 00", "00 00"),
    bad("prop-topic-alias-in-connect", V5, None, "§2.2.2.2", MAL,
        "10 10", CONNECT5, "02", "00 3c", "03", "23 00 01", "00 00"),
    bad("prop-will-delay-in-publish", V5, None, "§2.2.2.2", MAL,
        "30 09", "00 01 74", "05", "18 00 00 00 05"),
    bad("prop-session-expiry-in-publish", V5, None, "§2.2.2.2", MAL,
        "30 09", "00 01 74", "05", "11 00 00 00 05"),
    bad("prop-will-delay-in-connect", V5, None, "§2.2.2.2", MAL,
        "10 12", CONNECT5, "02", "00 3c", "05", "18 00 00 00 05", "00 00"),
    bad("prop-session-expiry-in-will", V5, None, "§2.2.2.2", MAL,
        "10 19", CONNECT5, "06", "00 3c", "00", "00 01 63",
        "05", "11 00 00 00 05",      # Will Properties: Session Expiry Interval
        "00 01 74", "00 00"),
    bad("prop-reason-string-in-publish", V5, None, "§2.2.2.2", MAL,
        "30 08", "00 01 74", "04", "1f 00 01 78"),
    bad("prop-subscription-id-in-puback", V5, None, "§2.2.2.2", MAL,
        "40 06", "00 01", "00", "02", "0b 01"),
    bad("prop-topic-alias-in-subscribe", V5, None, "§2.2.2.2", MAL,
        "82 0a", "00 01", "03", "23 00 01", "00 01 61", "00"),
    bad("prop-server-keep-alive-in-connect", V5, None, "§2.2.2.2", MAL,
        "10 10", CONNECT5, "02", "00 3c", "03", "13 00 0a", "00 00"),
    bad("prop-auth-method-in-disconnect", V5, None, "§2.2.2.2", MAL,
        "e0 07", "00", "05", "15 00 02 6d 31"),
    bad("prop-payload-format-in-connect", V5, None, "§2.2.2.2", MAL,
        "10 0f", CONNECT5, "02", "00 3c", "02", "01 01", "00 00"),
    bad("prop-maximum-qos-in-connect", V5, None, "§2.2.2.2", MAL,
        "10 0f", CONNECT5, "02", "00 3c", "02", "24 01", "00 00"),
    bad("prop-request-problem-info-in-connack", V5, None, "§2.2.2.2", MAL,
        "20 05", "00 00", "02", "17 01"),
    # duplicates: a Protocol Error (User Property may repeat: see the valid vectors)
    bad("dup-message-expiry", V5, None, "§2.2.2.2", PROTO,
        "30 0e", "00 01 74", "0a", "02 00 00 00 01", "02 00 00 00 02"),
    bad("dup-topic-alias", V5, None, "§2.2.2.2", PROTO,
        "30 0a", "00 01 74", "06", "23 00 01", "23 00 02"),
    bad("dup-receive-maximum", V5, None, "§2.2.2.2", PROTO,
        "10 13", CONNECT5, "02", "00 3c", "06", "21 00 0a", "21 00 0b", "00 00"),
    bad("dup-maximum-qos", V5, None, "§2.2.2.2", PROTO,
        "20 07", "00 00", "04", "24 00", "24 01"),
    bad("dup-auth-method", V5, None, "§2.2.2.2", PROTO,
        "f0 0c", "18", "0a", "15 00 02 6d 31", "15 00 02 6d 32"),
    bad("dup-will-content-type", V5, None, "§2.2.2.2", PROTO,
        "10 1c", CONNECT5, "06", "00 3c", "00", "00 01 63",
        "08", "03 00 01 61", "03 00 01 62",  # two Content Types in the Will Properties
        "00 01 74", "00 00"),
    bad("dup-subscription-id-in-subscribe", V5, None, "§2.2.2.2", PROTO,
        "82 0b", "00 01", "04", "0b 01", "0b 02", "00 01 61", "00"),
    bad("dup-reason-string-disconnect", V5, None, "§2.2.2.2", PROTO,
        "e0 0a", "00", "08", "1f 00 01 61", "1f 00 01 62"),
    bad("dup-reason-string-puback", V5, None, "§2.2.2.2", PROTO,
        "40 0c", "00 01", "80", "08", "1f 00 01 61", "1f 00 01 62"),
    # values the spec forbids
    bad("topic-alias-0", V5, None, "MQTT-3.3.2-8", ALIAS,
        "30 07", "00 01 74", "03", "23 00 00"),
    bad("topic-alias-0-empty-topic", V5, None, "MQTT-3.3.2-8", ALIAS,
        "30 06", "00 00", "03", "23 00 00"),
    bad("receive-maximum-0-connect", V5, None, "§2.2.2.2", PROTO,
        "10 10", CONNECT5, "02", "00 3c", "03", "21 00 00", "00 00"),
    bad("receive-maximum-0-connack", V5, None, "§2.2.2.2", PROTO,
        "20 06", "00 00", "03", "21 00 00"),
    bad("maximum-packet-size-0-connect", V5, None, "§2.2.2.2", PROTO,
        "10 12", CONNECT5, "02", "00 3c", "05", "27 00 00 00 00", "00 00"),
    bad("maximum-packet-size-0-connack", V5, None, "§2.2.2.2", PROTO,
        "20 08", "00 00", "05", "27 00 00 00 00"),
    bad("payload-format-2-publish", V5, None, "§2.2.2.2", PROTO,
        "30 06", "00 01 74", "02", "01 02"),
    bad("payload-format-2-will", V5, None, "§2.2.2.2", PROTO,
        "10 16", CONNECT5, "06", "00 3c", "00", "00 01 63", "02", "01 02",
        "00 01 74", "00 00"),
    bad("subscription-id-0-subscribe", V5, None, "§2.2.2.2", PROTO,
        "82 09", "00 01", "02", "0b 00", "00 01 61", "00"),
    bad("subscription-id-0-publish", V5, SERVER, "§2.2.2.2", PROTO,
        "30 06", "00 01 74", "02", "0b 00"),
    bad("auth-data-without-method-connect", V5, None, "§3.1.2.11.10", PROTO,
        "10 11", CONNECT5, "02", "00 3c", "04", "16 00 01 01", "00 00"),
    bad("auth-data-without-method-connack", V5, None, "§3.1.2.11.10|3.2.2.3.18", PROTO,
        "20 07", "00 00", "04", "16 00 01 01"),
    bad("auth-data-without-method-auth", V5, None, "§3.15.2.2.3|3.15.2.2.2", PROTO,
        "f0 06", "18", "04", "16 00 01 01"),
    bad("request-problem-information-2", V5, None, "§2.2.2.2", PROTO,
        "10 0f", CONNECT5, "02", "00 3c", "02", "17 02", "00 00"),
    bad("request-response-information-2", V5, None, "§2.2.2.2", PROTO,
        "10 0f", CONNECT5, "02", "00 3c", "02", "19 02", "00 00"),
    bad("maximum-qos-2", V5, None, "§2.2.2.2", PROTO,
        "20 05", "00 00", "02", "24 02"),
    bad("retain-available-2", V5, None, "§2.2.2.2", PROTO,
        "20 05", "00 00", "02", "25 02"),
    bad("wildcard-subscription-available-2", V5, None, "§2.2.2.2", PROTO,
        "20 05", "00 00", "02", "28 02"),
    bad("subscription-identifier-available-5", V5, None, "§2.2.2.2", PROTO,
        "20 05", "00 00", "02", "29 05"),
    bad("shared-subscription-available-ff", V5, None, "§2.2.2.2", PROTO,
        "20 05", "00 00", "02", "2a ff"),
    bad("response-topic-wildcard", V5, None, "MQTT-3.3.2-14", PROTO,
        "30 0a", "00 01 74", "06", "08 00 03 61 2f 23"),  # Response Topic "a/#"
]

# ---------------------------------------------------------------------------------------------
# Reason codes and return codes
# ---------------------------------------------------------------------------------------------

REASON_ROWS = [
    bad("reason-puback-01", V5, None, "MQTT-3.4.2-1", PROTO, "40 03", "00 01", "01"),
    bad("reason-puback-92", V5, None, "MQTT-3.4.2-1", PROTO, "40 03", "00 01", "92"),
    bad("reason-pubrec-92", V5, None, "MQTT-3.5.2-1", PROTO, "50 03", "00 01", "92"),
    bad("reason-pubrel-10", V5, None, "MQTT-3.6.2-1", PROTO, "62 03", "00 01", "10"),
    bad("reason-pubcomp-80", V5, None, "MQTT-3.7.2-1", PROTO, "70 03", "00 01", "80"),
    bad("reason-suback-03-5", V5, None, "MQTT-3.9.3-2", PROTO,
        "90 04", "00 01", "00", "03"),
    bad("reason-suback-11-5", V5, None, "MQTT-3.9.3-2", PROTO,
        "90 05", "00 01", "00", "00 11"),  # 0x11 is an UNSUBACK code
    bad("return-suback-03-311", V311, None, "MQTT-3.9.3-2", PROTO, "90 03", "00 01", "03"),
    bad("return-suback-81-311", V311, None, "MQTT-3.9.3-2", PROTO, "90 03", "00 01", "81"),
    bad("return-suback-80-31", V31, None, "MQTT-3.9.3-2", PROTO,
        "90 03", "00 01", "80"),     # 3.1 had no failure code (0x80 is 3.1.1)
    bad("reason-unsuback-01-5", V5, None, "MQTT-3.11.3-2", PROTO,
        "b0 04", "00 01", "00", "01"),
    bad("reason-disconnect-01", V5, None, "MQTT-3.14.2-1", PROTO, "e0 01", "01"),
    bad("reason-disconnect-92", V5, None, "MQTT-3.14.2-1", PROTO, "e0 01", "92"),
    bad("reason-auth-01", V5, None, "MQTT-3.15.2-1", PROTO,
        "f0 07", "01", "05", "15 00 02 6d 31"),
    bad("reason-connack-01-5", V5, None, "MQTT-3.2.2-8", PROTO, "20 03", "00 01", "00"),
    bad("reason-connack-8e-5", V5, None, "MQTT-3.2.2-8", PROTO,
        "20 03", "00 8e", "00"),     # 0x8E Session taken over is DISCONNECT only
    bad("return-connack-06-311", V311, None, "§3.2.2.3", PROTO, "20 02", "00 06"),
    bad("return-connack-80-31", V31, None, "§3.2.2.3", PROTO, "20 02", "00 80"),
    bad("connack-session-present-refused-311", V311, None, "MQTT-3.2.2-4", PROTO,
        "20 02", "01", "05"),        # Session Present 1 with Return Code 5
    bad("connack-session-present-refused-5", V5, None, "MQTT-3.2.2-6", PROTO,
        "20 03", "01", "80", "00"),  # Session Present 1 with 0x80
    bad("connack-reserved-flags-311", V311, None, "§3.2.2.1", MAL,
        "20 02", "02", "00"),        # Acknowledge Flags 0000 0010
    bad("connack-reserved-flags-5", V5, None, "MQTT-3.2.2-1", MAL,
        "20 03", "80", "00", "00"),  # Acknowledge Flags 1000 0000
    bad("suback-no-return-codes-311", V311, None, "MQTT-3.8.4-5", MAL, "90 02", "00 01"),
    bad("suback-no-reason-codes-5", V5, None, "MQTT-3.8.4-6", MAL, "90 03", "00 01", "00"),
    bad("unsuback-no-reason-codes-5", V5, None, "MQTT-3.11.3-1", MAL,
        "b0 03", "00 01", "00"),
    bad("auth-without-method", V5, None, "MQTT-4.12.0-5", PROTO,
        "f0 02", "18", "00"),        # 0x18 with no Authentication Method
    bad("auth-rl1-no-method", V5, None, "MQTT-4.12.0-5", PROTO,
        "f0 01", "18"),              # no Property Length either: AUTH has no RL-1 form
]

# ---------------------------------------------------------------------------------------------
# Who may send what; packets before CONNECT
# ---------------------------------------------------------------------------------------------

DIRECTION_ROWS = [
    bad("client-sends-connack-311", V311, CLIENT, "§2.2.1", PROTO, "20 02", "00 00"),
    bad("client-sends-pingresp-311", V311, CLIENT, "§2.2.1", PROTO, "d0 00"),
    bad("client-sends-suback-5", V5, CLIENT, "§2.1.2", PROTO, "90 04", "00 01", "00", "00"),
    bad("client-sends-unsuback-5", V5, CLIENT, "§2.1.2", PROTO,
        "b0 04", "00 01", "00", "00"),
    bad("client-sends-pingresp-5", V5, CLIENT, "§2.1.2", PROTO, "d0 00"),
    bad("server-sends-connect-311", V311, SERVER, "§2.2.1", PROTO,
        "10 0c", CONNECT311, "02", "00 3c", "00 00"),
    bad("server-sends-subscribe-5", V5, SERVER, "§2.1.2", PROTO,
        "82 07", "00 01", "00", "00 01 61", "00"),
    bad("server-sends-pingreq-5", V5, SERVER, "§2.1.2", PROTO, "c0 00"),
    bad("server-sends-unsubscribe-31", V31, SERVER, "§2.2.1", PROTO,
        "a2 05", "00 01", "00 01 61"),
    bad("server-sends-disconnect-311", V311, SERVER, "§2.2.1", PROTO,
        "e0 00"),                    # 3.1.1 DISCONNECT is client to server only
    bad("server-sends-disconnect-31", V31, SERVER, "§2.2.1", PROTO, "e0 00"),
    bad("client-publish-subscription-id", V5, CLIENT, "MQTT-3.3.4-6", PROTO,
        "30 06", "00 01 74", "02", "0b 01"),  # Subscription Identifier 1 from a client
    bad("server-disconnect-session-expiry", V5, SERVER, "MQTT-3.14.2-2", PROTO,
        "e0 07", "00", "05", "11 00 00 00 0a"),
    bad("server-disconnect-04", V5, SERVER, "MQTT-3.14.2-1", PROTO,
        "e0 01", "04"),              # 0x04 Disconnect with Will Message: client only
    bad("client-disconnect-8b", V5, CLIENT, "MQTT-3.14.2-1", PROTO,
        "e0 01", "8b"),              # 0x8B Server shutting down: server only
    bad("client-disconnect-9c", V5, CLIENT, "MQTT-3.14.2-1", PROTO,
        "e0 01", "9c"),              # 0x9C Use another server: server only
    bad("server-auth-19", V5, SERVER, "MQTT-3.15.2-1", PROTO,
        "f0 07", "19", "05", "15 00 02 6d 31"),  # 0x19 Re-authenticate: client only
    bad("client-auth-00", V5, CLIENT, "MQTT-3.15.2-1", PROTO,
        "f0 07", "00", "05", "15 00 02 6d 31"),  # 0x00 Success: server only
    bad("client-auth-short-form", V5, CLIENT, "MQTT-3.15.2-1", PROTO,
        "f0 00"),                    # RL 0 means Reason Code 0x00 Success: server only
    bad("before-connect-publish", None, CLIENT, "MQTT-3.1.0-1", PROTO,
        "30 03", "00 01 74"),
    bad("before-connect-pingreq", None, CLIENT, "MQTT-3.1.0-1", PROTO, "c0 00"),
    bad("before-connect-subscribe", None, None, "MQTT-3.1.0-1", PROTO,
        "82 06", "00 01", "00 01 61", "00"),
    bad("before-connect-auth", None, CLIENT, "MQTT-3.1.0-1", PROTO, "f0 00"),
    bad("before-connect-disconnect", None, CLIENT, "MQTT-3.1.0-1", PROTO, "e0 00"),
]

ROWS = (FLAG_ROWS + HEADER_ROWS + TRUNCATION_ROWS + VBI_ROWS + UTF8_ROWS + CONNECT_ROWS
        + PACKET_ID_ROWS + TOPIC_ROWS + PROPERTY_ROWS + REASON_ROWS + DIRECTION_ROWS)


def _check(exc: ProtocolViolation, rule: str, code: int) -> None:
    if rule.startswith("MQTT-"):
        assert rule in exc.statements, repr(exc)
    else:
        assert rule.startswith("§")
        assert exc.section in rule[1:].split("|"), repr(exc)
    assert exc.reason_code == code, repr(exc)


@pytest.mark.parametrize(("data", "level", "peer", "rule", "code"), ROWS)
def test_malformed(data: bytes, level: int | None, peer: str | None, rule: str,
                   code: int) -> None:
    with pytest.raises(ProtocolViolation) as info:
        decode_packet(data, level, peer)
    _check(info.value, rule, code)


@pytest.mark.parametrize(("data", "level", "peer", "rule", "code"), ROWS)
def test_malformed_byte_at_a_time(data: bytes, level: int | None, peer: str | None, rule: str,
                                  code: int) -> None:
    decoder = Decoder(level, peer)
    with pytest.raises(ProtocolViolation) as info:
        for i in range(len(data)):
            decoder.feed(data[i : i + 1])
            list(decoder)
    _check(info.value, rule, code)


def test_enough_rows() -> None:
    assert len(ROWS) >= 150
    assert len({p.id for p in ROWS}) == len(ROWS)


# ---------------------------------------------------------------------------------------------
# Decoder state: maximum packet size, failing for good
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("level", "peer", "statement"),
    [(V5, CLIENT, "MQTT-3.2.2-15"), (V5, SERVER, "MQTT-3.1.2-24"), (V311, CLIENT, "")],
)
def test_max_packet_size_refused_after_the_fixed_header(
    level: int, peer: str, statement: str
) -> None:
    decoder = Decoder(level, peer, max_packet_size=1024)
    decoder.feed(hexb("30"))         # PUBLISH QoS 0 ...
    assert decoder.next_packet() is None
    decoder.feed(hexb("ff ff ff"))   # ... Remaining Length still incomplete
    assert decoder.next_packet() is None
    decoder.feed(hexb("7f"))         # Remaining Length 268,435,455: no body sent at all
    with pytest.raises(ProtocolViolation) as info:
        decoder.next_packet()
    assert info.value.reason_code == TOO_LARGE
    if statement:
        assert statement in info.value.statements
    assert decoder.buffered <= 5


def test_max_packet_size_counts_the_whole_packet() -> None:
    ok = hexb("30 08", "00 01 74", "00", "68 65 6c 6c")  # 10 bytes: PUBLISH "t", "hell"
    decoder = Decoder(V5, CLIENT, max_packet_size=10)
    decoder.feed(ok)
    assert decoder.next_packet() is not None
    decoder.feed(hexb("30 09", "00 01 74", "00", "68 65 6c 6c 6f"))  # 11 bytes
    with pytest.raises(ProtocolViolation) as info:
        decoder.next_packet()
    assert info.value.reason_code == TOO_LARGE


def test_five_byte_remaining_length_refused_before_the_fifth_byte() -> None:
    decoder = Decoder(V311)
    decoder.feed(hexb("30 80 80 80 80"))  # four continuation bytes: a fifth would be needed
    with pytest.raises(ProtocolViolation) as info:
        decoder.next_packet()
    assert info.value.reason_code == MAL


def test_failed_decoder_keeps_raising_the_same_error() -> None:
    decoder = Decoder(V311, CLIENT)
    decoder.feed(hexb("c0 00"))      # PINGREQ: fine
    decoder.feed(hexb("36 03 00 01 74"))  # PUBLISH QoS 3
    decoder.feed(hexb("c0 00"))      # PINGREQ after it: must never be returned
    assert decoder.next_packet() is not None
    with pytest.raises(ProtocolViolation) as first:
        decoder.next_packet()
    assert "MQTT-3.3.1-4" in first.value.statements
    decoder.feed(hexb("c0 00"))
    for _ in range(3):
        with pytest.raises(ProtocolViolation) as again:
            decoder.next_packet()
        assert again.value is first.value
    with pytest.raises(ProtocolViolation) as iterated:
        list(decoder)
    assert iterated.value is first.value


def test_failed_decoder_after_max_packet_size_keeps_raising() -> None:
    decoder = Decoder(V5, SERVER, max_packet_size=100)
    decoder.feed(hexb("30 ff 7f"))   # PUBLISH, Remaining Length 16,383
    with pytest.raises(ProtocolViolation) as first:
        decoder.next_packet()
    decoder.feed(b"x" * 16_383)
    with pytest.raises(ProtocolViolation) as again:
        decoder.next_packet()
    assert again.value is first.value
