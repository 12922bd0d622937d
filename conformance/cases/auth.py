"""MQTT 5 AUTH and enhanced authentication (MQTT 5 sections 3.15 and 4.12).

Strategy: what every broker must do is checked everywhere: an Authentication Method it does
not offer is refused by closing (MQTT-4.12.0-1); without one, no AUTH and no Authentication
Method come back (MQTT-4.12.0-6).  The rest needs a method the broker offers; the suite tries
SCRAM-SHA-256 (auth_scram.py) and is NOT APPLICABLE where the broker refuses it.  With SCRAM
offered, the challenge and a wrong proof need no account (any user name does); a successful
exchange and re-authentication need the target's User Name and Password.  The test client's
decoder already refuses an AUTH with reserved flags set (MQTT-3.15.1-1), an unlisted Reason
Code (MQTT-3.15.2-1) or no Authentication Method (MQTT-4.12.0-5).
"""

from __future__ import annotations

import secrets

from conformance.case import CaseContext, case, fail, non_strict, not_applicable
from conformance.cases.auth_scram import (
    METHOD,
    ScramClient,
    auth_packet,
    credentials,
    expect_challenge,
)
from conformance.cases.connect import UNKNOWN_METHOD
from conformance.client import BrokerViolation, ClientError, TestClient, Unexpected, WaitTimeout
from conformance.reactions import expect_violation_close
from mqttspec import Auth, Connack, Connect, Disconnect, Properties, encode


@case("auth.unsupported-method-refused",
      "A CONNECT naming an Authentication Method the broker lacks is refused by closing",
      v5=("MQTT-4.12.0-1", "MQTT-3.1.4-2"), levels=(5,))
def unsupported_method(ctx: CaseContext) -> None:
    c = ctx.client()
    c.send(Connect(client_id=ctx.client_id(), protocol_level=5,
                   properties=Properties(authentication_method=UNKNOWN_METHOD)))
    # MQTT-4.12.0-1: CONNACK 0x8C or 0x87 allowed, and the connection MUST close
    code = expect_violation_close(ctx, c, f"Authentication Method {UNKNOWN_METHOD!r}",
                                  before_connack=True)
    if code not in (None, 0x8C, 0x87):
        ctx.note(f"CONNACK {code:#04x} rather than 0x8C or 0x87")


@case("auth.no-method-no-auth",
      "Without an Authentication Method: no AUTH packet, no Authentication Method in CONNACK",
      v5="MQTT-4.12.0-6", level="MUST NOT", levels=(5,))
def no_method(ctx: CaseContext) -> None:
    c = ctx.client()
    try:
        connack = c.connect(ctx.client_id())
        later = c.barrier()
    except Unexpected as exc:  # an AUTH where the CONNACK or PINGRESP should be
        fail("no AUTH packet (the CONNECT had no Authentication Method)", repr(exc.packet))
    props = connack.properties
    if props.authentication_method is not None or props.authentication_data is not None:
        fail("a CONNACK without Authentication Method or Data", repr(connack))
    if auths := [p for p in later if isinstance(p, Auth)]:
        fail("no AUTH packet", f"{auths}")


@case("auth.server-challenge-continues-with-0x18",
      "The broker's AUTH asking for more is Reason Code 0x18 with the CONNECT's method",
      v5=("MQTT-4.12.0-2", "MQTT-4.12.0-5", "MQTT-3.15.2-1", "MQTT-3.15.1-1"), levels=(5,))
def challenge(ctx: CaseContext) -> None:
    c = ctx.client()
    user, password = credentials(ctx)
    auth = expect_challenge(ctx, c, ScramClient(user, password))
    if auth.reason_code != 0x18:  # MQTT-4.12.0-2
        fail("AUTH with Reason Code 0x18 (Continue authentication)", repr(auth))
    if auth.properties.authentication_method != METHOD:  # MQTT-4.12.0-5
        fail(f"AUTH with Authentication Method {METHOD!r}", repr(auth))


@case("auth.wrong-proof-refused",
      "A failed SCRAM proof is refused (a CONNACK >= 0x80 at most), then the close",
      v5=("MQTT-4.12.0-4", "MQTT-3.1.4-2"), levels=(5,))
def wrong_proof(ctx: CaseContext) -> None:
    c = ctx.client()
    user, _ = credentials(ctx)
    scram = ScramClient(user, "wrong-" + secrets.token_hex(8))
    auth = expect_challenge(ctx, c, scram)
    data = auth.properties.authentication_data or b""
    try:
        final = scram.final(data)
    except (ValueError, KeyError, UnicodeDecodeError) as exc:
        fail("a server-first-message (RFC 5802) in the AUTH", f"{data!r}: {exc}")
    c.send(auth_packet(final))
    # MQTT-4.12.0-4: the broker may send CONNACK >= 0x80, and MUST close
    expect_violation_close(ctx, c, "a wrong SCRAM proof", before_connack=True)


def authenticated(ctx: CaseContext, c: TestClient, scram: ScramClient) -> Connack:
    """A complete SCRAM exchange on `c`; its CONNACK (NOT APPLICABLE unless it succeeds)."""
    auth = expect_challenge(ctx, c, scram)
    c.send(auth_packet(scram.final(auth.properties.authentication_data or b"")))
    try:
        connack = c.expect(Connack)
    except ClientError as exc:
        fail("a CONNACK ending the exchange", str(exc))
    if connack.reason_code != 0:
        not_applicable(f"the target's credentials do not authenticate with {METHOD}: "
                       f"CONNACK {connack.reason_code:#04x}")
    return connack


@case("auth.success-connack-names-method",
      "The CONNACK ending a successful exchange names the CONNECT's Authentication Method",
      v5=("MQTT-4.12.0-5",), levels=(5,))
def success(ctx: CaseContext) -> None:
    c = ctx.client()
    scram = ScramClient(*credentials(ctx, need=True))
    connack = authenticated(ctx, c, scram)
    if connack.properties.authentication_method != METHOD:  # MQTT-4.12.0-5
        fail(f"CONNACK with Authentication Method {METHOD!r}", repr(connack))
    if not scram.verifies(connack.properties.authentication_data or b""):
        ctx.note("the server-final-message does not verify (RFC 5802 section 3)")
    c.barrier()


@case("auth.failed-reauthentication-closes",
      "A failed re-authentication closes the connection, after DISCONNECT (advised)",
      v5=("MQTT-4.12.1-2", "MQTT-4.12.0-5"), levels=(5,))
def failed_reauthentication(ctx: CaseContext) -> None:
    c = ctx.client()
    user, password = credentials(ctx, need=True)
    authenticated(ctx, c, ScramClient(user, password))
    again = ScramClient(user, "wrong-" + secrets.token_hex(8))
    c.send(auth_packet(again.first(), code=0x19))  # Re-authenticate
    try:
        auth = c.expect(Auth)
    except ClientError as exc:
        not_applicable(f"the broker does not take up re-authentication: {exc}")
    if auth.reason_code != 0x18 or auth.properties.authentication_method != METHOD:
        fail(f"AUTH 0x18 with Authentication Method {METHOD!r}", repr(auth))
    c.send(auth_packet(again.final(auth.properties.authentication_data or b"")))
    try:
        got = c.expect_close()
    except WaitTimeout:  # MQTT-4.12.1-2: the connection MUST close
        fail("the connection closed after a failed re-authentication", "it stayed open")
    if got and not (len(got) == 1 and isinstance(got[0], Disconnect)
                    and got[0].reason_code >= 0x80):
        fail("at most a DISCONNECT with a failure Reason Code before the close", f"{got}")
    if not got:  # MQTT-4.12.1-2: the DISCONNECT is a SHOULD
        non_strict("DISCONNECT with a Reason Code (e.g. 0x87) before the close",
                   "closed without a DISCONNECT")
    ctx.note(f"sent {got[0]!r}, then closed")


@case("auth.diagnostics-within-maximum-packet-size",
      "An AUTH leaves out its Reason String / User Property when they would exceed the "
      "client's Maximum Packet Size", v5=("MQTT-3.15.2-2", "MQTT-3.15.2-3"),
      level="MUST NOT", levels=(5,))
def auth_within_limit(ctx: CaseContext) -> None:
    user, password = credentials(ctx)
    c = ctx.client()
    first = expect_challenge(ctx, c, ScramClient(user, password))
    size = len(c.decoder.last_raw)
    if first.properties.reason_string is None and not first.properties.user_properties:
        not_applicable("the broker's AUTH carries no Reason String nor User Property")
    c.close()
    limit = size - 1
    c = ctx.client("limited")
    c.decoder.max_packet_size = limit  # a larger AUTH is caught here
    try:
        auth = expect_challenge(ctx, c, ScramClient(user, password),
                                Properties(maximum_packet_size=limit))
    except BrokerViolation as exc:  # MQTT-3.15.2-2 / MQTT-3.15.2-3
        fail(f"an AUTH within the Maximum Packet Size of {limit} bytes", str(exc))
    ctx.note(f"AUTH of {size} bytes came in {len(c.decoder.last_raw)} under a limit of "
             f"{limit}: {auth!r}")


@case("auth.reserved-flags-malformed",
      "An AUTH with a reserved fixed-header flag set is malformed: the connection closes",
      v5=("MQTT-3.15.1-1", "MQTT-4.12.0-4"), levels=(5,))
def reserved_flags(ctx: CaseContext) -> None:
    c = ctx.client()
    user, password = credentials(ctx)
    scram = ScramClient(user, password)
    auth = expect_challenge(ctx, c, scram)
    final = scram.final(auth.properties.authentication_data or b"")
    valid = encode(auth_packet(final))
    c.send(bytes((valid[0] | 0x01,)) + valid[1:], "AUTH with fixed-header flags 0001")
    # MQTT-3.15.1-1: malformed, the connection closes (a CONNACK 0x81 may come first)
    expect_violation_close(ctx, c, "an AUTH with reserved flags set", before_connack=True)
