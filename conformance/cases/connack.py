"""CONNACK: the first packet back, Session Present, refusals (MQTT 3.1.1 section 3.2,
MQTT 5 section 3.2.0 to 3.2.2.2).

Strategy: Session Present is judged against state the case itself created: a session made to
outlive its connection (see session.py) and resumed, discarded with Clean Start, or a fresh
ClientId.  The first packet back must be the CONNACK even when the session has a message
queued, ready to go.  A refusal is provoked with a CONNECT every conformant broker refuses,
for a ClientId that has a stored session (so a careless broker would say Session Present 1).
"""

from __future__ import annotations

from conformance.case import CaseContext, case, fail
from conformance.cases.connect import UNKNOWN_METHOD, connack_in, raw_connect
from conformance.cases.session import end_session, open_session, resume, session_fields
from conformance.client import BrokerViolation, ClientError, Unexpected, WaitTimeout
from conformance.reactions import expect_violation_close
from mqttspec import Connack, Connect, Properties, encode


@case("connack.first-packet-is-connack",
      "The first packet back is the CONNACK, even with a queued message waiting",
      v3=("MQTT-3.2.0-1", "MQTT-3.1.4-4"), v5=("MQTT-3.2.0-1", "MQTT-3.1.4-5"))
def first_packet(ctx: CaseContext) -> None:
    cid, topic = ctx.client_id("f"), ctx.topic("first")
    c = open_session(ctx, "c1", cid)
    c.subscribe(topic, qos=1)
    c.disconnect()
    pub = ctx.connected("pub")
    pub.publish(topic, b"queued", qos=1)
    c = ctx.client("c1-again")
    try:
        connack = c.connect(cid, **session_fields(ctx, False))
    except Unexpected as exc:  # MQTT-3.2.0-1: nothing before the CONNACK
        fail("the CONNACK first", f"first came {exc.packet!r}")
    if connack.reason_code != 0:  # MQTT-3.1.4-4 / MQTT-3.1.4-5
        fail("CONNACK 0x00", repr(connack))
    try:
        c.expect_publish()
    except ClientError as exc:
        ctx.note(f"the queued message did not follow: {exc}")
    c.disconnect()
    end_session(ctx, cid)


@case("connack.session-present-0-with-clean-start",
      "Accepting Clean Start / CleanSession 1 sets Session Present 0 though a session existed",
      v3="MQTT-3.2.2-1", v5="MQTT-3.2.2-2", levels=(4, 5))
def session_present_clean(ctx: CaseContext) -> None:
    cid = ctx.client_id("c")
    c = open_session(ctx, "c1", cid)
    c.subscribe(ctx.topic("c"), qos=1)
    c.disconnect()
    c = ctx.connected("clean", client_id=cid, clean_start=True)
    assert c.connack is not None
    if c.connack.session_present:  # MQTT-3.2.2-1 / MQTT-3.2.2-2
        fail("Session Present 0 with return code 0", repr(c.connack))
    c.disconnect()


@case("connack.session-present-1-with-stored-session",
      "Resuming a stored session (Clean Start 0) sets Session Present 1",
      v3="MQTT-3.2.2-2", v5="MQTT-3.2.2-3", levels=(4, 5))
def session_present_stored(ctx: CaseContext) -> None:
    cid = ctx.client_id("p")
    c = open_session(ctx, "c1", cid)
    c.subscribe(ctx.topic("p"), qos=1)
    c.disconnect()
    c, connack = resume(ctx, "c1-again", cid)
    if not connack.session_present:  # MQTT-3.2.2-2 / MQTT-3.2.2-3
        fail("Session Present 1 with return code 0", repr(connack))
    c.disconnect()
    end_session(ctx, cid)


@case("connack.session-present-0-without-session",
      "Clean Start 0 for a ClientId with no stored session sets Session Present 0",
      v3="MQTT-3.2.2-3", v5=("MQTT-3.2.2-3", "MQTT-3.1.2-6"), levels=(4, 5))
def session_present_none(ctx: CaseContext) -> None:
    cid = ctx.client_id("n")
    c, connack = resume(ctx, "c1", cid)
    if connack.session_present:  # MQTT-3.2.2-3
        fail("Session Present 0 with return code 0 (no session existed)", repr(connack))
    c.disconnect()
    # MQTT-3.1.2-6 (5.0): a new session was created: it is there when the client comes back
    c, connack = resume(ctx, "c1-again", cid)
    if not connack.session_present and ctx.level == 5:
        fail("the session created by the first connection is resumed (Session Present 1)",
             repr(connack))
    c.disconnect()
    end_session(ctx, cid)


@case("connack.refusal-session-present-0-and-close",
      "A refusing CONNACK has Session Present 0 though a session exists, then the close",
      v3=("MQTT-3.2.2-4", "MQTT-3.2.2-5"), v5=("MQTT-3.2.2-6", "MQTT-3.2.2-7", "MQTT-3.1.4-2"))
def refusal(ctx: CaseContext) -> None:
    cid = ctx.client_id("r")
    c = open_session(ctx, "c1", cid)
    c.subscribe(ctx.topic("r"), qos=1)
    c.disconnect()
    c = ctx.client("refused")
    if ctx.level < 5:
        # an unsupported protocol level: refused with 0x01 (MQTT-3.1.2-2), Session Present 0
        c.send(raw_connect(ctx.level, cid, flags=0x00, version=99 if ctx.level == 3 else 6),
               "CONNECT, unsupported protocol level, CleanSession 0, a stored session")
        data, closed = c.read_raw_until_close()
        code = connack_in(data)
        if code is not None and (code == 0 or data[2] != 0):  # MQTT-3.2.2-4
            fail("a refusing CONNACK with Session Present 0", data.hex(" "))
        if not closed:  # MQTT-3.2.2-5
            fail("the close after the refusing CONNACK", "the connection stayed open")
    else:
        c.send(Connect(client_id=cid, clean_start=False, protocol_level=5, properties=Properties(
            session_expiry_interval=60, authentication_method=UNKNOWN_METHOD)))
        try:  # MQTT-3.2.2-6 is checked by the decoder (Session Present with a failure code)
            expect_violation_close(ctx, c, f"a CONNECT with Authentication Method "
                                   f"{UNKNOWN_METHOD}", before_connack=True)
        except BrokerViolation as exc:
            fail("a refusing CONNACK with Session Present 0", str(exc))
    end_session(ctx, cid)


@case("connack.v5-well-formed",
      "MQTT 5 CONNACKs (accepting, resuming, refusing) have reserved flags 0 and a listed code",
      v5=("MQTT-3.2.2-1", "MQTT-3.2.2-8"), levels=(5,))
def well_formed(ctx: CaseContext) -> None:
    cid = ctx.client_id("w")
    seen = []
    stimuli = (
        ("new session", encode(Connect(client_id=cid, protocol_level=5,
                                       properties=Properties(session_expiry_interval=60)))),
        ("resumed session", encode(Connect(client_id=cid, clean_start=False, protocol_level=5,
                                           properties=Properties(session_expiry_interval=60)))),
        ("unknown Authentication Method", encode(Connect(
            client_id=ctx.client_id("w2"), protocol_level=5,
            properties=Properties(authentication_method=UNKNOWN_METHOD)))),
        ("reserved Connect Flag", raw_connect(5, ctx.client_id("w3"), flags=0x03)),
    )
    for what, data in stimuli:
        c = ctx.client()
        c.send(data, f"CONNECT: {what}")
        try:  # the decoder refuses reserved flags (MQTT-3.2.2-1) and unlisted codes (-8)
            connack = c.expect(Connack)
        except BrokerViolation as exc:
            fail(f"a well-formed CONNACK ({what})", str(exc))
        except ClientError:
            continue  # closed without a CONNACK: allowed for the refusals
        raw = c.decoder.last_raw
        if raw[2] & 0xFE:  # MQTT-3.2.2-1
            fail("Connect Acknowledge Flags bits 7-1 are 0", raw.hex(" "))
        seen.append(f"{what}: {connack.reason_code:#04x}")
        c.close()
    end_session(ctx, cid)
    ctx.note("; ".join(seen))


@case("connack.v5-at-most-one-connack",
      "MQTT 5: two CONNECTs in one write get at most one CONNACK",
      v5=("MQTT-3.2.0-2", "MQTT-3.1.0-2"), level="MUST NOT", levels=(5,))
def one_connack(ctx: CaseContext) -> None:
    c = ctx.client()
    first = encode(Connect(client_id=ctx.client_id(), protocol_level=5))
    c.send(first + first, "CONNECT twice in one write")
    try:
        got = c.expect_close()
    except WaitTimeout:  # MQTT-3.1.0-2: the second CONNECT is a Protocol Error
        fail("the connection closed after the second CONNECT", "it stayed open")
    connacks = [p for p in got if isinstance(p, Connack)]
    if len(connacks) > 1:  # MQTT-3.2.0-2
        fail("one CONNACK at most", f"{connacks}")
