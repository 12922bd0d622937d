"""Client Identifier rules (MQTT 3.1.1 section 3.1.3.1, MQTT 5 section 3.1.3.1 and 3.2.2.3.7).

Strategy: every Client Identifier is derived from the case's unique name, so parallel cases
and versions never meet.  A zero-length ClientId may be refused (then only the refusal is
judged) or accepted: then two such clients must get two different identities (connected side
by side, neither taken over), and under MQTT 5 the Assigned Client Identifier must be the
identity the session really has: a third connection naming it takes the session over.
"""

from __future__ import annotations

from conformance.case import CaseContext, case, fail
from conformance.cases.connect import connack_in, raw_connect
from conformance.client import BrokerClosed, ClientError, TestClient, WaitTimeout
from mqttspec import Connack, Disconnect

ALNUM = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


@case("connect.client-id-23-alphanumeric-accepted",
      "A 23-character ClientId of letters and digits is accepted with CONNACK 0",
      v3=("MQTT-3.1.3-5", "MQTT-3.1.4-4", "MQTT-3.2.0-1"),
      v5=("MQTT-3.1.3-5", "MQTT-3.1.4-5", "MQTT-3.2.0-1"))
def client_id_23(ctx: CaseContext) -> None:
    unique = ctx.client_id()
    client_id = (unique + ALNUM[::-1])[:23]  # digits, lower and upper case letters
    c = ctx.client()
    try:
        connack = c.connect(client_id)  # MQTT-3.2.0-1: the first packet back is a CONNACK
    except ClientError as exc:
        fail(f"CONNACK 0x00 for ClientId {client_id!r}", str(exc))
    # MQTT-3.1.3-5: such a ClientId is always allowed; MQTT-3.1.4-4 / -5: CONNACK 0x00
    if connack.reason_code != 0:
        fail(f"CONNACK 0x00 for ClientId {client_id!r}", repr(connack))
    c.barrier()
    c.disconnect()


def connect_empty(ctx: CaseContext, name: str) -> tuple[TestClient, Connack | None]:
    """A CONNECT with a zero-length ClientId; None: closed without a CONNACK."""
    c = ctx.client(name)
    try:
        return c, c.connect("", clean_start=True)
    except WaitTimeout:
        fail("a CONNACK for the zero-length ClientId", "no answer")
    except BrokerClosed:
        return c, None


@case("connect.client-id-zero-length",
      "A zero-length ClientId is refused, or gets a unique identity of its own",
      v3=("MQTT-3.1.3-6", "MQTT-3.1.3-9"),
      v5=("MQTT-3.1.3-6", "MQTT-3.1.3-7", "MQTT-3.2.2-16", "MQTT-3.1.3-8"), levels=(4, 5))
def client_id_zero_length(ctx: CaseContext) -> None:
    c1, connack1 = connect_empty(ctx, "empty1")
    if connack1 is None or connack1.reason_code != 0:
        judge_refusal(ctx, c1, connack1)
        return
    c2, connack2 = connect_empty(ctx, "empty2")
    if connack2 is None or connack2.reason_code != 0:
        fail("a second zero-length ClientId is accepted like the first", repr(connack2))
    # MQTT-3.1.3-6: each gets a unique ClientId: neither connection took the other over
    for c in (c1, c2):
        try:
            c.barrier()
        except ClientError as exc:
            fail("two clients with zero-length ClientIds stay connected side by side",
                 f"{c.name}: {exc}")
    if ctx.level < 5:
        ctx.note("accepted; two such clients are served side by side")
        return
    ids = [k.properties.assigned_client_identifier for k in (connack1, connack2)]
    # MQTT-3.1.3-7 / MQTT-3.2.2-16: the CONNACK names the Assigned Client Identifier
    if None in ids:
        fail("an Assigned Client Identifier in each CONNACK", f"{connack1!r}, {connack2!r}")
    if ids[0] == ids[1]:  # MQTT-3.2.2-16: not used by any other session
        fail("two different Assigned Client Identifiers", f"both {ids[0]!r}")
    # MQTT-3.1.3-7: the session has that ClientId: connecting with it takes the session over
    c3 = ctx.client("same-id")
    connack3 = c3.connect(str(ids[0]), clean_start=False)
    if connack3.reason_code != 0:
        fail(f"a connection with ClientId {ids[0]!r} is accepted", repr(connack3))
    if not connack3.session_present:
        ctx.note("the assigned-ID session had Session Expiry 0: Session Present 0 is right")
    try:
        got = c1.expect_close()
    except WaitTimeout:
        fail(f"the first client (Assigned Client Identifier {ids[0]!r}) is taken over when "
             "a new connection uses that ClientId", "it stayed connected")
    if got and not (isinstance(got[0], Disconnect) and got[0].reason_code == 0x8E):
        fail("at most a DISCONNECT 0x8E before the takeover close", f"{got}")
    ctx.note(f"assigned {ids[0]!r} and {ids[1]!r}")


def judge_refusal(ctx: CaseContext, c: TestClient, connack: Connack | None) -> None:
    """The broker does not allow zero-length ClientIds: the refusal must follow the rules."""
    if connack is None:
        if ctx.level < 5:  # MQTT-3.1.3-9: the refusal is CONNACK 0x02
            fail("CONNACK 0x00, or CONNACK 0x02 and the close", "closed without a CONNACK")
        ctx.note("refused a zero-length ClientId by closing")  # MQTT-3.1.3-8: allowed
        return
    allowed = (0x02,) if ctx.level < 5 else None
    if allowed is not None and connack.reason_code not in allowed:
        fail("CONNACK 0x00, or CONNACK 0x02 (Identifier rejected)", repr(connack))
    if connack.reason_code < 0x80 and ctx.level == 5:
        fail("CONNACK 0x00, or a refusal (0x85 advised)", repr(connack))
    try:
        rest = c.expect_close()
    except WaitTimeout:  # MQTT-3.1.3-9 / MQTT-3.1.3-8: then close the connection
        fail("the connection closed after the refusal", "it stayed open")
    if rest:
        fail("nothing after the refusing CONNACK", f"{rest}")
    ctx.note(f"does not allow zero-length ClientIds: CONNACK {connack.reason_code:#04x}")


@case("connect.client-id-zero-length-clean-session-0",
      "A zero-length ClientId with CleanSession 0 gets CONNACK 0x02, then the close",
      v3=("MQTT-3.1.3-8", "MQTT-3.1.3-9", "MQTT-3.2.2-4", "MQTT-3.2.2-5"), levels=(4,))
def client_id_zero_length_persistent(ctx: CaseContext) -> None:
    c = ctx.client()
    c.send(raw_connect(4, "", flags=0x00), "CONNECT, empty ClientId, CleanSession 0")
    judge_identifier_rejected(c, "an empty ClientId with CleanSession 0")


def judge_identifier_rejected(c: TestClient, what: str) -> None:
    data, closed = c.read_raw_until_close()
    # MQTT-3.1.3-8 / -9: CONNACK 0x02 with Session Present 0 (MQTT-3.2.2-4), then the close
    # (MQTT-3.2.2-5)
    if connack_in(data) != 0x02 or data != b"\x20\x02\x00\x02":
        fail(f"CONNACK 0x02 (Identifier rejected, Session Present 0) for {what}",
             data.hex(" ") or "no CONNACK")
    if not closed:
        fail(f"the connection closed after refusing {what}", "it stayed open")


@case("connect.v31-client-id-length",
      "MQTT 3.1: an empty or 24-character Client Identifier gets CONNACK 0x02, then the close",
      v3=("MQTT-3.1.3-9",), levels=(3,))
def v31_client_id_length(ctx: CaseContext) -> None:
    too_long = (ctx.client_id() + ALNUM)[:24]
    for client_id, what in (("", "an empty Client Identifier"),
                            (too_long, "a 24-character Client Identifier")):
        c = ctx.client()
        c.send(raw_connect(3, client_id), f"CONNECT (3.1), {what}")
        judge_identifier_rejected(c, what)
