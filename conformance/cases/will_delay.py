"""MQTT 5 Will Delay Interval and its interplay with the session (MQTT 5 section 3.1.2.5 and
3.1.3.2.2).

Strategy: timing cases with the smallest intervals that still tell the behaviours apart (one
or two seconds), every wait bounded: the watcher's `recv(timeout=...)` is the only clock.  A
broker may publish late (its timers may tick once a second), never early: the Will must not
come before the delay has passed (a second of tolerance for brokers that count whole
seconds), must come once it has, and must come at once when the session ends first.  A
reconnection within the delay cancels it.
"""

from __future__ import annotations

import time

from conformance.case import CaseContext, case, fail
from conformance.cases.session import end_session, resume
from conformance.cases.will import WILL_WAIT, expect_will, next_publish, watcher, will
from conformance.client import WaitTimeout
from mqttspec import Properties

DELAY = 2  # seconds of Will Delay Interval


@case("will.v5-delay-postpones-publication",
      "MQTT 5: the Will is published once the Will Delay Interval has passed, not before",
      v5=("MQTT-3.1.2-8",), levels=(5,))
def delay_postpones(ctx: CaseContext) -> None:
    topic, cid = ctx.topic("will"), ctx.client_id("d")
    w = watcher(ctx, topic)
    expected = will(ctx, topic, qos=1, will_delay_interval=DELAY)
    c = ctx.connected("client", client_id=cid, will=expected,
                      properties=Properties(session_expiry_interval=60))
    c.close()
    closed_at = time.monotonic()
    got = expect_will(w, expected, f"Will Delay Interval {DELAY} s", timeout=DELAY + WILL_WAIT)
    after = time.monotonic() - closed_at
    # MQTT-3.1.2-8: published after the Will Delay Interval has elapsed
    if after < DELAY - 1:
        fail(f"the Will no sooner than {DELAY} s after the close (1 s tolerance)",
             f"it came after {after:.2f} s")
    if got.properties.will_delay_interval is not None:
        ctx.note("the published Will still carries the Will Delay Interval")
    ctx.note(f"published {after:.2f} s after the close")
    end_session(ctx, cid)


@case("will.v5-delay-cancelled-by-reconnection",
      "MQTT 5: a reconnection to the session within the Will Delay Interval withholds the Will",
      v5=("MQTT-3.1.3-9", "MQTT-3.1.2-8"), level="MUST NOT", levels=(5,))
def delay_cancelled(ctx: CaseContext) -> None:
    delay = 1
    topic, cid = ctx.topic("will"), ctx.client_id("r")
    w = watcher(ctx, topic)
    expected = will(ctx, topic, qos=1, will_delay_interval=delay)
    c = ctx.connected("client", client_id=cid, will=expected,
                      properties=Properties(session_expiry_interval=60))
    c.close()
    again, _ = resume(ctx, "again", cid)  # within the delay, to the same session
    try:  # MQTT-3.1.3-9: the Will is not sent, now nor once the delay would have passed
        got = next_publish(w, delay + 1.5)
    except WaitTimeout:
        got = None
    if got is not None:
        fail("no Will: the session got a new connection within the Will Delay Interval",
             repr(got))
    again.disconnect()
    end_session(ctx, cid)


@case("will.v5-session-end-publishes-before-delay",
      "MQTT 5: a session ending before the Will Delay Interval publishes the Will at once",
      v5=("MQTT-3.1.2-8", "MQTT-4.1.0-2"), levels=(5,))
def session_end_first(ctx: CaseContext) -> None:
    topic = ctx.topic("will")
    w = watcher(ctx, topic)
    expected = will(ctx, topic, qos=1, will_delay_interval=3600)
    c = ctx.connected("client", will=expected)  # Session Expiry 0: ends with the connection
    c.close()
    # MQTT-3.1.2-8: "after ... either the Will Delay Interval has elapsed or the Session ends"
    expect_will(w, expected, "the session ended (Session Expiry 0), Will Delay 3600 s")


@case("will.v5-session-expiry-ends-delay",
      "MQTT 5: a Session Expiry Interval shorter than the Will Delay Interval publishes the "
      "Will when the session expires", v5=("MQTT-3.1.2-8", "MQTT-4.1.0-2"), levels=(5,))
def session_expiry_first(ctx: CaseContext) -> None:
    topic = ctx.topic("will")
    w = watcher(ctx, topic)
    expected = will(ctx, topic, qos=1, will_delay_interval=3600)
    c = ctx.connected("client", will=expected, properties=Properties(session_expiry_interval=1))
    c.close()
    # MQTT-3.1.2-8: the session ends after 1 s, long before the Will Delay Interval
    expect_will(w, expected, "the session expired (1 s), Will Delay 3600 s",
                timeout=1 + WILL_WAIT)
