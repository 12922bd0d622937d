"""SUBSCRIBE and SUBACK (MQTT 3.1.1 sections 3.8-3.9, MQTT 5 sections 3.8-3.9).

Strategy: what the SUBACK says is checked against what the broker then does.  A subscriber
and a publisher on separate connections: the Reason Codes of a SUBACK must be one per Topic
Filter, in order, and show the granted QoS, so the QoS each message then arrives at (the
lower of the published QoS and the granted one) ties every code to its filter; a code in the
wrong place or a QoS not applied shows in the deliveries.  Replacing a subscription (same
filter) is judged by what comes after it: one copy at the new QoS, retained messages sent
again, and no message lost on the way.  Size limits of MQTT 5 diagnostics are measured on
the bytes received.
"""

from __future__ import annotations

from conformance.case import CaseContext, case, fail
from conformance.cases.subscribe_common import (
    granted,
    has_all,
    payloads,
    require_granted,
    settle,
    subscribe_raw,
    wait_for,
)
from conformance.client import WaitTimeout
from mqttspec import Properties, Publish, Suback, Subscribe, Subscription

ALL = ("MQTT-3.8.4-1", "MQTT-3.8.4-2")


@case("subscribe.suback-same-packet-id",
      "Every SUBSCRIBE gets a SUBACK carrying its Packet Identifier",
      v3=ALL, v5=ALL)
def suback_packet_id(ctx: CaseContext) -> None:
    c = ctx.connected()
    ids = [0x1234, 0x00FF, 0xFFFF]
    for n, pid in enumerate(ids):  # pipelined: three SUBSCRIBEs in a row
        c.send(Subscribe(packet_id=pid, subscriptions=(Subscription(topic_filter=ctx.topic(
            str(n))),), protocol_level=ctx.level))
    acks = [p for p in c.barrier() if isinstance(p, Suback)]
    while len(acks) < len(ids):  # a late SUBACK is still a SUBACK
        try:
            acks.append(c.expect(Suback))
        except WaitTimeout:
            break
    if len(acks) != len(ids):  # MQTT-3.8.4-1
        fail(f"a SUBACK for each of {len(ids)} SUBSCRIBEs", f"{len(acks)} SUBACKs")
    if sorted(a.packet_id for a in acks) != sorted(ids):  # MQTT-3.8.4-2
        fail(f"SUBACKs for Packet Identifiers {ids}",
             f"SUBACKs for {[a.packet_id for a in acks]}")


@case("subscribe.suback-code-per-filter-in-order",
      "One SUBACK code per filter, in order, each the QoS then applied to that filter",
      v3=("MQTT-3.8.4-4", "MQTT-3.8.4-5", "MQTT-3.9.3-1", "MQTT-3.9.3-2"),
      v5=("MQTT-3.8.4-5", "MQTT-3.8.4-6", "MQTT-3.8.4-7", "MQTT-3.9.3-1", "MQTT-3.9.3-2"))
def code_per_filter(ctx: CaseContext) -> None:
    sub, pub = ctx.connected("sub"), ctx.connected("pub")
    requested = [2, 0, 1]
    topics = [ctx.topic(f"f{n}") for n in range(len(requested))]
    suback = sub.subscribe(*(Subscription(topic_filter=t, qos=q)
                             for t, q in zip(topics, requested, strict=True)))
    codes = granted(ctx, suback, requested, "a SUBSCRIBE with 3 filters")  # MQTT-3.8.4-5
    top = ctx.target.capabilities.maximum_qos
    for n, t in enumerate(topics):
        pub.publish(t, f"m{n}".encode(), qos=max(1, top))
    want = {f"m{n}".encode() for n, code in enumerate(codes) if code < 0x80}
    got = settle(sub)
    if wait_for(sub, got, has_all(want)):
        got.extend(settle(sub))
    for n, code in enumerate(codes):
        copies = [p for p in got if p.payload == f"m{n}".encode()]
        if code >= 0x80:  # a refused filter: nothing may come for it
            if copies:
                fail(f"no message for filter {n + 1}, refused with {code:#04x}",
                     f"received {copies}")
            continue
        expected = min(max(1, top), code)  # MQTT-3.8.4-6 / MQTT-3.8.4-8
        if len(copies) != 1 or copies[0].qos != expected:
            # MQTT-3.9.3-1: the code in position n is the QoS granted to filter n
            fail(f"filter {n + 1} (requested QoS {requested[n]}) granted {code} by the "
                 f"SUBACK {codes}, so one copy at QoS {expected}",
                 f"{len(copies)} copies at QoS {[p.qos for p in copies]}")


@case("subscribe.qos-is-min-of-published-and-granted",
      "Each message arrives at the lower of its published QoS and the granted QoS",
      v3=("MQTT-3.8.4-6",), v5=("MQTT-3.8.4-8",))
def qos_downgrade(ctx: CaseContext) -> None:
    sub, pub = ctx.connected("sub"), ctx.connected("pub")
    top = ctx.target.capabilities.maximum_qos
    qos_levels = range(top + 1)
    topics = [ctx.topic(f"g{q}") for q in range(3)]
    suback = sub.subscribe(*(Subscription(topic_filter=t, qos=q) for q, t in enumerate(topics)))
    require_granted(suback, "the subscriptions")
    codes = list(suback.reason_codes)
    for g, t in enumerate(topics):
        for q in qos_levels:
            pub.publish(t, f"g{g}p{q}".encode(), qos=q)
    pub.publish(ctx.topic("end"), b"", qos=1)  # its PUBACK: every QoS 0 one was routed too
    want = {f"g{g}p{q}".encode() for g in range(3) for q in qos_levels}
    got = settle(sub)
    if wait_for(sub, got, has_all(want)):
        got.extend(settle(sub))
    wrong = []
    for g in range(3):
        for q in qos_levels:
            copies = [p.qos for p in got if p.payload == f"g{g}p{q}".encode()]
            if copies != [min(q, codes[g])]:
                wrong.append(f"published QoS {q} to a QoS {codes[g]} subscription: {copies}")
    if wrong:
        fail("each message once, at min(published QoS, granted QoS)", "; ".join(wrong))


@case("subscribe.same-filter-replaces-subscription",
      "SUBSCRIBE to a filter already subscribed replaces it: one copy, at the new QoS",
      v3=("MQTT-3.8.4-3",), v5=("MQTT-3.8.4-3",))
def replace_subscription(ctx: CaseContext) -> None:
    sub, pub = ctx.connected("sub"), ctx.connected("pub")
    t = ctx.topic("r")
    top = ctx.target.capabilities.maximum_qos
    for n, qos in enumerate((0, top, 1 if top else 0)):
        require_granted(sub.subscribe(t, qos=qos), f"subscription #{n + 1}")
        pub.publish(t, f"after-{n}".encode(), qos=max(1, top))
        got = settle(sub)
        if wait_for(sub, got, has_all({f"after-{n}".encode()})):
            got.extend(settle(sub))
        copies = [p.qos for p in got if p.payload == f"after-{n}".encode()]
        if copies != [min(qos, max(1, top))]:
            fail(f"after SUBSCRIBE #{n + 1} (QoS {qos}) to the same filter, one copy at QoS "
                 f"{min(qos, max(1, top))}: the subscription replaced",
                 f"copies at QoS {copies}")


@case("subscribe.same-filter-twice-in-one-packet",
      "A SUBSCRIBE naming one filter twice acts as two SUBSCRIBEs: the second replaces",
      v3=("MQTT-3.8.4-4", "MQTT-3.8.4-3"), v5=("MQTT-3.8.4-5", "MQTT-3.8.4-3"))
def same_filter_twice(ctx: CaseContext) -> None:
    sub, pub = ctx.connected("sub"), ctx.connected("pub")
    t = ctx.topic("twice")
    top = ctx.target.capabilities.maximum_qos
    suback = sub.subscribe(Subscription(topic_filter=t, qos=0), Subscription(topic_filter=t,
                                                                             qos=top))
    codes = granted(ctx, suback, (0, top), "a SUBSCRIBE naming the filter twice")
    require_granted(suback, "the subscriptions")
    pub.publish(t, b"one", qos=max(1, top))
    got = settle(sub)
    if wait_for(sub, got, has_all({b"one"})):
        got.extend(settle(sub))
    copies = [p.qos for p in got if p.payload == b"one"]
    if copies != [min(codes[1], max(1, top))]:
        fail(f"one subscription, the second one (QoS {codes[1]}): one copy at QoS "
             f"{min(codes[1], max(1, top))}", f"copies at QoS {copies}")


@case("subscribe.replace-resends-retained",
      "Replacing a subscription sends the matching retained messages again",
      v3=("MQTT-3.8.4-3",), v5=("MQTT-3.8.4-4",), needs=("retain_available",))
def replace_resends_retained(ctx: CaseContext) -> None:
    sub, pub = ctx.connected("sub"), ctx.connected("pub")
    t = ctx.topic("kept")
    pub.publish(t, b"retained", qos=1, retain=True)
    for n in (1, 2):  # v5: Retain Handling 0, the default
        require_granted(subscribe_raw(sub, Subscription(topic_filter=t, qos=1)),
                        f"subscription #{n}")
        got = settle(sub)
        if wait_for(sub, got, has_all({b"retained"})):
            got.extend(settle(sub))
        copies = [p for p in got if p.payload == b"retained"]
        if len(copies) != 1:
            fail(f"the retained message once after SUBSCRIBE #{n}"
                 + (" (the same filter: the subscription is replaced)" if n == 2 else ""),
                 f"{len(copies)} copies")
        ctx.note(f"SUBSCRIBE #{n}: retained message with RETAIN={int(copies[0].retain)}")


@case("subscribe.replace-loses-no-message",
      "Messages queued or sent before a subscription is replaced are all delivered",
      v3=("MQTT-3.8.4-3",), v5=("MQTT-3.8.4-4",))
def replace_loses_nothing(ctx: CaseContext) -> None:
    # MQTT 5: Receive Maximum 1 keeps messages queued on the broker while we replace
    props = Properties(receive_maximum=1) if ctx.level == 5 else Properties()
    sub, pub = ctx.connected("sub", properties=props), ctx.connected("pub")
    t = ctx.topic("flow")
    require_granted(sub.subscribe(t, qos=1), "the subscription")
    for n in (1, 2, 3):
        pub.publish(t, f"m{n}".encode(), qos=1)
    first = sub.expect_publish(ack=False)
    require_granted(subscribe_raw(sub, Subscription(topic_filter=t, qos=1)), "the replacement")
    sub.ack(first)
    pub.publish(t, b"m4", qos=1)
    got: list[Publish] = [first]
    got.extend(settle(sub))
    want = {b"m1", b"m2", b"m3", b"m4"}
    if wait_for(sub, got, has_all(want)):
        got.extend(settle(sub))
    missing = sorted(want - set(payloads(got)))
    if missing:
        fail("m1..m4 all delivered: replacing a subscription interrupts no flow",
             f"never received {[m.decode() for m in missing]}")
    if len(got) > len(want):
        ctx.note(f"{len(got) - len(want)} duplicate deliveries: {payloads(got)}")


@case("subscribe.suback-within-maximum-packet-size",
      "MQTT 5: SUBACK diagnostics are left out rather than exceed the client's Maximum Packet "
      "Size", v5=("MQTT-3.9.2-1", "MQTT-3.9.2-2"), levels=(5,))
def suback_size(ctx: CaseContext) -> None:
    limit = 24
    c = ctx.connected(properties=Properties(maximum_packet_size=limit))
    filters = [ctx.topic("size", str(n)) for n in range(3)]
    suback = c.subscribe(*filters, qos=1)
    size = len(c.decoder.last_raw)
    ctx.note(f"SUBACK {list(suback.reason_codes)} of {size} bytes, properties "
             f"{suback.properties!r}")
    if size > limit:
        fail(f"a SUBACK of at most {limit} bytes (the Maximum Packet Size we declared)",
             f"{size} bytes: {suback!r}")
