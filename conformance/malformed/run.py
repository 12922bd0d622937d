"""Running one row against a broker: get to the row's state, send its bytes, judge.

Strategy: the row's `state` decides the way in - a new connection (FIRST), a connection
with CONNACK 0x00 (CONNECTED), or that plus a Will watched by a second client (WITH_WILL) -
and its `expect` the verdict.  The close after a violation is judged by
conformance.reactions.expect_violation_close (MQTT 5: a DISCONNECT or CONNACK >= 0x80 may
come first); under 3.x nothing may come before a malformed CONNECT's close (MQTT-3.1.4-1).
A REFUSE row needs its CONNACK return code.  Where a CONNACK refusal may come in another
version's format (a wrong Protocol Name or Level, MQTT-3.1.2-1 / -2), the answer is read as
raw bytes and accepted as a 3.x or a 5.0 CONNACK refusal.  WITH_WILL rows then wait for the
Will: a broken DISCONNECT must not end the session as a normal one would.
"""

from __future__ import annotations

import time
from dataclasses import replace

from conformance.case import CaseContext, fail, not_applicable
from conformance.client import TestClient, WaitTimeout
from conformance.malformed.rows import Expect, Names, NotApplicable, Row, State
from conformance.reactions import expect_violation_close
from conformance.wirelog import EventKind
from mqttspec import Connack, ProtocolViolation, Will, decode_packet


def run_row(row: Row, ctx: CaseContext) -> None:
    names = Names(ctx.client_id("m"), ctx.topic(), username=ctx.target.username,
                  password=ctx.target.password)
    if row.state is State.FIRST:
        c = ctx.client()
        send(c, row, ctx.level, names)
        judge_first(row, ctx, c)
        return
    watcher = None
    if row.state is State.WITH_WILL:
        watcher = ctx.connected("watcher")
        watcher.subscribe(names.topic("will"))
        c = ctx.connected(will=Will(topic=names.topic("will"), payload=b"malformed"))
    else:
        c = ctx.connected()
    if c.connack is not None and ctx.level == 5:
        names = replace(names, alias_max=c.connack.properties.topic_alias_maximum or 0)
    send(c, row, ctx.level, names)
    expect_violation_close(ctx, c, row.title, codes=row.codes_v5 if ctx.level == 5 else None)
    if watcher is not None:
        expect_will(ctx, watcher, row.title)


def send(c: TestClient, row: Row, level: int, names: Names) -> None:
    try:
        data = row.build(level, names)
    except NotApplicable as exc:
        not_applicable(str(exc))
    c.send(data, note=row.title)


def judge_first(row: Row, ctx: CaseContext, c: TestClient) -> None:
    level = ctx.level
    if row.expect is Expect.CLOSE_OR_REFUSE or (
            row.expect is Expect.UNSUPPORTED_VERSION and level == 5):
        expect_close_any_refusal(ctx, c, row.title)
    elif row.expect in (Expect.REFUSE, Expect.UNSUPPORTED_VERSION) and level < 5:
        code = expect_violation_close(ctx, c, row.title, before_connack=True,
                                      codes=(row.connack or 0,))
        if code is None:
            fail(f"CONNACK return code 0x{row.connack or 0:02X}, then the connection closed",
                 "the connection closed without a CONNACK")
    else:  # CLOSE (a REFUSE row has no 5.0 form)
        expect_violation_close(ctx, c, row.title, before_connack=True,
                               codes=() if level < 5 else row.codes_v5)


def expect_will(ctx: CaseContext, watcher: TestClient, what: str) -> None:
    try:
        watcher.expect_publish()
    except WaitTimeout:
        fail(f"the Will published: {what} is no DISCONNECT that removes it",
             "no Will Message came")
    ctx.note("the Will was published")


V3_REFUSAL = b"\x20\x02\x00"  # CONNACK, Remaining Length 2, flags 0, then the return code


def expect_close_any_refusal(ctx: CaseContext, c: TestClient, what: str) -> None:
    """The connection closes, at most after one CONNACK refusal in the 3.x format (return
    code 1 to 5) or the 5.0 format (Reason Code >= 0x80)."""
    data = read_to_close(c, what)
    if not data:
        ctx.note(f"closed the connection after {what} without a packet")
        return
    if len(data) == 4 and data[:3] == V3_REFUSAL and 1 <= data[3] <= 5:
        ctx.note(f"sent a 3.x CONNACK 0x{data[3]:02X}, then closed")
        return
    try:
        packet = decode_packet(data, 5, peer="server")
    except ProtocolViolation as exc:
        fail(f"the connection closed after {what}, at most after a CONNACK refusal",
             f"received {data.hex(' ')} ({exc})")
    if not isinstance(packet, Connack) or packet.reason_code < 0x80:
        fail(f"the connection closed after {what}, at most after a CONNACK refusal",
             f"received {packet!r}")
    ctx.note(f"sent a 5.0 CONNACK 0x{packet.reason_code:02X}, then closed")


def read_to_close(c: TestClient, what: str) -> bytes:
    """Every byte the broker sends until it closes, undecoded (its answer may be in another
    version's format); fails the case if the connection stays open."""
    deadline = time.monotonic() + c.target.timeout
    received = bytearray()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            c.log.add(c.name, EventKind.TIMEOUT, "the connection stayed open")
            fail(f"the broker closes the connection after {what}",
                 "the connection stayed open")
        c.sock.settimeout(remaining)
        try:
            data = c.sock.recv(65536)
        except TimeoutError:
            continue
        except OSError as exc:  # reset by the broker
            c.log.add(c.name, EventKind.CLOSED_BY_BROKER, f"reset: {exc}")
            break
        if not data:
            c.log.add(c.name, EventKind.CLOSED_BY_BROKER, "EOF")
            break
        c.log.add(c.name, EventKind.RECEIVED, "bytes (read raw: any version's format)", data)
        received += data
    c.closed = True
    return bytes(received)
