"""Will Messages end to end (MQTT 3.1.1 section 3.1.2.5 to 3.1.2.7, MQTT 5 section 3.1.2.5
to 3.1.2.7 and 3.1.3.2).

Strategy: a watcher subscribes to the Will Topic before the client that carries the Will
connects; then the client's connection ends in one of the ways the spec names (closed without
DISCONNECT, a protocol violation, taken over, MQTT 5 DISCONNECT 0x04) and the watcher must
receive the Will, with its topic, payload, QoS and RETAIN as the spec says.  "No Will" needs
the broker to have finished with the connection before the watcher's PINGREQ barrier, so
those connections end in a way the broker itself completes and the case sees: the broker
closes them (after DISCONNECT, or after a second CONNECT, a Protocol Error).
"""

from __future__ import annotations

import time
from typing import Any

from conformance.case import CaseContext, case, fail, not_applicable
from conformance.cases.session import end_session, open_session, session_fields
from conformance.client import ClientError, TestClient, Unexpected, WaitTimeout
from mqttspec import Connect, Disconnect, Pingreq, Pingresp, Properties, Publish, RawPacket, Will

WILL_WAIT = 3.0  # seconds a watcher waits for a Will that is due now (the broker must notice
# the close first)


def watcher(ctx: CaseContext, topic: str, qos: int = 1, name: str = "watcher") -> TestClient:
    w = ctx.connected(name)
    w.subscribe(topic, qos=qos)
    return w


def will(ctx: CaseContext, topic: str, payload: bytes = b"", qos: int = 0, retain: bool = False,
         **props: Any) -> Will:
    properties = Properties(**props) if props and ctx.level == 5 else Properties()
    return Will(topic=topic, payload=payload or f"will of {ctx.case_id}".encode(), qos=qos,
                retain=retain, properties=properties)


def next_publish(w: TestClient, timeout: float) -> Publish:
    """The next PUBLISH within `timeout`, acknowledged; the watcher sends a PINGREQ each
    second meanwhile, so a Server Keep Alive cannot cut it off while it waits."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout(f"no PUBLISH within {timeout} s")
        try:
            packet = w.recv(timeout=min(1.0, remaining))
        except WaitTimeout:
            w.send(Pingreq(protocol_level=w.level))
            continue
        if isinstance(packet, Publish):
            w.ack(packet)
            return packet
        if not isinstance(packet, Pingresp):
            raise Unexpected("PUBLISH", packet)


def expect_will(w: TestClient, expected: Will, why: str, timeout: float = WILL_WAIT) -> Publish:
    """The Will Message, as the watcher receives it."""
    try:
        got = next_publish(w, timeout)
    except WaitTimeout:
        fail(f"the Will Message published ({why})", f"nothing within {timeout} s")
    except ClientError as exc:
        fail(f"the Will Message published ({why})", str(exc))
    if got.topic != expected.topic or got.payload != expected.payload:
        fail(f"the Will Message on {expected.topic!r}", repr(got))
    return got


def closed_by_broker(c: TestClient, after: str) -> None:
    """Wait for the broker to close `c` (it has then dealt with the connection's end)."""
    try:
        c.expect_close()
    except WaitTimeout:
        c.close()  # a broker may leave closing to the client after DISCONNECT (3.1.1)
        c.log.note(f"the broker did not close the connection after {after}")


def protocol_violation(ctx: CaseContext, c: TestClient, second_connect: bool = True) -> None:
    """A protocol violation the broker answers by closing: a second CONNECT (MQTT-3.1.0-2),
    or a PUBLISH with QoS 3 (MQTT-3.3.1-4)."""
    if second_connect:
        c.send(Connect(client_id=ctx.client_id("again"), protocol_level=ctx.level))
    else:
        c.send(RawPacket(3, 0b0110).string(ctx.topic("bad")).u16(1).build(), "PUBLISH QoS 3")
    closed_by_broker(c, "a protocol violation")


@case("will.published-on-abnormal-close",
      "The Will is published when the connection closes without DISCONNECT",
      v3="MQTT-3.1.2-8", v5=("MQTT-3.1.2-7", "MQTT-3.1.2-8"))
def abnormal_close(ctx: CaseContext) -> None:
    topic = ctx.topic("will")
    w = watcher(ctx, topic)
    expected = will(ctx, topic, qos=1)
    c = ctx.connected("client", will=expected)
    c.close()  # no DISCONNECT
    expect_will(w, expected, "the connection closed without DISCONNECT")


@case("will.published-on-protocol-violation",
      "The Will is published when the broker closes the connection for a protocol violation",
      v3="MQTT-3.1.2-8", v5="MQTT-3.1.2-8")
def protocol_error(ctx: CaseContext) -> None:
    topic = ctx.topic("will")
    w = watcher(ctx, topic)
    expected = will(ctx, topic, qos=1)
    c = ctx.connected("client", will=expected)
    protocol_violation(ctx, c, second_connect=False)
    expect_will(w, expected, "the broker closed the connection for a protocol violation")


@case("will.published-after-second-connect",
      "The Will is published when the broker closes the connection for a second CONNECT",
      v3=("MQTT-3.1.2-8", "MQTT-3.1.0-2"), v5=("MQTT-3.1.2-8", "MQTT-3.1.0-2"))
def second_connect(ctx: CaseContext) -> None:
    topic = ctx.topic("will")
    w = watcher(ctx, topic)
    expected = will(ctx, topic, qos=1)
    c = ctx.connected("client", will=expected)
    protocol_violation(ctx, c)  # MQTT-3.1.0-2: a protocol violation, not a DISCONNECT
    expect_will(w, expected, "the broker closed the connection after a second CONNECT")


@case("will.published-on-takeover",
      "The Will of a connection taken over by the same ClientId is published",
      v3=("MQTT-3.1.2-8", "MQTT-3.1.4-2"), v5=("MQTT-3.1.2-8", "MQTT-3.1.4-3"))
def takeover(ctx: CaseContext) -> None:
    topic, cid = ctx.topic("will"), ctx.client_id("t")
    w = watcher(ctx, topic)
    expected = will(ctx, topic, qos=1)
    ctx.connected("old", client_id=cid, will=expected)
    ctx.connected("new", client_id=cid)
    expect_will(w, expected, "the connection was taken over")


@case("will.removed-after-disconnect",
      "No Will after a normal DISCONNECT, nor later for the session, nor with Will Flag 0",
      v3=("MQTT-3.1.2-10", "MQTT-3.1.2-8", "MQTT-3.1.2-12"),
      v5=("MQTT-3.1.2-10", "MQTT-3.1.2-8"), level="MUST NOT")
def removed_after_disconnect(ctx: CaseContext) -> None:
    topic, cid = ctx.topic("will"), ctx.client_id("d")
    w = watcher(ctx, topic)
    c = open_session(ctx, "client", cid, will=will(ctx, topic, qos=1))
    c.send(Disconnect(protocol_level=ctx.level))  # normal: the Will is deleted
    closed_by_broker(c, "DISCONNECT")
    if got := w.no_publish():  # MQTT-3.1.2-8 / MQTT-3.1.2-10
        fail("no Will Message after a normal DISCONNECT", f"{got}")
    # the same session, now without a Will (Will Flag 0), ends by a protocol violation: the
    # deleted Will must not come back (MQTT-3.1.2-10), nor any other (MQTT-3.1.2-12)
    c = ctx.connected("again", client_id=cid, **session_fields(ctx, False))
    protocol_violation(ctx, c)
    if got := w.no_publish():
        fail("no Will Message: the first was deleted, the second connection had none",
             f"{got}")
    end_session(ctx, cid)


@case("will.retain-0-published-not-retained",
      "A Will with Will Retain 0 is published as a non-retained message",
      v3="MQTT-3.1.2-16", v5="MQTT-3.1.2-14")
def not_retained(ctx: CaseContext) -> None:
    topic = ctx.topic("will")
    w = watcher(ctx, topic)
    expected = will(ctx, topic, qos=1)
    ctx.connected("client", will=expected).close()
    got = expect_will(w, expected, "abnormal close")
    if got.retain:
        fail("RETAIN 0 on the Will delivered to an existing subscription", repr(got))
    late = ctx.connected("late")
    late.subscribe(topic, qos=1)
    if retained := late.no_publish():  # MQTT-3.1.2-16 / MQTT-3.1.2-14: nothing was retained
        fail("no retained message: the Will had Will Retain 0", f"{retained}")


@case("will.retain-1-published-retained",
      "A Will with Will Retain 1 is published as a retained message",
      v3="MQTT-3.1.2-17", v5="MQTT-3.1.2-15", needs=("retain_available",))
def retained(ctx: CaseContext) -> None:
    topic = ctx.topic("will")
    w = watcher(ctx, topic)
    expected = will(ctx, topic, qos=1, retain=True)
    ctx.retained_topics.add(topic)  # cleared when the case ends
    ctx.connected("client", will=expected).close()
    expect_will(w, expected, "abnormal close")
    late = ctx.connected("late")
    late.subscribe(topic, qos=1)
    try:
        got = late.expect_publish()
    except ClientError as exc:  # MQTT-3.1.2-17 / MQTT-3.1.2-15
        fail("the Will, retained, sent to a later subscriber", str(exc))
    if not got.retain or got.payload != expected.payload:
        fail("the retained Will with RETAIN 1", repr(got))


@case("will.qos-honoured",
      "A QoS 2 Will reaches QoS 2 and QoS 1 subscribers at QoS 2 and QoS 1",
      v3="MQTT-3.1.2-8", v5="MQTT-3.1.2-8")
def qos(ctx: CaseContext) -> None:
    if ctx.target.capabilities.maximum_qos < 2:
        not_applicable("the broker does not support QoS 2")
    topic = ctx.topic("will")
    w2 = watcher(ctx, topic, qos=2, name="qos2")
    w1 = watcher(ctx, topic, qos=1, name="qos1")
    expected = will(ctx, topic, qos=2)
    ctx.connected("client", will=expected).close()
    for w, want in ((w2, 2), (w1, 1)):
        got = expect_will(w, expected, "abnormal close")  # acknowledged: QoS 2 flow run
        if got.qos != want:
            fail(f"the QoS 2 Will at QoS {want} to a QoS {want} subscription", repr(got))


@case("will.v5-disconnect-with-will-message",
      "MQTT 5: DISCONNECT 0x04 (Disconnect with Will Message) publishes the Will",
      v5=("MQTT-3.1.2-8", "MQTT-3.1.2-10"), levels=(5,))
def disconnect_with_will(ctx: CaseContext) -> None:
    topic = ctx.topic("will")
    w = watcher(ctx, topic)
    expected = will(ctx, topic, qos=1)
    c = ctx.connected("client", will=expected)
    c.disconnect(reason_code=0x04)  # MQTT-3.1.2-8: only 0x00 deletes the Will
    expect_will(w, expected, "DISCONNECT 0x04")


@case("will.v5-user-properties-in-order",
      "MQTT 5: the Will's User Properties are published in their order",
      v5="MQTT-3.1.3-10", levels=(5,))
def user_properties(ctx: CaseContext) -> None:
    topic = ctx.topic("will")
    w = watcher(ctx, topic)
    pairs = (("k", "first"), ("other", "x"), ("k", "second"), ("a", "last"))
    expected = will(ctx, topic, qos=1, user_properties=pairs, content_type="text/plain")
    ctx.connected("client", will=expected).close()
    got = expect_will(w, expected, "abnormal close")
    if got.properties.user_properties != pairs:  # MQTT-3.1.3-10
        fail(f"User Properties {pairs}", f"{got.properties.user_properties}")
    if got.properties.content_type != "text/plain":
        ctx.note(f"Content Type not passed on: {got.properties.content_type!r}")
