"""DISCONNECT (MQTT 3.1.1 section 3.14, MQTT 5 section 3.14).

Strategy: the Will Message tells whether the broker took a DISCONNECT as a normal one.  An
observer subscribes to the Will topics of two clients; one sends DISCONNECT, half-closes and
reads until the broker closes (so the broker has processed it), the other drops its connection
without DISCONNECT: its Will must come (the control), the first one's never.  A DISCONNECT
the broker must not take as normal (reserved flag bits set; MQTT 5: a Session Expiry
Interval after a CONNECT that gave 0) must close the connection and leave the Will to be
published; MQTT 5 Reason Code 0x04 asks for it.  The DISCONNECT packets a broker sends are
read with the strict decoder, which refuses a Reason Code outside the table or sent by the
wrong side and a Session Expiry Interval from the server; nothing may follow one, the
connection must close after it, none may come before the CONNACK, and none may exceed the
Maximum Packet Size the client declared.
"""

from __future__ import annotations

from conformance.case import CaseContext, case, fail
from conformance.cases.subscribe_common import (
    drain_close,
    half_close,
    has_all,
    require_granted,
    settle,
    wait_for,
)
from conformance.client import BrokerClosed, ClientError, TestClient
from conformance.reactions import expect_violation_close, judge_close
from mqttspec import Disconnect, Packet, Properties, RawPacket, RawProperties, Will
from mqttspec.properties import PropType

DISCARDED = ("MQTT-3.14.4-3", "MQTT-3.1.2-10", "MQTT-3.1.2-8")


def _observer(ctx: CaseContext, *names: str) -> tuple[TestClient, dict[str, Will]]:
    """An observer subscribed to the Will topic of each client name."""
    wills = {n: Will(topic=ctx.topic("will", n), payload=f"will-{n}".encode(), qos=1)
             for n in names}
    obs = ctx.connected("observer")
    require_granted(obs.subscribe(*(w.topic for w in wills.values()), qos=1), "Will topics")
    return obs, wills


def _wills_seen(obs: TestClient, must: set[bytes]) -> set[bytes]:
    got = settle(obs)
    if wait_for(obs, got, has_all(must)):
        got.extend(settle(obs))
    return {p.payload for p in got}


@case("disconnect.will-discarded",
      "DISCONNECT discards the Will; a connection dropped without it publishes the Will",
      v3=DISCARDED, v5=DISCARDED)
def will_discarded(ctx: CaseContext) -> None:
    obs, wills = _observer(ctx, "polite", "dropped")
    polite = ctx.connected("polite", will=wills["polite"])
    dropped = ctx.connected("dropped", will=wills["dropped"])
    polite.send(Disconnect(protocol_level=ctx.level))
    half_close(polite)
    drain_close(polite)  # the broker has read the DISCONNECT once it closes its side
    dropped.close()  # no DISCONNECT
    seen = _wills_seen(obs, {b"will-dropped"})
    if b"will-dropped" not in seen:  # MQTT-3.1.2-8: the control
        fail("the Will of the client that closed without DISCONNECT", "not published")
    if b"will-polite" in seen:  # MQTT-3.14.4-3
        fail("no Will for the client that sent DISCONNECT", "its Will was published")


@case("disconnect.will-published-with-reason-0x04",
      "MQTT 5: DISCONNECT with Reason Code 0x04 has the Will published",
      v5=("MQTT-3.1.2-8",), levels=(5,))
def will_with_0x04(ctx: CaseContext) -> None:
    obs, wills = _observer(ctx, "c")
    c = ctx.connected("c", will=wills["c"])
    c.send(Disconnect(reason_code=0x04, protocol_level=5))
    half_close(c)
    drain_close(c)
    if b"will-c" not in _wills_seen(obs, {b"will-c"}):
        fail("the Will published after DISCONNECT 0x04 (Disconnect with Will Message)",
             "not published")


@case("disconnect.reserved-flags",
      "A DISCONNECT with reserved flag bits set closes the connection and leaves the Will",
      v3=("MQTT-3.14.1-1", "MQTT-4.8.0-1", "MQTT-3.1.2-8"),
      v5=("MQTT-3.14.1-1", "MQTT-4.13.1-1", "MQTT-3.1.2-8"), levels=(4, 5))
def reserved_flags(ctx: CaseContext) -> None:
    obs, wills = _observer(ctx, "c")
    c = ctx.connected("c", will=wills["c"])
    c.send(RawPacket(14, 0b0001).build(), "DISCONNECT with flags 0001")
    expect_violation_close(ctx, c, "a DISCONNECT with flags 0001")
    if b"will-c" not in _wills_seen(obs, {b"will-c"}):  # not a valid DISCONNECT
        fail("the Will published: a malformed DISCONNECT does not discard it",
             "not published")


@case("disconnect.session-expiry-after-zero",
      "MQTT 5: DISCONNECT setting a Session Expiry Interval after CONNECT gave 0 is a "
      "Protocol Error: the Will is not discarded", v5=("MQTT-4.13.1-1", "MQTT-3.1.2-8"),
      levels=(5,))
def expiry_after_zero(ctx: CaseContext) -> None:
    obs, wills = _observer(ctx, "c")
    c = ctx.connected("c", will=wills["c"])  # no Session Expiry Interval: 0
    c.send(Disconnect(properties=Properties(session_expiry_interval=30), protocol_level=5))
    expect_violation_close(ctx, c, "DISCONNECT with Session Expiry Interval 30")
    if b"will-c" not in _wills_seen(obs, {b"will-c"}):  # section 3.14.2.2.2
        fail("the Will published: the broker does not treat it as a valid DISCONNECT",
             "not published (the DISCONNECT was taken as normal)")


@case("disconnect.server-disconnect-well-formed",
      "MQTT 5: a DISCONNECT from the server has a server Reason Code, no Session Expiry "
      "Interval, nothing after it, and the connection closes",
      v5=("MQTT-3.14.2-1", "MQTT-3.14.2-2", "MQTT-3.14.4-1", "MQTT-3.14.4-2"), levels=(5,))
def server_disconnect(ctx: CaseContext) -> None:
    c = ctx.connected("bad")
    c.send(RawPacket(3, 0b0110).string(ctx.topic("q3")).u16(1).properties().build(),
           "PUBLISH with QoS 3")
    expect_violation_close(ctx, c, "a PUBLISH with QoS 3")
    first = ctx.connected("first", client_id=ctx.client_id("same"))
    ctx.connected("second", client_id=ctx.client_id("same"))  # takes the session over
    try:
        got = first.expect_close()
    except ClientError as exc:
        fail("the first connection closed when its session is taken over", str(exc))
    judge_close(ctx, got, "a session takeover", before_connack=False, codes=None)


@case("disconnect.none-before-connack",
      "MQTT 5: a CONNECT the server refuses gets no DISCONNECT (at most a CONNACK)",
      v5=("MQTT-3.14.0-1",), levels=(5,))
def none_before_connack(ctx: CaseContext) -> None:
    for what, props in (
            ("Receive Maximum 0", RawProperties().add(0x21, 0)),
            ("an unknown property 0x7F", RawProperties().add(0x7F, 1, PropType.BYTE))):
        c = ctx.client(level=5)
        c.send(RawPacket(1).string("MQTT").u8(5).u8(0x02).u16(0).properties(props)
               .string(ctx.client_id("r")).build(), f"CONNECT with {what}")
        expect_violation_close(ctx, c, f"a CONNECT with {what}", before_connack=True)


def _until_closed(c: TestClient) -> list[tuple[Packet, int]]:
    """Every packet, with its size in bytes, until the broker closes."""
    out: list[tuple[Packet, int]] = []
    while True:
        try:
            p = c.recv()
        except BrokerClosed:
            return out
        except ClientError as exc:
            fail("the connection closed after the Protocol Error", str(exc))
        out.append((p, len(c.decoder.last_raw)))


@case("disconnect.within-maximum-packet-size",
      "MQTT 5: a server DISCONNECT leaves its diagnostics out rather than exceed the "
      "client's Maximum Packet Size", v5=("MQTT-3.14.2-3", "MQTT-3.14.2-4"), levels=(5,))
def disconnect_size(ctx: CaseContext) -> None:
    limit = 24
    c = ctx.connected(properties=Properties(maximum_packet_size=limit))
    c.send(RawPacket(3, 0b0110).string(ctx.topic("a-long-topic-name")).u16(1).properties()
           .build(), "PUBLISH with QoS 3")
    got = _until_closed(c)
    ctx.note(f"before closing: {[(repr(p), n) for p, n in got]}")
    big = [(p, n) for p, n in got if n > limit]
    if big:
        fail(f"no packet over {limit} bytes (the Maximum Packet Size we declared)",
             f"{big[0][1]} bytes: {big[0][0]!r}")
