"""Session state across network connections (MQTT 3.1.1 sections 3.1.2.4, 3.1.4 and 4.1;
MQTT 5 sections 3.1.2.4, 3.1.2.11.2, 3.1.4 and 4.1).

Strategy: a client opens a session that outlives its connection (3.x: CleanSession 0; 5.0:
Clean Start 1 with a Session Expiry Interval of a minute), subscribes and leaves; a second
client publishes while it is away; the first comes back and what it gets (Session Present,
the queued QoS 1 and 2 messages, nothing for a session that should be gone) is the verdict.
"Nothing arrived" is proven with the PINGREQ barrier.  Every case ends its sessions (a Clean
Start connection that ends at once) so that nothing outlives it on the broker.
"""

from __future__ import annotations

import time
from typing import Any

from conformance.case import CaseContext, case, fail, non_strict
from conformance.cases.publish_common import end_session as end_session  # re-exported
from conformance.client import ClientError, TestClient, WaitTimeout
from mqttspec import Connack, Disconnect, Pingreq, Pingresp, Properties, Publish

EXPIRY = 60  # seconds: the Session Expiry Interval of a session meant to outlive its connection


def session_fields(ctx: CaseContext, clean: bool, expiry: int = EXPIRY) -> dict[str, Any]:
    """CONNECT fields for a session that outlives the connection (3.x: CleanSession 0)."""
    if ctx.level == 5:
        return {"clean_start": clean, "properties": Properties(session_expiry_interval=expiry)}
    return {"clean_start": False}


def open_session(ctx: CaseContext, name: str, client_id: str, **extra: Any) -> TestClient:
    """A new session for `client_id` that will outlive this connection."""
    return ctx.connected(name, client_id=client_id, **{**session_fields(ctx, True), **extra})


def resume(ctx: CaseContext, name: str, client_id: str, **extra: Any) -> tuple[TestClient, Connack]:
    """Reconnect to the session of `client_id` (Clean Start 0); fails the case if refused."""
    c = ctx.client(name)
    fields = {**session_fields(ctx, False), **extra}
    try:
        connack = c.connect(client_id, **fields)
    except ClientError as exc:
        fail(f"a CONNACK resuming the session of {client_id!r}", str(exc))
    if connack.reason_code != 0:
        fail(f"CONNACK 0x00 resuming the session of {client_id!r}", repr(connack))
    return c, connack


def idle(c: TestClient, seconds: float) -> None:
    """Let `seconds` pass on `c`, a PINGREQ each second so that no Keep Alive (the client's
    or a Server Keep Alive) ends it; anything but a PINGRESP arriving fails the case."""
    deadline = time.monotonic() + seconds
    pings = 0  # PINGREQs not yet answered
    while (remaining := deadline - time.monotonic()) > 0 or pings:
        try:
            got = c.recv(timeout=min(1.0, remaining) if remaining > 0 else None)
        except WaitTimeout:
            if remaining <= 0:
                fail(f"a PINGRESP for {c.name}", "none came")
            c.send(Pingreq(protocol_level=c.level))
            pings += 1
            continue
        if not isinstance(got, Pingresp):
            fail(f"nothing for {c.name} while it waits", repr(got))
        pings -= 1


@case("session.resumed-subscriptions-deliver",
      "A resumed session keeps its subscriptions: the message published later is delivered",
      v3=("MQTT-3.1.2-4", "MQTT-3.1.3-2", "MQTT-3.1.4-3", "MQTT-4.1.0-1"),
      v5=("MQTT-3.1.2-5", "MQTT-3.1.2-23", "MQTT-3.1.3-2", "MQTT-3.1.4-4"))
def resumed_subscriptions(ctx: CaseContext) -> None:
    cid, topic = ctx.client_id("s"), ctx.topic("resumed")
    c = open_session(ctx, "c1", cid)
    c.subscribe(topic, qos=1)
    c.disconnect()
    c, connack = resume(ctx, "c1-again", cid)
    # MQTT-3.1.2-4 / MQTT-3.1.2-5: communication resumes from the stored session state
    if not connack.session_present and ctx.level > 3:
        fail("Session Present 1: the session was stored", repr(connack))
    pub = ctx.connected("pub")
    pub.publish(topic, b"to the resumed session", qos=1)
    try:
        got = c.expect_publish()
    except ClientError as exc:
        fail("the subscription made before the reconnection still delivers", str(exc))
    if got.payload != b"to the resumed session":
        fail("the message published to the stored subscription", repr(got))
    c.disconnect()
    end_session(ctx, cid)


@case("session.offline-messages-queued",
      "QoS 1 and QoS 2 messages published while the client is away are delivered on return",
      v3=("MQTT-3.1.2-5", "MQTT-3.1.2-4", "MQTT-4.1.0-1"),
      v5=("MQTT-3.1.2-23", "MQTT-3.1.2-5"))
def offline_messages(ctx: CaseContext) -> None:
    cid = ctx.client_id("q")
    levels = range(1, min(2, ctx.target.capabilities.maximum_qos) + 1)  # QoS 1, 2 if offered
    topics = {q: ctx.topic("q", str(q)) for q in levels}
    c = open_session(ctx, "c1", cid)
    c.subscribe(*topics.values(), qos=2)
    c.disconnect()
    pub = ctx.connected("pub")
    for q, topic in topics.items():
        pub.publish(topic, f"qos{q} while away".encode(), qos=q)
    c, _ = resume(ctx, "c1-again", cid)
    got: dict[bytes, int] = {}
    for _ in topics:
        try:
            p = c.expect_publish()  # acknowledged as its QoS asks (QoS 2: PUBREC, PUBCOMP)
        except ClientError as exc:
            # MQTT-3.1.2-5 (3.1.1) / MQTT-3.1.2-23 (5.0): stored as part of the session
            fail("every message published while the client was away", f"{got}; then {exc}")
        got[p.payload] = p.qos
    if got != {f"qos{q} while away".encode(): q for q in topics}:
        fail("each message at the QoS it was published with", f"{got}")
    c.disconnect()
    end_session(ctx, cid)


@case("session.clean-start-discards-session",
      "Clean Start / CleanSession 1 discards the stored session, and its state is not reused",
      v3=("MQTT-3.1.2-6", "MQTT-3.1.4-3", "MQTT-3.2.2-1"),
      v5=("MQTT-3.1.2-4", "MQTT-3.1.4-4", "MQTT-3.2.2-2"))
def clean_start_discards(ctx: CaseContext) -> None:
    cid, topic = ctx.client_id("d"), ctx.topic("discarded")
    c = open_session(ctx, "c1", cid)
    c.subscribe(topic, qos=1)
    c.disconnect()
    pub = ctx.connected("pub")
    pub.publish(topic, b"queued for the old session", qos=1)
    c = ctx.connected("clean", client_id=cid, clean_start=True)
    assert c.connack is not None
    if c.connack.session_present:  # MQTT-3.2.2-1 / MQTT-3.2.2-2
        fail("Session Present 0 for a Clean Start connection", repr(c.connack))
    pub.publish(topic, b"after the clean start", qos=1)
    got = c.no_publish()
    if got:  # MQTT-3.1.2-6 / MQTT-3.1.2-4: no subscription, no queued message survives
        fail("nothing from the discarded session", f"{got}")
    c.disconnect()
    # 3.1.1 MQTT-3.1.2-6: the clean session's state is not reused by a later session
    c, connack = resume(ctx, "later", cid)
    if connack.session_present and ctx.level > 3:
        fail("Session Present 0: the clean session ended with its connection", repr(connack))
    pub.publish(topic, b"later still", qos=1)
    if got := c.no_publish():
        fail("no subscription in the later session", f"{got}")
    c.disconnect()
    end_session(ctx, cid)


@case("session.client-id-identifies-session",
      "Each ClientId resumes its own session, not another client's",
      v3=("MQTT-3.1.3-2", "MQTT-3.1.2-4"), v5=("MQTT-3.1.3-2", "MQTT-3.1.2-5"))
def client_id_identifies(ctx: CaseContext) -> None:
    ids = ctx.client_id("a"), ctx.client_id("b")
    topics = ctx.topic("id", "a"), ctx.topic("id", "b")
    for cid, topic in zip(ids, topics, strict=True):
        c = open_session(ctx, cid, cid)
        c.subscribe(topic, qos=1)
        c.disconnect()
    pub = ctx.connected("pub")
    for topic in topics:
        pub.publish(topic, topic.encode(), qos=1)
    for cid, topic in zip(ids, topics, strict=True):
        c, _ = resume(ctx, f"{cid}-again", cid)
        got = [p.topic for p in c.no_publish() if isinstance(p, Publish)]
        if got != [topic]:  # MQTT-3.1.3-2: the ClientId names the session state
            fail(f"{cid} gets the message of its own subscription only", f"topics {got}")
        c.disconnect()
        end_session(ctx, cid)


@case("session.takeover-closes-existing-connection",
      "A new connection with a connected ClientId closes the existing one (5.0: DISCONNECT "
      "0x8E first)", v3="MQTT-3.1.4-2", v5="MQTT-3.1.4-3")
def takeover(ctx: CaseContext) -> None:
    cid = ctx.client_id("t")
    old = ctx.connected("old", client_id=cid)
    new = ctx.connected("new", client_id=cid)
    try:
        got = old.expect_close()
    except WaitTimeout:  # MQTT-3.1.4-2 / MQTT-3.1.4-3: the existing client is disconnected
        fail("the existing connection is closed", "it stayed open")
    new.barrier()  # the new connection is the one served
    if ctx.level < 5:
        if got:
            fail("the close, with no packet", f"{got}")
        return
    # MQTT-3.1.4-3: at most a DISCONNECT 0x8E (Session taken over) before the close
    if got and (len(got) != 1 or not isinstance(got[0], Disconnect)
                or got[0].reason_code != 0x8E):
        fail("the close, at most after a DISCONNECT 0x8E (Session taken over)", f"{got}")
    ctx.note("sent DISCONNECT 0x8E, then closed" if got else "closed without a DISCONNECT")


@case("session.takeover-sends-disconnect-0x8e",
      "MQTT 5: the connection taken over is told so with DISCONNECT 0x8E before the close",
      v5="MQTT-3.1.4-3", level="SHOULD", levels=(5,))
def takeover_disconnect(ctx: CaseContext) -> None:
    cid = ctx.client_id("t")
    old = ctx.connected("old", client_id=cid)
    ctx.connected("new", client_id=cid)
    try:
        got = old.expect_close()
    except WaitTimeout:
        fail("the existing connection is closed", "it stayed open")
    # MQTT-3.1.4-3: "the Server sends a DISCONNECT packet to the existing Client with Reason
    # Code of 0x8E (Session taken over)" (no MUST on the DISCONNECT itself: the close is one)
    if not got:
        non_strict("DISCONNECT 0x8E (Session taken over) before the close",
                   "closed without a DISCONNECT")
    if not isinstance(got[0], Disconnect) or got[0].reason_code != 0x8E:
        fail("DISCONNECT 0x8E (Session taken over)", f"{got}")


@case("session.state-kept-while-connected",
      "The session is not discarded while its connection is open, however short its expiry",
      v3=("MQTT-4.1.0-2", "MQTT-4.1.0-1"), v5="MQTT-4.1.0-1", level="MUST NOT")
def kept_while_connected(ctx: CaseContext) -> None:
    topic = ctx.topic("alive")
    props = Properties(session_expiry_interval=1) if ctx.level == 5 else Properties()
    c = ctx.connected("c1", clean_start=True, properties=props)
    c.subscribe(topic, qos=1)
    if ctx.level == 5:  # outlast the one-second Session Expiry Interval while connected
        idle(c, 1.5)
    pub = ctx.connected("pub")
    pub.publish(topic, b"still subscribed", qos=1)
    try:
        c.expect_publish()
    except ClientError as exc:  # MQTT-4.1.0-1 (5.0) / MQTT-4.1.0-2 (3.1.1)
        fail("the subscription still delivers while the connection is open", str(exc))


@case("session.retained-messages-outlive-session",
      "Retained messages are not session state: they stay when the publisher's session ends",
      v3="MQTT-3.1.2-7", level="MUST NOT", levels=(3, 4), needs=("retain_available",))
def retained_outlive_session(ctx: CaseContext) -> None:
    topic = ctx.topic("kept")
    c = ctx.connected("publisher", clean_start=True)  # CleanSession 1: ends with the connection
    c.publish(topic, b"retained by a session that ends", qos=1, retain=True)
    c.disconnect()
    late = ctx.connected("late")
    late.subscribe(topic, qos=1)
    try:  # MQTT-3.1.2-7: the end of the publisher's session does not delete it
        got = late.expect_publish()
    except ClientError as exc:
        fail("the retained message, its publisher's session over", str(exc))
    if not got.retain or got.payload != b"retained by a session that ends":
        fail("the retained message with RETAIN 1", repr(got))
