"""Message ordering (MQTT 3.1.1 section 4.6, MQTT 5 section 4.6).

Strategy: publishers send a numbered series on one topic and at one QoS without waiting for
the acknowledgements in between (pipelined: the flows overlap, as in real traffic), then
collect them; every subscriber must see the numbers of each publisher in increasing order.
Only the order per topic, per QoS and per publisher is required, so each case keeps to one
topic and one QoS, and interleaved publishers are judged one by one.  Within MQTT 5 the
pipeline stays below the server's Receive Maximum.  QoS 0 messages may be lost ("at most
once"): that case judges the order of what arrives and notes any loss.
"""

from __future__ import annotations

from conformance.case import CaseContext, case, fail
from conformance.cases.publish_common import expecting, pipeline, require_qos, window
from conformance.client import WaitTimeout

V3 = ("MQTT-4.6.0-5", "MQTT-4.6.0-6")
V5 = ("MQTT-4.6.0-5", "MQTT-4.6.0-6")


def _judge(subscriber: str, got: list[bytes], tags: list[str], n: int, lossy: bool) -> None:
    for tag in tags:
        mine = [int(p.split(b":")[1]) for p in got if p.startswith(tag.encode() + b":")]
        if mine != sorted(mine) or len(set(mine)) != len(mine):
            fail(f"{subscriber} receives {tag}'s messages in the order published "
                 "(MQTT-4.6.0-6 / 5.0 MQTT-4.6.0-5)", f"{mine}")
        if not lossy and mine != list(range(n)):
            fail(f"{subscriber} receives {tag}'s messages 0..{n - 1}", f"{mine}")


def _ordered(ctx: CaseContext, qos: int, n: int, publishers: int = 1) -> None:
    topic = ctx.topic(f"order{qos}")
    n = window(ctx, n)
    subs = []
    for i in range(2):
        sub = ctx.connected(f"sub{i}")
        sub.subscribe(topic, qos=2)
        subs.append(sub)
    pubs = [ctx.connected(f"pub{i}") for i in range(publishers)]
    tags = [f"p{i}" for i in range(publishers)]
    if publishers == 1:
        pipeline(pubs[0], topic, tags[0], n, qos)
    else:  # interleaved: one message from each publisher in turn, each flow completed
        for i in range(n):
            for pub, tag in zip(pubs, tags, strict=True):
                with expecting(f"the QoS {qos} flow of {tag}:{i:03} completes"):
                    pub.publish(topic, f"{tag}:{i:03}".encode(), qos=qos)
    total = n * publishers
    for i, sub in enumerate(subs):
        got: list[bytes] = []
        try:
            while len(got) < total:
                got.append(sub.expect_publish().payload)
        except WaitTimeout:
            if qos:  # at least once: every message must arrive
                fail(f"sub{i} receives all {total} QoS {qos} messages",
                     f"{len(got)} arrived, the last ones {got[-3:]}")
        if len(got) < total:
            ctx.note(f"sub{i} received {len(got)} of {total} QoS 0 messages")
        _judge(f"sub{i}", got, tags, n, lossy=qos == 0)
    ctx.note(f"{publishers} publisher(s) x {n} messages at QoS {qos}, order kept")


@case("ordering.same-topic-qos0",
      "QoS 0 messages of one publisher on one topic reach each subscriber in publishing order",
      v3=V3, v5=V5)
def order_qos0(ctx: CaseContext) -> None:
    _ordered(ctx, 0, 50)


@case("ordering.same-topic-qos1",
      "Pipelined QoS 1 messages of one publisher on one topic reach each subscriber in order",
      v3=V3, v5=V5)
def order_qos1(ctx: CaseContext) -> None:
    require_qos(ctx, 1)
    _ordered(ctx, 1, 40)


@case("ordering.same-topic-qos2",
      "Pipelined QoS 2 messages of one publisher on one topic reach each subscriber in order",
      v3=V3, v5=V5)
def order_qos2(ctx: CaseContext) -> None:
    require_qos(ctx, 2)
    _ordered(ctx, 2, 20)


@case("ordering.per-publisher-interleaved",
      "Two publishers interleaving QoS 1 messages on one topic: each one's order is kept",
      v3=V3, v5=V5)
def order_two_publishers(ctx: CaseContext) -> None:
    require_qos(ctx, 1)
    _ordered(ctx, 1, 15, publishers=2)
