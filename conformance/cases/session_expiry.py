"""MQTT 5 Session Expiry Interval, on CONNECT and on DISCONNECT (MQTT 5 sections 3.1.2.11.2,
3.14.2.2.2 and 4.1).

Strategy: the session's life is read back through Session Present and through delivery: a
client subscribes, leaves with some expiry, and comes back with Clean Start 0; a publisher's
message in between shows whether the subscription survived.  Expiry that must pass is waited
for on an idle connection (`recv(timeout=...)`, bounded), with one second of slack beyond the
interval for brokers whose timers tick once a second.
"""

from __future__ import annotations

from conformance.case import CaseContext, case, fail
from conformance.cases.session import end_session, idle, resume
from conformance.client import ClientError, TestClient, WaitTimeout
from mqttspec import Disconnect, Properties, Publish


def subscribed(ctx: CaseContext, cid: str, topic: str, expiry: int | None) -> TestClient:
    c = ctx.connected("c1", client_id=cid, clean_start=True,
                      properties=Properties(session_expiry_interval=expiry))
    c.subscribe(topic, qos=1)
    return c


def judge_gone(ctx: CaseContext, cid: str, topic: str, pub: TestClient, why: str) -> None:
    """Back with Clean Start 0: the session must be gone (Session Present 0, no subscription)."""
    c, connack = resume(ctx, "back", cid)
    if connack.session_present:  # MQTT-4.1.0-2
        fail(f"Session Present 0: the session ended ({why})", repr(connack))
    pub.publish(topic, b"after the session ended", qos=1)
    if got := [p for p in c.no_publish() if isinstance(p, Publish)]:
        fail(f"no subscription left: the session ended ({why})", f"{got}")
    c.disconnect()
    end_session(ctx, cid)


@case("session.v5-expiry-0-ends-with-connection",
      "MQTT 5: with Session Expiry 0 (or absent) the session ends when the connection closes",
      v5=("MQTT-4.1.0-2", "MQTT-3.1.2-23"), levels=(5,))
def expiry_zero(ctx: CaseContext) -> None:
    pub = ctx.connected("pub")
    for expiry in (None, 0):
        cid, topic = ctx.client_id(f"z{expiry}"), ctx.topic("zero", str(expiry))
        subscribed(ctx, cid, topic, expiry).disconnect()
        judge_gone(ctx, cid, topic, pub, f"Session Expiry Interval {expiry}")


@case("session.v5-expiry-elapses",
      "MQTT 5: the session is discarded once its Session Expiry Interval has passed",
      v5="MQTT-4.1.0-2", levels=(5,))
def expiry_elapses(ctx: CaseContext) -> None:
    cid, topic = ctx.client_id("e"), ctx.topic("expiry")
    subscribed(ctx, cid, topic, 1).disconnect()
    pub = ctx.connected("pub")
    idle(pub, 2.5)  # 1 s of expiry, 1.5 s of slack
    judge_gone(ctx, cid, topic, pub, "Session Expiry Interval 1 s, 2.5 s ago")


@case("session.v5-disconnect-sets-expiry-0",
      "MQTT 5: a DISCONNECT with Session Expiry Interval 0 ends a session meant to last",
      v5="MQTT-4.1.0-2", levels=(5,))
def disconnect_expiry_zero(ctx: CaseContext) -> None:
    cid, topic = ctx.client_id("x"), ctx.topic("dx")
    c = subscribed(ctx, cid, topic, 60)
    c.disconnect(properties=Properties(session_expiry_interval=0))
    pub = ctx.connected("pub")
    judge_gone(ctx, cid, topic, pub, "DISCONNECT set Session Expiry Interval 0")


@case("session.v5-disconnect-extends-expiry",
      "MQTT 5: a DISCONNECT raising the Session Expiry Interval keeps the session longer",
      v5=("MQTT-3.1.2-23", "MQTT-3.1.2-5"), levels=(5,))
def disconnect_extends(ctx: CaseContext) -> None:
    cid, topic = ctx.client_id("l"), ctx.topic("longer")
    c = subscribed(ctx, cid, topic, 1)
    c.disconnect(properties=Properties(session_expiry_interval=60))
    pub = ctx.connected("pub")
    idle(pub, 2.0)  # the CONNECT's 1 s has passed; the DISCONNECT's 60 s has not
    pub.publish(topic, b"kept", qos=1)
    c, connack = resume(ctx, "back", cid)
    if not connack.session_present:  # MQTT-3.1.2-23: stored while the interval runs
        fail("Session Present 1: the DISCONNECT extended the session to 60 s", repr(connack))
    try:
        c.expect_publish()
    except ClientError as exc:
        fail("the message queued for the kept session", str(exc))
    c.disconnect()
    end_session(ctx, cid)


@case("session.v5-disconnect-expiry-after-zero-refused",
      "MQTT 5: a DISCONNECT setting a Session Expiry after CONNECT gave 0 is a Protocol Error; "
      "the session still ends", v5=("MQTT-4.13.1-1", "MQTT-4.1.0-2"), levels=(5,))
def disconnect_expiry_after_zero(ctx: CaseContext) -> None:
    cid, topic = ctx.client_id("p"), ctx.topic("pe")
    c = subscribed(ctx, cid, topic, 0)
    c.send(Disconnect(protocol_level=5, properties=Properties(session_expiry_interval=60)))
    try:
        got = c.expect_close()
    except WaitTimeout:  # MQTT-4.13.1-1: a Protocol Error closes the connection
        fail("the connection closed", "it stayed open")
    if got and not (isinstance(got[0], Disconnect) and got[0].reason_code >= 0x80):
        fail("at most a DISCONNECT with a failure Reason Code (0x82 advised)", f"{got}")
    ctx.note(f"answered {got[0]!r}" if got else "closed without a DISCONNECT")
    pub = ctx.connected("pub")
    judge_gone(ctx, cid, topic, pub, "the CONNECT's Session Expiry Interval 0 stands")
