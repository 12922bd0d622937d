"""Rows with a CONNECT that breaks a rule of its own: flags, Protocol Name / Level, Client ID.

Strategy: each sent as the first packet on a new connection.  Connect Flags: the reserved
bit (MQTT-3.1.2-3), Will QoS / Will Retain without the Will Flag, Will QoS 3, a Password
Flag without User Name Flag (3.x only: 5.0 allows it), and fields present that no flag
announces.  Protocol Name: altered forms, accepted with or without a CONNACK refusal (the
server may answer as another protocol would, MQTT-3.1.2-1).  Protocol Level: values no
version uses - 3.1.1 requires CONNACK 0x01 (MQTT-3.1.2-2), 5.0 allows a CONNACK 0x84.
Client Identifier rules with a required return code: 0x02 for an empty one without Clean
Session (3.1.1, MQTT-3.1.3-8) and for one outside 1-23 characters (3.1, MQTT-3.1.3-9 in the
3.1.1 numbering).
"""

from __future__ import annotations

from collections.abc import Iterator

from conformance.malformed.rows import (
    ALL_LEVELS,
    V3_LEVELS,
    Builder,
    Expect,
    Malformation,
    Names,
    Row,
    State,
    make_row,
)
from conformance.malformed.shapes import PROTOCOL_NAME, Kind, connect, plain_connect
from mqttspec.raw import raw_string

WILL_FIELDS = ("Will Properties", "Will Topic", "Will Payload")
CREDENTIALS = ("User Name", "Password")
IDENTIFIER_REJECTED = 0x02
UNACCEPTABLE_PROTOCOL_VERSION = 0x01


def _flags(flags: int, drop: tuple[str, ...] = (), add: tuple[str, ...] = ()) -> Builder:
    """The full CONNECT with these Connect Flags, without the fields `drop`, with the
    fields `add` appended (a User Name "user", a Password, a Will Topic and Payload)."""
    def build(level: int, names: Names) -> bytes:
        will_properties = b"\x00" if level == 5 else b""
        extra = {"User Name": (raw_string("user"), Kind.STRING),
                 "Password": (raw_string(b"secret"), Kind.BINARY),
                 "Will": (will_properties + raw_string(names.topic("will")) +
                          raw_string(b"gone"), Kind.STRING)}
        s = connect(level, names).with_field("Connect Flags", bytes((flags,))).without(*drop)
        for name in add:
            s = s.appended(name, *extra[name])
        return s.build()
    return build


BARE = (*WILL_FIELDS, *CREDENTIALS)  # drop these: a CONNECT with only a Client Identifier
# (row id, title, flags, fields dropped, fields added, levels, 3.1.1 IDs, 5.0 IDs)
FLAG_ROWS: tuple[tuple[str, str, int, tuple[str, ...], tuple[str, ...], tuple[int, ...],
                       tuple[str, ...], tuple[str, ...]], ...] = (
    ("connect-flags-reserved-bit", "the reserved Connect Flag set", 0xC7, (), (),
     ALL_LEVELS, ("MQTT-3.1.2-3",), ("MQTT-3.1.2-3",)),
    ("connect-flags-reserved-bit-only", "only the reserved Connect Flag set", 0x01, BARE, (),
     ALL_LEVELS, ("MQTT-3.1.2-3",), ("MQTT-3.1.2-3",)),
    ("will-qos-1-without-will-flag", "Will QoS 1 but no Will Flag", 0x0A, BARE, (),
     ALL_LEVELS, ("MQTT-3.1.2-11", "MQTT-3.1.2-13"), ("MQTT-3.1.2-11",)),
    ("will-qos-2-without-will-flag", "Will QoS 2 but no Will Flag", 0x12, BARE, (),
     ALL_LEVELS, ("MQTT-3.1.2-11", "MQTT-3.1.2-13"), ("MQTT-3.1.2-11",)),
    ("will-qos-3-without-will-flag", "Will QoS 3 but no Will Flag", 0x1A, BARE, (),
     ALL_LEVELS, ("MQTT-3.1.2-11", "MQTT-3.1.2-13"), ("MQTT-3.1.2-11",)),
    ("will-retain-without-will-flag", "Will Retain but no Will Flag", 0x22, BARE, (),
     ALL_LEVELS, ("MQTT-3.1.2-11", "MQTT-3.1.2-15"), ("MQTT-3.1.2-13",)),
    ("will-qos-3", "a Will at QoS 3", 0xDE, (), (), ALL_LEVELS, ("MQTT-3.1.2-14",),
     ("MQTT-3.1.2-12",)),
    ("will-qos-3-retained", "a retained Will at QoS 3", 0xFE, (), (), ALL_LEVELS,
     ("MQTT-3.1.2-14",), ("MQTT-3.1.2-12",)),
    ("password-flag-without-user-name-flag", "a Password Flag but no User Name Flag", 0x42,
     (*WILL_FIELDS, "User Name"), (), V3_LEVELS, ("MQTT-3.1.2-22",), ()),
    ("user-name-without-flag", "a User Name but no User Name Flag", 0x02, BARE,
     ("User Name",), ALL_LEVELS, ("MQTT-3.1.2-18",), ("MQTT-3.1.2-16",)),
    ("password-without-flag", "a Password but no Password Flag", 0x82, BARE,
     ("User Name", "Password"), ALL_LEVELS, ("MQTT-3.1.2-20",), ("MQTT-3.1.2-18",)),
    ("will-without-will-flag", "a Will Topic and Payload but no Will Flag", 0x02, BARE,
     ("Will",), ALL_LEVELS, ("MQTT-3.1.2-11",), ()),
)


def flag_rows() -> Iterator[Row]:
    for row_id, title, flags, drop, add, levels, v3, v5 in FLAG_ROWS:
        yield make_row(f"connect.{row_id}", f"CONNECT with {title} (flags 0x{flags:02X})",
                       "CONNECT", Malformation.CONNECT_FLAGS, levels, _flags(flags, drop, add),
                       v3=v3, v5=v5, state=State.FIRST)


def _protocol(name: bytes | None = None, level_byte: int | None = None,
              rename: str = "") -> Builder:
    def build(level: int, names: Names) -> bytes:
        s = connect(level, names)
        correct = PROTOCOL_NAME[level]
        if rename:
            s = s.with_field("Protocol Name", raw_string(_renamed(correct, rename)))
        if name is not None:
            s = s.with_field("Protocol Name", raw_string(name))
        if level_byte is not None:
            s = s.with_field("Protocol Level", bytes((level_byte,)))
        return s.build()
    return build


def _renamed(correct: str, how: str) -> str:
    return {"last-letter-changed": correct[:-1] + "X", "lower-case": correct.lower(),
            "one-letter-short": correct[:-1], "one-letter-long": correct + correct[-1],
            "empty": ""}[how]


RENAMES = ("last-letter-changed", "lower-case", "one-letter-short", "one-letter-long", "empty")


def protocol_rows() -> Iterator[Row]:
    for how in RENAMES:
        yield make_row(f"connect.protocol-name-{how}",
                       f"CONNECT whose Protocol Name is its version's with {how}",
                       "CONNECT", Malformation.PROTOCOL_NAME, ALL_LEVELS,
                       _protocol(rename=how), v3=("MQTT-3.1.2-1",),
                       v5=("MQTT-3.1.2-1",), state=State.FIRST, expect=Expect.CLOSE_OR_REFUSE)
    yield make_row("connect.protocol-name-of-3.1", "CONNECT with the 3.1 Protocol Name "
                   "'MQIsdp' and the Protocol Level of 3.1.1 / 5.0", "CONNECT",
                   Malformation.PROTOCOL_NAME, (4, 5), _protocol(name=b"MQIsdp"),
                   v3=("MQTT-3.1.2-1",), v5=("MQTT-3.1.2-1",), state=State.FIRST,
                   expect=Expect.CLOSE_OR_REFUSE)
    for level_byte in (0, 1, 2, 6, 7, 0xFF):
        yield make_row(f"connect.protocol-level-{level_byte}",
                       f"CONNECT with Protocol Level {level_byte}, which no version uses",
                       "CONNECT", Malformation.PROTOCOL_LEVEL, ALL_LEVELS,
                       _protocol(level_byte=level_byte), v3=("MQTT-3.1.2-2",),
                       v5=("MQTT-3.1.2-2",), state=State.FIRST,
                       expect=Expect.UNSUPPORTED_VERSION, connack=UNACCEPTABLE_PROTOCOL_VERSION)


def _client_id(client_id: str | None, clean: bool) -> Builder:
    def build(level: int, names: Names) -> bytes:
        cid = client_id if client_id is not None else (names.client_id + "x" * 24)[:24]
        return plain_connect(level, names, cid, clean).build()
    return build


BLIND = "a rule on the Client Identifier's value, which the server applies, not the codec"


def client_id_rows() -> Iterator[Row]:
    yield make_row("connect.client-identifier-empty-without-clean-session",
                   "CONNECT with an empty Client Identifier and Clean Session 0", "CONNECT",
                   Malformation.CLIENT_IDENTIFIER, (4,), _client_id("", clean=False),
                   v3=("MQTT-3.1.3-8",), state=State.FIRST, expect=Expect.REFUSE,
                   connack=IDENTIFIER_REJECTED, decoder_blind=BLIND)
    yield make_row("connect.client-identifier-empty-in-3.1",
                   "MQTT 3.1 CONNECT with an empty Client Identifier (3.1: 1 to 23 "
                   "characters)", "CONNECT", Malformation.CLIENT_IDENTIFIER, (3,),
                   _client_id("", clean=True), v3=("MQTT-3.1.3-9",), state=State.FIRST,
                   expect=Expect.REFUSE, connack=IDENTIFIER_REJECTED, decoder_blind=BLIND)
    yield make_row("connect.client-identifier-24-characters-in-3.1",
                   "MQTT 3.1 CONNECT with a 24-character Client Identifier (3.1: 23 at "
                   "most)", "CONNECT", Malformation.CLIENT_IDENTIFIER, (3,),
                   _client_id(None, clean=True), v3=("MQTT-3.1.3-9",), state=State.FIRST,
                   expect=Expect.REFUSE, connack=IDENTIFIER_REJECTED, decoder_blind=BLIND)


def rows() -> Iterator[Row]:
    yield from flag_rows()
    yield from protocol_rows()
    yield from client_id_rows()
