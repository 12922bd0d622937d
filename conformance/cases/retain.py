"""Retained messages (MQTT 3.1.1 section 3.3.1.3, MQTT 5 section 3.3.1.3).

Strategy: a publisher stores, replaces or clears the retained message of a topic unique to
the case; a client that subscribes afterwards shows what the server kept (the message sent
because of a new subscription follows the SUBACK; the barrier proves there was none), and a
client subscribed beforehand shows how the same PUBLISH was forwarded to an established
subscription (RETAIN 0; MQTT 5: with the default Retain As Published 0, so MQTT-3.3.1-12
there; the other subscription options belong to the subscription cases).  Every case needs
retained messages (MQTT 5: Retain Available, read from the CONNACK); the context clears what
a case retained.
"""

from __future__ import annotations

from conformance.case import CaseContext, case, fail, non_strict
from conformance.cases.publish_common import expecting, nothing_more, publish, receive, require_qos
from conformance.client import TestClient
from mqttspec import Publish

NEEDS = ("retain_available",)


def _subscribe_new(ctx: CaseContext, name: str, topic_filter: str, qos: int = 2) -> TestClient:
    c = ctx.connected(name)
    with expecting(f"SUBACK for {topic_filter!r}"):
        c.subscribe(topic_filter, qos=qos)
    return c


def _retained(ctx: CaseContext, c: TestClient, what: str) -> Publish:
    p = receive(c, what)
    if not p.retain:  # MQTT-3.3.1-8 (5.0: section 3.3.1.3, Retain Handling 0)
        fail(f"{what}, with RETAIN 1: sent because of a new subscription", repr(p))
    return p


@case("retain.stored-for-new-subscriber",
      "A retained message is kept and sent, with RETAIN 1, to a client subscribing later",
      v3=("MQTT-3.3.1-5", "MQTT-3.3.1-6", "MQTT-3.3.1-8"),
      v5=("MQTT-3.3.1-5", "MQTT-3.3.1-9"), needs=NEEDS)
def stored(ctx: CaseContext) -> None:
    require_qos(ctx, 1)
    topic = ctx.topic("kept")
    publish(ctx.connected("pub"), topic, b"retained payload", qos=1, retain=True)
    sub = _subscribe_new(ctx, "late", topic)
    p = _retained(ctx, sub, "the retained message, after the SUBACK")
    if p.payload != b"retained payload" or p.topic != topic:
        fail("the retained message as published", repr(p))
    nothing_more(sub, "second retained message")


@case("retain.qos-stored",
      "A retained message keeps its QoS: it goes to new subscribers at the lower of that QoS "
      "and the granted one",
      v3=("MQTT-3.3.1-5", "MQTT-3.8.4-6"), v5=("MQTT-3.3.1-5", "MQTT-3.8.4-8"), needs=NEEDS)
def qos_stored(ctx: CaseContext) -> None:
    require_qos(ctx, 2)
    pub = ctx.connected("pub")
    for qos in (0, 1, 2):
        publish(pub, ctx.topic(f"q{qos}"), f"retained at {qos}".encode(), qos=qos, retain=True)
    for qos in (0, 1, 2):
        for requested in (2, 1):
            sub = ctx.connected(f"s{qos}{requested}")
            granted = sub.subscribe(ctx.topic(f"q{qos}"), qos=requested).reason_codes[0]
            p = _retained(ctx, sub, f"the message retained at QoS {qos}")
            want = min(qos, granted)
            if p.qos != want or p.payload != f"retained at {qos}".encode():
                fail(f"the message retained at QoS {qos} sent at QoS {want} to a "
                     f"subscription granted QoS {granted}", repr(p))


@case("retain.replaced-by-the-latest",
      "A new retained message replaces the previous one; new subscribers get only the latest",
      v3=("MQTT-3.3.1-5", "MQTT-3.3.1-6"), v5=("MQTT-3.3.1-5", "MQTT-3.3.1-9"), needs=NEEDS)
def replaced(ctx: CaseContext) -> None:
    require_qos(ctx, 2)
    topic = ctx.topic("replace")
    pub = ctx.connected("pub")
    for payload, qos in ((b"old", 1), (b"older?", 2), (b"latest", 1)):
        publish(pub, topic, payload, qos=qos, retain=True)
    sub = _subscribe_new(ctx, "late", topic)
    p = _retained(ctx, sub, "the latest retained message")
    if p.payload != b"latest":
        fail("only the last retained message (b'latest')", repr(p))
    nothing_more(sub, "other retained message for the same topic")


@case("retain.every-matching-topic",
      "A wildcard subscription receives the last retained message of every matching topic",
      v3=("MQTT-3.3.1-6", "MQTT-3.3.1-8"), v5=("MQTT-3.3.1-9", "MQTT-3.3.1-5"),
      needs=NEEDS + ("wildcard_subscriptions",))
def every_topic(ctx: CaseContext) -> None:
    require_qos(ctx, 1)
    pub = ctx.connected("pub")
    expected = {}
    for leaf in ("a", "b", "c/d"):
        topic = ctx.topic("many", leaf)
        publish(pub, topic, b"first " + leaf.encode(), qos=1, retain=True)
        publish(pub, topic, b"last " + leaf.encode(), qos=0, retain=True)
        expected[topic] = b"last " + leaf.encode()
    sub = _subscribe_new(ctx, "late", ctx.topic("many", "#"))
    got = {}
    for _ in expected:  # their order is not specified
        p = _retained(ctx, sub, f"a retained message for each of {sorted(expected)}")
        got[p.topic] = p.payload
    if got != expected:
        fail(f"{expected}", f"{got}")
    nothing_more(sub, "further retained message")


@case("retain.qos0-replaces",
      "A QoS 0 retained message discards the one retained before (and should be kept itself)",
      v3="MQTT-3.3.1-7", v5="MQTT-3.3.1-5", needs=NEEDS)
def qos0_replaces(ctx: CaseContext) -> None:
    require_qos(ctx, 1)
    topic = ctx.topic("q0")
    pub = ctx.connected("pub")
    publish(pub, topic, b"old at QoS 1", qos=1, retain=True)
    publish(pub, topic, b"new at QoS 0", qos=0, retain=True)
    sub = _subscribe_new(ctx, "late", topic)
    with expecting("at most the new QoS 0 retained message"):
        got = sub.no_publish()
    payloads = [p.payload for p in got if isinstance(p, Publish)]
    if b"old at QoS 1" in payloads:  # MQTT-3.3.1-7: MUST discard the previous one
        fail("the QoS 1 message retained before is discarded", f"received {got}")
    if payloads != [b"new at QoS 0"]:
        if ctx.level == 5:  # 5.0: "MUST replace any existing retained message ... and store"
            fail("the QoS 0 message is now the retained message", f"received {got}")
        non_strict("the QoS 0 message kept as the new retained message (3.1.1: SHOULD)",
                   f"received {got}")


@case("retain.flag-cleared-for-established-subscriptions",
      "A retained PUBLISH reaches already-subscribed clients with RETAIN 0",
      v3="MQTT-3.3.1-9", v5="MQTT-3.3.1-12", needs=NEEDS)
def flag_cleared(ctx: CaseContext) -> None:
    require_qos(ctx, 2)
    topic = ctx.topic("live")
    subs = {qos: _subscribe_new(ctx, f"sub{qos}", topic, qos) for qos in (0, 1, 2)}
    publish(ctx.connected("pub"), topic, b"live and retained", qos=2, retain=True)
    for qos, sub in subs.items():
        p = receive(sub, f"the QoS {qos} subscriber receives the message")
        if p.retain:  # MQTT-3.3.1-9 / MQTT-3.3.1-12 (Retain As Published 0)
            fail("RETAIN 0: the message matches an established subscription", repr(p))


@case("retain.empty-payload-clears",
      "An empty retained PUBLISH is delivered as usual and removes the topic's retained message",
      v3=("MQTT-3.3.1-10", "MQTT-3.3.1-11"), v5=("MQTT-3.3.1-6", "MQTT-3.3.1-7"), needs=NEEDS)
def empty_clears(ctx: CaseContext) -> None:
    require_qos(ctx, 1)
    topic = ctx.topic("clear")
    pub = ctx.connected("pub")
    publish(pub, topic, b"to be cleared", qos=1, retain=True)
    live = _subscribe_new(ctx, "live", topic, 1)
    _retained(ctx, live, "the retained message, before it is cleared")
    publish(pub, topic, b"", qos=1, retain=True)
    p = receive(live, "the empty message is forwarded to the existing subscriber")
    if p.payload or p.retain:  # "processed as normal": forwarded, RETAIN 0
        fail("an empty payload with RETAIN 0", repr(p))
    late = _subscribe_new(ctx, "late", topic)
    nothing_more(late, "retained message once an empty retained PUBLISH cleared it")


@case("retain.empty-payload-not-stored",
      "An empty retained PUBLISH to a topic without a retained message is not stored either",
      v3="MQTT-3.3.1-11", v5="MQTT-3.3.1-7", needs=NEEDS)
def empty_not_stored(ctx: CaseContext) -> None:
    require_qos(ctx, 2)
    topic = ctx.topic("empty")
    publish(ctx.connected("pub"), topic, b"", qos=2, retain=True)
    late = _subscribe_new(ctx, "late", topic)
    nothing_more(late, "retained message with a zero-byte payload")


@case("retain.non-retained-publish-leaves-it",
      "A RETAIN 0 PUBLISH (even an empty one) neither stores, replaces nor removes the "
      "retained message",
      v3="MQTT-3.3.1-12", v5="MQTT-3.3.1-8", needs=NEEDS)
def non_retained(ctx: CaseContext) -> None:
    require_qos(ctx, 2)
    kept, fresh = ctx.topic("kept"), ctx.topic("fresh")
    pub = ctx.connected("pub")
    publish(pub, kept, b"the retained one", qos=1, retain=True)
    for topic, payload, qos in ((kept, b"not retained", 1), (kept, b"", 0),
                                (fresh, b"not retained either", 2)):
        publish(pub, topic, payload, qos=qos, retain=False)
    late = _subscribe_new(ctx, "late", kept)
    p = _retained(ctx, late, "the message retained before the RETAIN 0 publications")
    if p.payload != b"the retained one":
        fail("b'the retained one', neither replaced nor removed", repr(p))
    nothing_more(late, "other retained message")
    nothing_more(_subscribe_new(ctx, "fresh", fresh), "retained message from a RETAIN 0 "
                 "PUBLISH")
