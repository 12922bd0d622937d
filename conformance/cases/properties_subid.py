"""Subscription Identifiers in the PUBLISH packets a server sends, and never from a client
(MQTT 5 sections 3.3.2.3.8 and 3.3.4).

Strategy: the identifiers a subscriber gave in SUBSCRIBE must come back on the messages its
subscriptions match, including the largest value a Variable Byte Integer holds, and none where
the matching subscription had none.  For overlapping subscriptions the spec allows one copy
carrying every matching identifier (any order, MQTT-3.3.4-4) or one copy per subscription,
each with its own identifier (MQTT-3.3.4-5): the case accepts both, notes which it saw, and
collects the copies with the barrier after the publisher's PUBACK (the message has been
routed by then).  A client that puts a Subscription Identifier in a PUBLISH breaks
MQTT-3.3.4-6, a Protocol Error the server may detect (then it closes the connection,
MQTT-4.13.1-1); the spec names no reaction beyond that, so a server may also ignore it, but
it must never hand the client's identifier to a subscriber whose subscription has none.
"""

from __future__ import annotations

from conformance.case import CaseContext, case, fail
from conformance.cases.properties_common import (
    answer_or_close,
    nothing_more,
    publish,
    publishes,
    raw_publish,
    receive,
    subscribe,
)
from mqttspec import Properties, RawProperties, Subscription

MAX_ID = 268_435_455  # the largest Variable Byte Integer (MQTT 5 section 1.5.5)


@case("properties.subscription-identifier-delivered",
      "A message carries the Subscription Identifier of the subscription it matched, and none "
      "when that subscription had none",
      v5=("MQTT-3.3.4-3",), levels=(5,), needs=("subscription_identifiers",))
def identifier_delivered(ctx: CaseContext) -> None:
    with_small, with_max, without = ctx.topic("one"), ctx.topic("max"), ctx.topic("none")
    sub = ctx.connected("sub")
    subscribe(sub, with_small, qos=1, properties=Properties(subscription_identifiers=(1,)))
    subscribe(sub, with_max, qos=2, properties=Properties(subscription_identifiers=(MAX_ID,)))
    subscribe(sub, without, qos=1)
    pub = ctx.connected("pub")
    expected = {with_small: (1,), with_max: (MAX_ID,), without: ()}
    for topic in expected:
        publish(pub, topic, topic.encode(), qos=1)
    seen: dict[str, tuple[int, ...]] = {}
    while len(seen) < len(expected):
        p = receive(sub, "one message per subscribed topic")
        seen[p.topic] = p.properties.subscription_identifiers
    for topic, ids in expected.items():
        if seen.get(topic) != ids:  # MQTT-3.3.4-3
            fail(f"the message on {topic!r} carries Subscription Identifiers {list(ids)} "
                 "(MQTT-3.3.4-3)", f"{list(seen.get(topic, ()))}")


@case("properties.subscription-identifiers-overlapping",
      "A message matching overlapping subscriptions carries their identifiers: all of them in "
      "one copy, or each copy its own",
      v5=("MQTT-3.3.4-3", "MQTT-3.3.4-4", "MQTT-3.3.4-5"), levels=(5,),
      needs=("subscription_identifiers", "wildcard_subscriptions"))
def overlapping(ctx: CaseContext) -> None:
    root = ctx.topic("ov")
    topic = f"{root}/a/b"
    sub = ctx.connected("sub")
    subscribe(sub, f"{root}/#", properties=Properties(subscription_identifiers=(11,)))
    subscribe(sub, f"{root}/a/+", properties=Properties(subscription_identifiers=(MAX_ID,)))
    subscribe(sub, Subscription(topic_filter=topic))  # no identifier
    pub = ctx.connected("pub")
    publish(pub, topic, b"overlap", qos=1)  # the PUBACK: the message has been routed
    copies = publishes(nothing_more(sub, "the copies of the message, then PINGRESP"))
    if not copies:
        fail("the message, matching three subscriptions, is delivered", "no PUBLISH came")
    wanted = {11, MAX_ID}
    ids = [p.properties.subscription_identifiers for p in copies]
    if len(copies) == 1:
        ctx.note("one copy for the three overlapping subscriptions")
        if sorted(ids[0]) != sorted(wanted):  # MQTT-3.3.4-4: every matching identifier
            fail("the single copy carries Subscription Identifiers 11 and 268435455, in any "
                 "order (MQTT-3.3.4-4)", f"{list(ids[0])}")
        return
    ctx.note(f"{len(copies)} copies, with identifiers {[list(i) for i in ids]}")
    union = [i for each in ids for i in each]
    strays = [i for i in union if i not in wanted]
    if strays or sorted(union) != sorted(wanted):  # MQTT-3.3.4-5: each copy its own
        fail("each copy carries the identifier of the subscription it is for, so that 11 and "
             "268435455 each come once (MQTT-3.3.4-5)", f"{[list(i) for i in ids]}")


@case("properties.subscription-identifier-from-client-not-forwarded",
      "A Subscription Identifier a client wrongly puts in a PUBLISH is never passed on: the "
      "server closes the connection (Protocol Error) or leaves the identifier out",
      v5=("MQTT-3.3.4-6", "MQTT-3.3.4-4", "MQTT-4.13.1-1"), levels=(5,))
def from_client(ctx: CaseContext) -> None:
    topic = ctx.topic("x")
    sub = ctx.connected("sub")
    subscribe(sub, topic, qos=1)  # no Subscription Identifier
    pub = ctx.connected("pub")
    pub.send(raw_publish(topic, RawProperties().add(0x0B, 7), qos=1, payload=b"sub id"),
             note="PUBLISH QoS 1 with Subscription Identifier 7 (raw)")
    reply, _ = answer_or_close(ctx, pub, "a PUBLISH with a Subscription Identifier from a client")
    if reply is not None:
        ctx.note(f"the broker did not treat it as a Protocol Error: it answered {reply!r}")
    for p in publishes(nothing_more(sub, "PINGRESP")):
        if p.properties.subscription_identifiers:  # MQTT-3.3.4-4: only the subscriber's own
            fail("the subscriber, whose subscription has no identifier, receives no "
                 "Subscription Identifier (MQTT-3.3.4-4)", f"{p!r}")
        ctx.note("the message was delivered without the identifier")
