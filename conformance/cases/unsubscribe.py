"""UNSUBSCRIBE and UNSUBACK (MQTT 3.1.1 sections 3.10-3.11, MQTT 5 sections 3.10-3.11).

Strategy: a subscriber and a publisher on separate connections.  Whether a subscription was
deleted is judged by the deliveries that follow, always beside a control subscription that
must keep delivering (so "nothing came" cannot be a broker that delivers nothing).  The
UNSUBACK must come for every UNSUBSCRIBE, with its Packet Identifier, even when nothing was
deleted; in MQTT 5 one Reason Code per filter, in order: 0x00 where a subscription was
deleted, 0x11 (No subscription existed) where none was.  Messages already on their way when
the subscription goes must still be completed: a QoS 2 flow on the same connection, a QoS 1
message re-sent on reconnection.
"""

from __future__ import annotations

from conformance.case import CaseContext, case, fail, not_applicable
from conformance.cases.subscribe_common import (
    check_routing,
    end_session,
    require_granted,
    route,
    settle,
    unsubscribe_raw,
)
from conformance.client import WaitTimeout
from mqttspec import Properties, Pubcomp, Pubrec, Pubrel, Unsuback, Unsubscribe

SUCCESS, NO_SUBSCRIPTION = 0x00, 0x11


def _codes(ctx: CaseContext, unsuback: Unsuback, expected: list[int], what: str) -> None:
    """MQTT 5: one Reason Code per filter, in order (MQTT-3.11.3-1, MQTT-3.11.3-2)."""
    if ctx.level == 5 and list(unsuback.reason_codes) != expected:
        fail(f"UNSUBACK Reason Codes {[f'{c:#04x}' for c in expected]} for {what} (0x00: "
             "deleted, 0x11: no subscription existed)",
             f"{[f'{c:#04x}' for c in unsuback.reason_codes]}")


@case("unsubscribe.unsuback-same-packet-id",
      "Every UNSUBSCRIBE gets an UNSUBACK carrying its Packet Identifier",
      v3=("MQTT-3.10.4-4",), v5=("MQTT-3.10.4-4", "MQTT-3.10.4-5"))
def unsuback_packet_id(ctx: CaseContext) -> None:
    c = ctx.connected()
    ids = [0x7F01, 0x0001, 0xFFFF]
    require_granted(c.subscribe(*(ctx.topic(str(n)) for n in range(len(ids)))), "filters")
    for n, pid in enumerate(ids):  # pipelined
        c.send(Unsubscribe(packet_id=pid, topic_filters=(ctx.topic(str(n)),),
                           protocol_level=ctx.level))
    acks = [p for p in c.barrier() if isinstance(p, Unsuback)]
    while len(acks) < len(ids):
        try:
            acks.append(c.expect(Unsuback))
        except WaitTimeout:
            break
    if len(acks) != len(ids):  # MQTT-3.10.4-4
        fail(f"an UNSUBACK for each of {len(ids)} UNSUBSCRIBEs", f"{len(acks)} UNSUBACKs")
    if sorted(a.packet_id for a in acks) != sorted(ids):  # MQTT-3.10.4-4 / -5
        fail(f"UNSUBACKs for Packet Identifiers {ids}",
             f"UNSUBACKs for {[a.packet_id for a in acks]}")
    for a in acks:
        _codes(ctx, a, [SUCCESS], "a filter that was subscribed")


@case("unsubscribe.stops-delivery",
      "After UNSUBSCRIBE no new message matching the filter is delivered",
      v3=("MQTT-3.10.4-1", "MQTT-3.10.4-2"), v5=("MQTT-3.10.4-1", "MQTT-3.10.4-2"))
def stops_delivery(ctx: CaseContext) -> None:
    sub, pub = ctx.connected("sub"), ctx.connected("pub")
    gone, kept = ctx.topic("gone"), ctx.topic("kept")
    require_granted(sub.subscribe(gone, kept, qos=1), "the subscriptions")
    [got] = route(pub, [(gone, b"before")], [(sub, {b"before"})])
    check_routing(got, {b"before": "the message sent while subscribed"}, {})
    _codes(ctx, unsubscribe_raw(sub, gone), [SUCCESS], "the subscribed filter")
    [got] = route(pub, [(gone, b"after"), (kept, b"control")], [(sub, {b"control"})])
    check_routing(got, {b"control": "the message to the filter still subscribed"},
                  {b"after": "a message to the unsubscribed filter"})


@case("unsubscribe.unsuback-when-nothing-deleted",
      "UNSUBSCRIBE from a filter never subscribed still gets an UNSUBACK (v5: 0x11)",
      v3=("MQTT-3.10.4-5",), v5=("MQTT-3.10.4-5", "MQTT-3.11.3-2"))
def unsuback_nothing_deleted(ctx: CaseContext) -> None:
    c = ctx.connected()
    try:
        unsuback = c.unsubscribe(ctx.topic("never"))
    except WaitTimeout:
        fail("an UNSUBACK though no subscription matched", "no UNSUBACK")
    _codes(ctx, unsuback, [NO_SUBSCRIPTION], "a filter never subscribed")


@case("unsubscribe.exact-filter-only",
      "UNSUBSCRIBE deletes only a subscription whose filter is character-for-character equal",
      v3=("MQTT-3.10.4-1",), v5=("MQTT-3.10.4-1",), needs=("wildcard_subscriptions",))
def exact_filter_only(ctx: CaseContext) -> None:
    sub, pub = ctx.connected("sub"), ctx.connected("pub")
    wild, exact = ctx.topic("+"), ctx.topic("a")
    require_granted(sub.subscribe(wild, exact, qos=1), "the subscriptions")
    # names and filters that match the subscriptions but are not equal to them
    near = [ctx.topic("b"), ctx.topic("#"), ctx.topic("A"), ctx.topic("a", "")]
    _codes(ctx, unsubscribe_raw(sub, *near), [NO_SUBSCRIPTION] * len(near),
           "filters equal to no subscription")
    [got] = route(pub, [(ctx.topic("b"), b"via-plus"), (exact, b"via-exact")],
                  [(sub, {b"via-plus", b"via-exact"})])
    check_routing(got, {b"via-plus": f"the message matched by {wild}, which was not "
                                     f"unsubscribed", b"via-exact": "the message to " + exact},
                  {})
    _codes(ctx, unsubscribe_raw(sub, wild), [SUCCESS], "the '+' filter")
    [got] = route(pub, [(ctx.topic("b"), b"plus-gone"), (exact, b"exact-kept")],
                  [(sub, {b"exact-kept"})])
    check_routing(got, {b"exact-kept": "the message to " + exact},
                  {b"plus-gone": f"a message only {wild} (unsubscribed) matches"})


@case("unsubscribe.several-filters-one-unsuback",
      "An UNSUBSCRIBE with several filters acts on each and gets one UNSUBACK",
      v3=("MQTT-3.10.4-6",), v5=("MQTT-3.10.4-6", "MQTT-3.11.3-1", "MQTT-3.11.3-2"))
def several_filters(ctx: CaseContext) -> None:
    sub, pub = ctx.connected("sub"), ctx.connected("pub")
    a, b, c, d = (ctx.topic(x) for x in "abcd")
    require_granted(sub.subscribe(a, c, d, qos=1), "the subscriptions")
    unsuback = unsubscribe_raw(sub, a, c, b)
    _codes(ctx, unsuback, [SUCCESS, SUCCESS, NO_SUBSCRIPTION], "filters a, c, b (never "
           "subscribed)")
    [got] = route(pub, [(a, b"to-a"), (c, b"to-c"), (d, b"to-d")], [(sub, {b"to-d"})])
    extra = [p for p in sub.no_publish() if isinstance(p, Unsuback)]
    if extra:  # MQTT-3.10.4-6: just one UNSUBACK
        fail("one UNSUBACK for the UNSUBSCRIBE", f"{1 + len(extra)} UNSUBACKs")
    check_routing(got, {b"to-d": "the message to filter d, still subscribed"},
                  {b"to-a": "a message to filter a (unsubscribed)",
                   b"to-c": "a message to filter c (unsubscribed, second in the packet)"})


@case("unsubscribe.completes-qos2-in-flight",
      "A QoS 2 delivery started before UNSUBSCRIBE is completed (PUBREC gets its PUBREL)",
      v3=("MQTT-3.10.4-3",), v5=("MQTT-3.10.4-3",))
def completes_qos2(ctx: CaseContext) -> None:
    if ctx.target.capabilities.maximum_qos < 2:
        not_applicable("the broker grants no QoS 2 subscription")
    sub, pub = ctx.connected("sub"), ctx.connected("pub")
    t = ctx.topic("q2")
    require_granted(sub.subscribe(t, qos=2), "the subscription")
    pub.publish(t, b"in-flight", qos=2)
    p = sub.expect_publish(ack=False)
    unsubscribe_raw(sub, t)
    if p.packet_id is None:
        fail("the message at QoS 2", f"{p!r}")
    sub.send(Pubrec(packet_id=p.packet_id, protocol_level=ctx.level))
    try:
        pubrel = sub.expect(Pubrel)
    except WaitTimeout:
        fail("PUBREL for the PUBREC of the message sent before UNSUBSCRIBE", "no PUBREL")
    if pubrel.packet_id != p.packet_id or pubrel.reason_code != 0:
        fail(f"PUBREL {p.packet_id} with Reason Code 0x00", f"{pubrel!r}")
    sub.send(Pubcomp(packet_id=p.packet_id, protocol_level=ctx.level))
    settle(sub)


@case("unsubscribe.completes-qos1-after-reconnect",
      "A QoS 1 message sent before UNSUBSCRIBE and not acknowledged is re-sent on resumption",
      v3=("MQTT-3.10.4-3",), v5=("MQTT-3.10.4-3",))
def completes_qos1(ctx: CaseContext) -> None:
    cid = ctx.client_id("s")
    expiry = Properties(session_expiry_interval=60) if ctx.level == 5 else Properties()
    sub = ctx.connected("sub", client_id=cid, clean_start=ctx.level == 5, properties=expiry)
    pub = ctx.connected("pub")
    t = ctx.topic("q1")
    try:
        require_granted(sub.subscribe(t, qos=1), "the subscription")
        pub.publish(t, b"unacknowledged", qos=1)
        first = sub.expect_publish(ack=False)
        unsubscribe_raw(sub, t)
        sub.close()  # no PUBACK, no DISCONNECT
        again = ctx.connected("resumed", client_id=cid, clean_start=False, properties=expiry)
        try:
            p = again.expect_publish()
        except WaitTimeout:
            fail("the unacknowledged QoS 1 message re-sent when the session resumes",
                 "nothing re-sent")
        if p.payload != first.payload:
            fail("the unacknowledged message re-sent", f"{p!r}")
        ctx.note(f"re-sent with DUP={int(p.dup)}, Packet Identifier {p.packet_id} "
                 f"(first {first.packet_id})")
        again.disconnect()
    finally:
        end_session(ctx, cid)


@case("unsubscribe.unsuback-within-maximum-packet-size",
      "MQTT 5: UNSUBACK diagnostics are left out rather than exceed the client's Maximum "
      "Packet Size", v5=("MQTT-3.11.2-1", "MQTT-3.11.2-2"), levels=(5,))
def unsuback_size(ctx: CaseContext) -> None:
    limit = 24
    c = ctx.connected(properties=Properties(maximum_packet_size=limit))
    # filters that were never subscribed: a reason to explain, in a Reason String
    unsuback = c.unsubscribe(ctx.topic("never", "subscribed", "1"), ctx.topic("never", "2"))
    size = len(c.decoder.last_raw)
    ctx.note(f"UNSUBACK {list(unsuback.reason_codes)} of {size} bytes, properties "
             f"{unsuback.properties!r}")
    if size > limit:
        fail(f"an UNSUBACK of at most {limit} bytes (the Maximum Packet Size we declared)",
             f"{size} bytes: {unsuback!r}")
