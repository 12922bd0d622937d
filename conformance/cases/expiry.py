"""Message Expiry Interval (MQTT 5 section 3.3.2.3.3).

Strategy: a message waits in the server while its subscriber is offline (a session with a
Session Expiry Interval, Clean Start 0 on return) or as a retained message.  The cases use
the smallest interval the property can carry, 1 second, and wait 2.2 seconds with a bounded
read (never a sleep), so a server counting in whole seconds has passed the expiry whatever
its rounding.  A message that expired must not be delivered (MQTT-3.3.2-5); one that did not
must arrive with its interval reduced by the time it waited (MQTT-3.3.2-6).  The waiting time
is bracketed by what the case saw: at least from the publisher's PUBACK to the subscriber's
return, at most from the PUBLISH to its delivery, each end rounded to whole seconds.  Every
case also sends a control message without expiry (or with a long one): if it does not arrive,
the session was not kept and the case cannot judge (ERROR, not PASS).
"""

from __future__ import annotations

import math
import time

from conformance.case import CaseContext, SetupFailed, case, fail
from conformance.cases.properties_common import (
    SESSION_EXPIRY,
    nothing_more,
    publish,
    publishes,
    receive,
    subscribe,
    wait_quietly,
)
from conformance.client import TestClient
from mqttspec import Properties, Publish

WAIT = 2.2  # seconds: past a 1-second Message Expiry Interval, however the server rounds
LONG = 60  # a Message Expiry Interval that does not pass during a case


def _persistent(ctx: CaseContext, client_id: str, clean_start: bool) -> TestClient:
    c = ctx.connected("sub" if clean_start else "sub-back", client_id=client_id,
                      clean_start=clean_start,
                      properties=Properties(session_expiry_interval=SESSION_EXPIRY))
    if not clean_start:
        assert c.connack is not None
        if not c.connack.session_present:
            raise SetupFailed("the session was not kept while the subscriber was offline "
                              "(CONNACK Session Present 0): nothing to judge")
    return c


def _end_session(ctx: CaseContext, client_id: str) -> None:
    ctx.connected("end", client_id=client_id, clean_start=True).disconnect()


def _check_reduced(sent: int, got: Publish, waited: tuple[float, float], what: str) -> None:
    """MQTT-3.3.2-6: the interval received minus the time waited, in whole seconds."""
    low, high = waited
    lowest, highest = sent - math.ceil(high) - 1, sent - math.floor(low)  # 1 s of slack
    value = got.properties.message_expiry_interval
    expected = (f"{what} arrives with Message Expiry Interval {sent} minus the "
                f"{low:.1f}..{high:.1f} s it waited: {lowest}..{highest} (MQTT-3.3.2-6)")
    if value is None:
        fail(expected, f"no Message Expiry Interval on {got!r}")
    if not lowest <= value <= highest:
        fail(expected, f"Message Expiry Interval {value}")


@case("expiry.expired-message-not-delivered-after-reconnect",
      "A message whose expiry interval passed while the subscriber was offline is not "
      "delivered when it returns",
      v5=("MQTT-3.3.2-5",), levels=(5,))
def expired_not_delivered(ctx: CaseContext) -> None:
    topic, cid = ctx.topic("exp"), ctx.client_id("sub")
    sub = _persistent(ctx, cid, clean_start=True)
    subscribe(sub, topic, qos=1)
    sub.disconnect()
    pub = ctx.connected("pub")
    publish(pub, topic, b"expires after 1 s", qos=1,
            properties=Properties(message_expiry_interval=1))
    publish(pub, topic, b"control: no expiry", qos=1)
    wait_quietly(pub, WAIT, "the 1-second Message Expiry Interval passes")
    sub = _persistent(ctx, cid, clean_start=False)
    first = receive(sub, "the control message, queued while the subscriber was offline")
    if first.payload != b"control: no expiry":  # MQTT-3.3.2-5
        fail("the message whose 1-second expiry passed is not delivered (MQTT-3.3.2-5)",
             f"{first!r}, {WAIT} s after it was published")
    late = [p for p in publishes(nothing_more(sub, "PINGRESP")) if p.topic == topic]
    if late:
        fail("nothing after the control message", f"{late!r}")
    _end_session(ctx, cid)


@case("expiry.interval-reduced-after-waiting",
      "A message that waited for an offline subscriber arrives with its expiry interval "
      "reduced by the time it waited",
      v5=("MQTT-3.3.2-6",), levels=(5,))
def reduced_after_waiting(ctx: CaseContext) -> None:
    topic, cid = ctx.topic("red"), ctx.client_id("sub")
    sub = _persistent(ctx, cid, clean_start=True)
    subscribe(sub, topic, qos=1)
    sub.disconnect()
    pub = ctx.connected("pub")
    published = time.monotonic()
    publish(pub, topic, b"waits", qos=1, properties=Properties(message_expiry_interval=LONG))
    acked = time.monotonic()
    wait_quietly(pub, WAIT, "the message waits for the offline subscriber")
    returned = time.monotonic()
    sub = _persistent(ctx, cid, clean_start=False)
    got = receive(sub, "the message queued while the subscriber was offline")
    _check_reduced(LONG, got, (returned - acked, time.monotonic() - published),
                   "the queued message")
    _end_session(ctx, cid)


@case("expiry.interval-forwarded-to-online-subscriber",
      "A message delivered at once carries the Message Expiry Interval it was published with",
      v5=("MQTT-3.3.2-6",), levels=(5,))
def forwarded_online(ctx: CaseContext) -> None:
    topic = ctx.topic("online")
    subs = []
    for name, qos in (("sub0", 0), ("sub1", 1)):
        c = ctx.connected(name)
        subscribe(c, topic, qos=qos)
        subs.append(c)
    pub = ctx.connected("pub")
    published = time.monotonic()
    publish(pub, topic, b"expiring", qos=1, properties=Properties(message_expiry_interval=3600))
    for sub in subs:
        got = receive(sub, f"{sub.name} receives the message")
        _check_reduced(3600, got, (0.0, time.monotonic() - published), f"for {sub.name}, it")


@case("expiry.retained-message-expires",
      "A retained message expires with its Message Expiry Interval; one that has not expired "
      "is sent with the interval reduced",
      v5=("MQTT-3.3.2-5", "MQTT-3.3.2-6"), levels=(5,), needs=("retain_available",))
def retained_expires(ctx: CaseContext) -> None:
    short, long = ctx.topic("short"), ctx.topic("long")
    pub = ctx.connected("pub")
    published = time.monotonic()
    publish(pub, short, b"retained, expires after 1 s", qos=1, retain=True,
            properties=Properties(message_expiry_interval=1))
    publish(pub, long, b"retained, long expiry", qos=1, retain=True,
            properties=Properties(message_expiry_interval=LONG))
    acked = time.monotonic()
    wait_quietly(pub, WAIT, "the 1-second Message Expiry Interval passes")
    sub = ctx.connected("sub")
    subscribed = time.monotonic()
    subscribe(sub, short, qos=1)
    stale = publishes(nothing_more(sub, "no retained message: it expired"))
    if stale:  # MQTT-3.3.2-5
        fail("the retained message whose 1-second expiry passed is not sent to a new "
             "subscriber (MQTT-3.3.2-5)", f"{stale!r}")
    subscribe(sub, long, qos=1)
    got = receive(sub, "the retained message with the long expiry")
    _check_reduced(LONG, got, (subscribed - acked, time.monotonic() - published),
                   "the retained message")
