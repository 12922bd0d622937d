"""Overlapping subscriptions of one client (MQTT 3.1.1 section 3.3.5, MQTT 5 section 3.3.4).

Strategy: one subscriber holds three filters that all match one Topic Name (a '+' filter, a
'#' filter and the exact name) at different QoS; a publisher sends one message to that name.
MQTT 3.1.1 asks for the message delivered respecting the maximum QoS of the matches: one copy
at that QoS (MQTT-3.3.5-1).  MQTT 5 allows one copy or one per subscription; whichever the
broker chose is recorded, and judged by its own rule: a copy at the maximum QoS, and the
Subscription Identifiers of the matching subscriptions (all of them in a single copy, or
each copy with its own).
"""

from __future__ import annotations

from conformance.case import CaseContext, case, fail
from conformance.cases.subscribe_common import has_all, require_granted, settle, wait_for
from conformance.client import TestClient
from mqttspec import Properties, Publish, Subscription


def _gather(sub: TestClient, payload: bytes) -> list[Publish]:
    got = settle(sub)
    if wait_for(sub, got, has_all({payload})):
        got.extend(settle(sub))
    return [p for p in got if p.payload == payload]


@case("subscribe.overlap-maximum-qos",
      "A message matching several subscriptions of a client arrives at their maximum QoS",
      v3=("MQTT-3.3.5-1",), v5=("MQTT-3.3.4-2",), needs=("wildcard_subscriptions",))
def overlap_maximum_qos(ctx: CaseContext) -> None:
    sub, pub = ctx.connected("sub"), ctx.connected("pub")
    top = ctx.target.capabilities.maximum_qos
    subs = [Subscription(topic_filter=ctx.topic("o", "+"), qos=0),
            Subscription(topic_filter=ctx.topic("o", "#"), qos=top),
            Subscription(topic_filter=ctx.topic("o", "a"), qos=min(1, top))]
    suback = sub.subscribe(*subs)
    require_granted(suback, "the three overlapping subscriptions")
    best = max(suback.reason_codes)
    for qos in sorted({top, min(1, top)}, reverse=True):
        payload = f"published-at-{qos}".encode()
        pub.publish(ctx.topic("o", "a"), payload, qos=max(1, qos))
        copies = _gather(sub, payload)
        want = min(max(1, qos), best)
        seen = [p.qos for p in copies]
        ctx.note(f"QoS {max(1, qos)} message, subscriptions granted "
                 f"{list(suback.reason_codes)}: copies at QoS {seen}")
        if want not in seen:
            fail(f"the message delivered at QoS {want}, the maximum of the matching "
                 f"subscriptions (granted {list(suback.reason_codes)})",
                 f"copies at QoS {seen}" if seen else "no copy")
        if ctx.level < 5 and len(seen) > 1:  # MQTT 3.1.1: the message, respecting the max
            fail(f"one copy at QoS {want}", f"{len(seen)} copies at QoS {seen}")


@case("subscribe.overlap-subscription-identifiers",
      "MQTT 5: a message matching several subscriptions carries their Subscription "
      "Identifiers", v5=("MQTT-3.3.4-3", "MQTT-3.3.4-4", "MQTT-3.3.4-5"), levels=(5,),
      needs=("wildcard_subscriptions", "subscription_identifiers"))
def overlap_identifiers(ctx: CaseContext) -> None:
    sub, pub = ctx.connected("sub"), ctx.connected("pub")
    for topic_filter, sid in ((ctx.topic("i", "+"), 1), (ctx.topic("i", "#"), 2),
                              (ctx.topic("i", "a"), None)):
        props = Properties(subscription_identifiers=(sid,)) if sid else Properties()
        require_granted(sub.subscribe(topic_filter, qos=1, properties=props), topic_filter)
    pub.publish(ctx.topic("i", "b", "c"), b"one-match", qos=1)  # matches '#' only
    copies = _gather(sub, b"one-match")
    ids = [p.properties.subscription_identifiers for p in copies]
    if ids != [(2,)]:  # MQTT-3.3.4-3
        fail("one copy carrying Subscription Identifier 2 (the only matching subscription)",
             f"copies with identifiers {ids}")
    pub.publish(ctx.topic("i", "a"), b"three-matches", qos=1)
    copies = _gather(sub, b"three-matches")
    ids = [p.properties.subscription_identifiers for p in copies]
    ctx.note(f"{len(copies)} copies for three overlapping subscriptions, identifiers {ids}")
    if not copies:
        fail("the message delivered", "no copy")
    if len(copies) == 1:
        if sorted(ids[0]) != [1, 2]:  # MQTT-3.3.4-4: every identifier, in any order
            fail("a single copy carrying Subscription Identifiers 1 and 2", f"{ids[0]}")
        return
    # MQTT-3.3.4-5: several copies, each with the identifier of its own subscription
    carried = sorted(i for one in ids for i in one)
    if any(len(one) > 1 for one in ids) or carried != [1, 2] or len(copies) > 3:
        fail("one copy per matching subscription, each carrying its own identifier "
             "(1, 2 and none)", f"copies with identifiers {ids}")
