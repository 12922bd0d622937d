"""MQTT 5 subscription options and Subscription Identifiers (sections 3.8.2.1.2, 3.8.3.1).

Strategy: each option is judged by the PUBLISH packets it shapes, beside a control that the
option must not affect.  No Local: the publisher's own subscription stays silent while another
client's, and the publisher's own subscription to another topic, deliver.  Retain As
Published: the RETAIN flag of a live message as the publisher set it, or 0.  Retain
Handling: the retained message sent on every SUBSCRIBE (0), on the first only (1), never (2),
each followed by a live message that must still come.  Subscription Identifiers: each copy
carries the identifier of the subscription it was sent for (none for a subscription without
one), retained copies too, and a replaced subscription's new identifier (or its absence).
"""

from __future__ import annotations

from conformance.case import CaseContext, case, fail, not_applicable
from conformance.cases.subscribe_common import (
    check_routing,
    expect_refusal,
    has_all,
    require_granted,
    route,
    settle,
    subscribe_raw,
    wait_for,
)
from conformance.client import TestClient
from conformance.reactions import expect_violation_close
from mqttspec import Properties, Publish, RawPacket, RawProperties, Subscribe, Subscription

V5 = (5,)


def _sub(topic_filter: str, **options: object) -> Subscription:
    return Subscription(topic_filter=topic_filter, qos=1, **options)  # type: ignore[arg-type]


def _after(sub: TestClient, payload: bytes, expected: bool) -> list[Publish]:
    """Copies of `payload` that reached `sub`: waited for when expected, else settled."""
    got = settle(sub)
    if expected and wait_for(sub, got, has_all({payload})):
        got.extend(settle(sub))
    return [p for p in got if p.payload == payload]


@case("subopts.no-local",
      "No Local 1: the client's own messages are not sent back to it on that subscription",
      v5=("MQTT-3.8.3-3",), levels=V5)
def no_local(ctx: CaseContext) -> None:
    me, other = ctx.connected("me"), ctx.connected("other")
    quiet, loud = ctx.topic("quiet"), ctx.topic("loud")
    require_granted(me.subscribe(_sub(quiet, no_local=True), _sub(loud)), "my subscriptions")
    require_granted(other.subscribe(quiet), "the other client's subscription")
    mine, others = route(me, [(quiet, b"to-quiet"), (loud, b"to-loud")],
                         [(me, {b"to-loud"}), (other, {b"to-quiet"})])
    check_routing(mine, {b"to-loud": "my message on my subscription without No Local"},
                  {b"to-quiet": "my message on my No Local subscription"}, "the publisher")
    check_routing(others, {b"to-quiet": "the message, for another client"}, {},
                  "the other client")


@case("subopts.retain-as-published",
      "Retain As Published 1 keeps the publisher's RETAIN flag; 0 clears it",
      v5=("MQTT-3.3.1-12", "MQTT-3.3.1-13"), levels=V5, needs=("retain_available",))
def retain_as_published(ctx: CaseContext) -> None:
    sub, pub = ctx.connected("sub"), ctx.connected("pub")
    kept, cleared = ctx.topic("rap1"), ctx.topic("rap0")
    require_granted(sub.subscribe(_sub(kept, retain_as_published=True),
                                  _sub(cleared, retain_as_published=False)), "subscriptions")
    pub.publish(kept, b"retained-1", qos=1, retain=True)
    pub.publish(kept, b"plain-1", qos=1)
    pub.publish(cleared, b"retained-0", qos=1, retain=True)
    flags = {}
    want = {b"retained-1": True, b"plain-1": False, b"retained-0": False}
    got = settle(sub)
    if wait_for(sub, got, has_all(want)):
        got.extend(settle(sub))
    for payload in want:
        copies = [p for p in got if p.payload == payload]
        if len(copies) != 1:
            fail(f"{payload.decode()} delivered once", f"{len(copies)} copies")
        flags[payload] = copies[0].retain
    if flags != want:
        fail("RETAIN 1 for the retained message with Retain As Published 1 (MQTT-3.3.1-13), "
             "RETAIN 0 for the plain one and with Retain As Published 0 (MQTT-3.3.1-12)",
             ", ".join(f"{k.decode()}: RETAIN={int(v)}" for k, v in flags.items()))


def _retain_handling(ctx: CaseContext, handling: int, want: tuple[bool, bool]) -> None:
    """The retained message comes after SUBSCRIBE #1 / #2 exactly as `want` says; a live
    message after each proves the subscription works."""
    sub, pub = ctx.connected("sub"), ctx.connected("pub")
    t = ctx.topic("rh")
    pub.publish(t, b"retained", qos=1, retain=True)
    for n, expected in enumerate(want, 1):
        require_granted(subscribe_raw(sub, _sub(t, retain_handling=handling)),
                        f"SUBSCRIBE #{n}")
        copies = _after(sub, b"retained", expected)
        if len(copies) != int(expected):
            fail(f"with Retain Handling {handling}, the retained message "
                 f"{'sent' if expected else 'not sent'} after SUBSCRIBE #{n}"
                 + (" (the subscription existed)" if n == 2 else " (a new subscription)"),
                 f"{len(copies)} copies")
        live = f"live-{n}".encode()
        pub.publish(t, live, qos=1)
        if len(_after(sub, live, True)) != 1:
            fail(f"the live message after SUBSCRIBE #{n}", "not delivered once")


@case("subopts.retain-handling-0",
      "Retain Handling 0: the retained message is sent on every SUBSCRIBE",
      v5=("MQTT-3.3.1-9", "MQTT-3.8.4-4"), levels=V5, needs=("retain_available",))
def retain_handling_0(ctx: CaseContext) -> None:
    _retain_handling(ctx, 0, (True, True))


@case("subopts.retain-handling-1",
      "Retain Handling 1: the retained message is sent only if the subscription is new",
      v5=("MQTT-3.3.1-10",), levels=V5, needs=("retain_available",))
def retain_handling_1(ctx: CaseContext) -> None:
    _retain_handling(ctx, 1, (True, False))


@case("subopts.retain-handling-2",
      "Retain Handling 2: the retained message is never sent on SUBSCRIBE",
      v5=("MQTT-3.3.1-11",), levels=V5, needs=("retain_available",))
def retain_handling_2(ctx: CaseContext) -> None:
    _retain_handling(ctx, 2, (False, False))


def _ids(p: Publish) -> tuple[int, ...]:
    return p.properties.subscription_identifiers


@case("subopts.subscription-identifier-delivered",
      "Each copy carries the Subscription Identifier of its subscription, retained ones too",
      v5=("MQTT-3.3.4-3",), levels=V5, needs=("subscription_identifiers",))
def identifier_delivered(ctx: CaseContext) -> None:
    t = ctx.topic("sid")
    pub = ctx.connected("pub")
    retained = ctx.target.capabilities.retain_available
    if retained:
        pub.publish(t, b"retained", qos=1, retain=True)
    subs = {42: ctx.connected("a"), 268_435_455: ctx.connected("b"), 0: ctx.connected("c")}
    for sid, s in subs.items():
        props = Properties(subscription_identifiers=(sid,)) if sid else Properties()
        require_granted(subscribe_raw(s, _sub(t), properties=props), f"subscription {sid}")
        if retained:
            copies = _after(s, b"retained", True)
            if [_ids(p) for p in copies] != [(sid,) if sid else ()]:
                fail(f"the retained message with identifiers {(sid,) if sid else ()}",
                     f"copies with {[_ids(p) for p in copies]}")
    got = route(pub, [(t, b"live")], [(s, {b"live"}) for s in subs.values()])
    for (sid, _), copies in zip(subs.items(), got, strict=True):
        seen = [_ids(p) for p in copies if p.payload == b"live"]
        if seen != [(sid,) if sid else ()]:
            fail(f"one copy with Subscription Identifiers {(sid,) if sid else ()}",
                 f"copies with {seen}")


@case("subopts.subscription-identifier-replaced",
      "Replacing a subscription replaces its Subscription Identifier, or removes it",
      v5=("MQTT-3.8.4-3", "MQTT-3.3.4-3"), levels=V5, needs=("subscription_identifiers",))
def identifier_replaced(ctx: CaseContext) -> None:
    sub, pub = ctx.connected("sub"), ctx.connected("pub")
    t = ctx.topic("sid")
    for n, sid in enumerate((5, 6, None)):
        props = Properties(subscription_identifiers=(sid,)) if sid else Properties()
        require_granted(subscribe_raw(sub, _sub(t), properties=props), f"SUBSCRIBE #{n + 1}")
        payload = f"after-{n + 1}".encode()
        [copies] = route(pub, [(t, payload)], [(sub, {payload})])
        seen = [_ids(p) for p in copies if p.payload == payload]
        want = (sid,) if sid else ()
        if seen != [want]:
            fail(f"after SUBSCRIBE #{n + 1} ({'identifier ' + str(sid) if sid else 'none'}), "
                 f"one copy with identifiers {want}", f"copies with {seen}")


@case("subopts.subscription-identifier-zero",
      "A Subscription Identifier of 0 is a Protocol Error: the connection closes",
      v5=("MQTT-4.13.1-1",), levels=V5)
def identifier_zero(ctx: CaseContext) -> None:
    c = ctx.connected()
    props = RawProperties().add(0x0B, 0)
    c.send(RawPacket(8, 0b0010).u16(1).properties(props).string(ctx.topic("z")).u8(1).build(),
           "SUBSCRIBE with Subscription Identifier 0")
    expect_violation_close(ctx, c, "a Subscription Identifier of 0")


@case("subopts.subscription-identifiers-refused-when-unavailable",
      "MQTT 5: a broker declaring no Subscription Identifiers refuses a SUBSCRIBE with one",
      v5=("MQTT-3.8.4-7",), levels=V5)
def identifiers_unavailable(ctx: CaseContext) -> None:
    if ctx.target.capabilities.subscription_identifiers:
        not_applicable("the broker supports Subscription Identifiers")
    c = ctx.connected()
    c.send(Subscribe(packet_id=1, subscriptions=(_sub(ctx.topic("sid")),), protocol_level=5,
                     properties=Properties(subscription_identifiers=(7,))))
    expect_refusal(ctx, c, "a Subscription Identifier")
