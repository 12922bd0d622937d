"""CONNECT validation (MQTT 3.1.1 section 3.1 and 3.1.4, MQTT 5 section 3.1 and 3.1.4).

Strategy: the first packet of a fresh connection, written with the raw builder when it must
be wrong on purpose (protocol name or level, reserved flag, flags announcing fields that are
absent), then the broker's whole answer: which packets came and whether it closed, within
the bounded wait.  An answer a client of the run's level cannot decode (a CONNACK refusing a
protocol version) is read as raw bytes.  A CONNECT the spec forces the broker to refuse is
followed, in the same write, by a PUBLISH that a second client is subscribed to: nothing of
it may reach the subscriber (MQTT-3.1.4-5 / MQTT-3.1.4-6).
"""

from __future__ import annotations

from conformance.case import CaseContext, case, fail, not_applicable
from conformance.client import BrokerClosed, ClientError, TestClient, WaitTimeout
from conformance.reactions import expect_violation_close
from mqttspec import (
    Connack,
    Connect,
    Pingreq,
    Pingresp,
    Properties,
    Publish,
    RawPacket,
    encode,
    raw_string,
)

PROTOCOL = {3: ("MQIsdp", 3), 4: ("MQTT", 4), 5: ("MQTT", 5)}  # name and level byte
UNKNOWN_METHOD = "mqttlab-no-such-method"  # an Authentication Method no broker offers


def raw_connect(level: int, client_id: str, *, name: str | None = None,
                version: int | None = None, flags: int = 0x02, payload: bytes = b"",
                fixed_flags: int = 0) -> bytes:
    """A CONNECT written field by field (Clean Session by default, Keep Alive 0); `payload`
    follows the Client Identifier (Will fields, User Name, Password, or nothing)."""
    pname, pversion = PROTOCOL[level]
    r = (RawPacket(1, fixed_flags).string(name or pname)
         .u8(pversion if version is None else version).u8(flags).u16(0))
    if level == 5:
        r.properties(b"")
    return r.string(client_id).raw(payload).build()


def connack_in(data: bytes) -> int | None:
    """The return / Reason Code of a CONNACK at the start of raw bytes (3.x or 5.0 layout:
    both put it in the fourth byte), or None when the bytes are not a CONNACK."""
    if len(data) >= 4 and data[0] == 0x20:
        return data[3]
    return None


@case("connect.first-packet-must-be-connect",
      "A connection whose first packet is not CONNECT is closed without a CONNACK",
      v3=("MQTT-3.1.0-1", "MQTT-4.8.0-1"), v5=("MQTT-3.1.0-1", "MQTT-4.13.1-1"))
def first_packet_not_connect(ctx: CaseContext) -> None:
    c = ctx.client()
    c.send(Publish(topic=ctx.topic("x"), payload=b"early", protocol_level=ctx.level))
    try:
        got = c.expect_close()
    except WaitTimeout:
        fail("the broker closes the connection", "the connection stayed open")
    if any(isinstance(p, Connack) for p in got):
        fail("no CONNACK", f"received {got}")


@case("connect.second-connect-is-a-protocol-violation",
      "A second CONNECT on a connection closes it",
      v3="MQTT-3.1.0-2", v5="MQTT-3.1.0-2")
def second_connect(ctx: CaseContext) -> None:
    c = ctx.client()
    connack = c.connect(ctx.client_id())
    if connack.reason_code != 0:
        fail("the first CONNECT is accepted", f"{connack}")
    c.send(Connect(client_id=ctx.client_id(), protocol_level=ctx.level))
    try:
        got = c.expect_close()
    except WaitTimeout:
        fail("the broker closes the connection after the second CONNECT",
             "the connection stayed open")
    if any(isinstance(p, Connack) for p in got):
        fail("no second CONNACK", f"received {got}")


@case("connect.protocol-name-wrong",
      "A CONNECT whose protocol name is not the MQTT one is not accepted as MQTT",
      v3="MQTT-3.1.2-1", v5="MQTT-3.1.2-1", level="MUST NOT")
def protocol_name_wrong(ctx: CaseContext) -> None:
    c = ctx.client()
    c.send(raw_connect(ctx.level, ctx.client_id(), name="MQXX"), "CONNECT, protocol name MQXX")
    data, closed = c.read_raw_until_close()
    code = connack_in(data)
    # MQTT-3.1.2-1: the server may close, or go on under another specification, but never
    # carry on with the CONNECT as MQTT (5.0: at most a CONNACK 0x84 before closing).
    if code == 0:
        fail("no CONNACK accepting the connection", f"CONNACK 0x00 ({data.hex(' ')})")
    if closed:
        ctx.note("closed the connection" + (f" after CONNACK {code:#04x}" if data else ""))
        return
    c.send(Pingreq(protocol_level=ctx.level))
    try:
        answer = c.recv()
    except WaitTimeout:
        ctx.note("kept the connection open, silent (allowed: another protocol)")
        return
    except ClientError as exc:  # closed, or bytes that are not MQTT: not served as MQTT
        ctx.note(f"answered the PINGREQ with {type(exc).__name__}: {exc}")
        return
    if isinstance(answer, Pingresp):
        fail("the connection is not served as MQTT", "PINGRESP to a later PINGREQ")
    ctx.note(f"answered the PINGREQ with {answer!r}")


@case("connect.protocol-level-unsupported",
      "A CONNECT with a protocol level the broker does not support is refused and closed",
      v3="MQTT-3.1.2-2", v5="MQTT-3.1.2-2")
def protocol_level_unsupported(ctx: CaseContext) -> None:
    c = ctx.client()
    version = 99 if ctx.level == 3 else 6
    c.send(raw_connect(ctx.level, ctx.client_id(), version=version),
           f"CONNECT, protocol level {version}")
    data, closed = c.read_raw_until_close()
    if not closed:
        fail("the broker closes the connection", f"still open after {data.hex(' ') or 'nothing'}")
    code = connack_in(data)
    if ctx.level < 5:
        # MQTT-3.1.2-2 (3.1.1; 3.1 has the same return code): CONNACK 0x01, then close
        if data != b"\x20\x02\x00\x01":
            fail("CONNACK 0x01 (unacceptable protocol level), then the close",
                 f"{data.hex(' ') or 'closed without a CONNACK'}")
        return
    # MQTT-3.1.2-2 (5.0): a CONNACK 0x84 may come first (a 3.x-style 0x01 is read kindly)
    if data and code not in (0x84, 0x01):
        fail("the close, at most after a CONNACK 0x84", f"{data.hex(' ')}")
    ctx.note(f"closed after CONNACK {code:#04x}" if data else "closed without a CONNACK")


@case("connect.reserved-flag-set",
      "A CONNECT whose reserved Connect Flag is 1 closes the connection",
      v3=("MQTT-3.1.2-3", "MQTT-3.1.4-1", "MQTT-3.2.2-6"), v5=("MQTT-3.1.2-3", "MQTT-3.1.4-1"),
      levels=(4, 5))
def reserved_flag(ctx: CaseContext) -> None:
    c = ctx.client()
    c.send(raw_connect(ctx.level, ctx.client_id(), flags=0x03), "CONNECT, reserved flag 1")
    # 3.1.1 MQTT-3.1.4-1 / MQTT-3.2.2-6 (no return code fits): closed without a CONNACK;
    # 5.0: a CONNACK >= 0x80 may come first
    expect_violation_close(ctx, c, "a CONNECT with the reserved flag set", before_connack=True,
                           codes=None if ctx.level == 5 else ())


@case("connect.will-flags-without-will-flag",
      "Will QoS or Will Retain set while the Will Flag is 0 is a malformed CONNECT",
      v3=("MQTT-3.1.4-1", "MQTT-3.1.2-13", "MQTT-3.1.2-15"),
      v5=("MQTT-3.1.4-1", "MQTT-3.1.2-11", "MQTT-3.1.2-13"), levels=(4, 5))
def will_flags_without_will(ctx: CaseContext) -> None:
    for flags, what in ((0x02 | 0x08, "Will QoS 1"), (0x02 | 0x20, "Will Retain 1")):
        c = ctx.client()
        c.send(raw_connect(ctx.level, ctx.client_id(), flags=flags),
               f"CONNECT, {what} with Will Flag 0")
        # MQTT-3.1.4-1: a CONNECT that does not conform is refused by closing
        expect_violation_close(ctx, c, f"a CONNECT with {what} and Will Flag 0",
                               before_connack=True, codes=None if ctx.level == 5 else ())


@case("connect.user-name-flag-without-user-name",
      "A CONNECT whose User Name Flag announces a User Name that is absent is malformed",
      v3=("MQTT-3.1.4-1", "MQTT-3.1.2-19"), v5=("MQTT-3.1.4-1", "MQTT-3.1.2-17"),
      levels=(4, 5))
def user_name_missing(ctx: CaseContext) -> None:
    c = ctx.client()
    c.send(raw_connect(ctx.level, ctx.client_id(), flags=0x82),
           "CONNECT, User Name Flag 1, no User Name")
    # MQTT-3.1.4-1 (3.1.1: closed without a CONNACK; 5.0: a CONNACK >= 0x80 may come first)
    expect_violation_close(ctx, c, "a CONNECT lacking the User Name its flag announces",
                           before_connack=True, codes=None if ctx.level == 5 else ())


@case("connect.will-qos-3",
      "A CONNECT with Will QoS 3 is malformed: the connection closes",
      v3=("MQTT-3.1.4-1", "MQTT-3.1.2-14", "MQTT-3.2.2-6"), v5=("MQTT-3.1.4-1", "MQTT-3.1.2-12"),
      levels=(4, 5))
def will_qos_3(ctx: CaseContext) -> None:
    c = ctx.client()
    will = (b"\x00" if ctx.level == 5 else b"") + raw_string(ctx.topic("will")) + raw_string(b"w")
    c.send(raw_connect(ctx.level, ctx.client_id(), flags=0x02 | 0x04 | 0x18, payload=will),
           "CONNECT, Will Flag 1, Will QoS 3")
    # MQTT-3.1.4-1: not a conforming CONNECT (3.1.1: closed without a CONNACK)
    expect_violation_close(ctx, c, "a CONNECT with Will QoS 3", before_connack=True,
                           codes=None if ctx.level == 5 else ())


@case("connect.v311-password-without-user-name",
      "3.1.1: a Password Flag without the User Name Flag is a malformed CONNECT",
      v3=("MQTT-3.1.4-1", "MQTT-3.1.2-22", "MQTT-3.2.2-6"), levels=(4,))
def password_without_user_name(ctx: CaseContext) -> None:
    c = ctx.client()
    c.send(raw_connect(4, ctx.client_id(), flags=0x02 | 0x40, payload=raw_string(b"secret")),
           "CONNECT, Password Flag 1, User Name Flag 0")
    # MQTT-3.1.4-1 (with MQTT-3.1.2-22): closed without a CONNACK
    expect_violation_close(ctx, c, "a CONNECT with a Password but no User Name",
                           before_connack=True, codes=())


def forced_refusal(ctx: CaseContext) -> tuple[bytes, str]:
    """A CONNECT every conformant broker refuses under this level, and what it is."""
    if ctx.level == 3:  # MQTT 3.1: a Client Identifier has 1 to 23 characters
        return raw_connect(3, ""), "an empty Client Identifier (MQTT 3.1)"
    if ctx.level == 4:  # MQTT-3.1.3-8: zero-length ClientId with CleanSession 0
        return raw_connect(4, "", flags=0x00), "an empty ClientId with CleanSession 0"
    return encode(Connect(client_id=ctx.client_id("r"), protocol_level=5, properties=Properties(
        authentication_method=UNKNOWN_METHOD))), f"Authentication Method {UNKNOWN_METHOD}"


@case("connect.refused-connect-later-data-ignored",
      "After refusing a CONNECT the broker does not process what the client sent after it",
      v3=("MQTT-3.1.4-5",), v5=("MQTT-3.1.4-6",), level="MUST NOT")
def refused_then_publish(ctx: CaseContext) -> None:
    topic = ctx.topic("after-refusal")
    sub = ctx.connected("sub")
    sub.subscribe(topic, qos=0)
    connect, what = forced_refusal(ctx)
    c = ctx.client("refused")
    later = encode(Publish(topic=topic, payload=b"must not be processed",
                           protocol_level=ctx.level))
    c.send(connect + later, f"CONNECT with {what}, then PUBLISH in the same write")
    answer = refusal_answer(ctx, c, what)
    got = sub.no_publish()
    if got:  # MQTT-3.1.4-5 / MQTT-3.1.4-6: nothing after the refused CONNECT is processed
        fail("the PUBLISH sent after the refused CONNECT is not processed",
             f"the subscriber received {got}")
    ctx.note(answer)


def refusal_answer(ctx: CaseContext, c: TestClient, what: str) -> str:
    """The broker must refuse (close, at most after a failure CONNACK): how it did."""
    expected = f"the CONNECT with {what} is refused and the connection closed"
    try:
        first = c.recv()
    except BrokerClosed:
        return "closed without a CONNACK"
    except WaitTimeout:
        fail(expected, "no answer, the connection stayed open")
    if isinstance(first, Connack) and first.reason_code == 0:
        not_applicable(f"the broker accepted the CONNECT with {what}; the case needs a refusal")
    try:
        rest = c.expect_close()
    except WaitTimeout:
        fail(expected, f"{first!r}, then the connection stayed open")
    if rest:
        fail(expected, f"{first!r}, then {rest}")
    return f"refused: {first!r}, then closed"
