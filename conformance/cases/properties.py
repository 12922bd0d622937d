"""PUBLISH properties the server passes on unaltered (MQTT 5 section 3.3.2.3).

Strategy: one publisher, two subscribers at different QoS (the spec says "to all subscribers
receiving the Application Message", so one subscriber alone would not show it), and messages
whose properties are chosen to catch the usual shortcuts: non-ASCII strings (a forwarded
string must still be well-formed UTF-8: the test client's strict decoder refuses anything
else, MQTT-3.3.2-19), User Properties with repeated names, empty values and an order that is
not sorted (MQTT-3.3.2-17, -18), a Payload Format Indicator of 1 and of 0.  A retained message
must come back with its properties too: it is the same Application Message, forwarded later.
"""

from __future__ import annotations

from conformance.case import CaseContext, case, fail
from conformance.cases.properties_common import (
    properties_of,
    publish,
    receive,
    subscribe,
)
from conformance.client import TestClient
from mqttspec import Properties, Publish

USER_PROPERTIES = (("b", "2"), ("a", "1"), ("a", "1"), ("a", "0"), ("ключ", "значение"),
                   ("", ""), ("z", ""), ("名前", "値 ✓"))


def _collect(sub: TestClient, payloads: list[bytes]) -> dict[bytes, Publish]:
    """The PUBLISHes carrying `payloads`, by payload (messages of different QoS need not keep
    their order, MQTT 5 section 4.6)."""
    got: dict[bytes, Publish] = {}
    while len(got) < len(payloads):
        p = receive(sub, f"{sub.name} receives every message published ({len(payloads)})")
        if p.payload not in payloads or p.payload in got:
            fail(f"{sub.name} receives each of {payloads} once", f"{p!r}")
        got[p.payload] = p
    return got


def _two_subscribers(ctx: CaseContext, topic: str) -> list[TestClient]:
    subs = []
    for name, qos in (("sub0", 0), ("sub2", 2)):
        c = ctx.connected(name)
        subscribe(c, topic, qos=qos)
        subs.append(c)
    return subs


@case("properties.payload-format-indicator-forwarded",
      "The Payload Format Indicator reaches every subscriber unaltered",
      v5=("MQTT-3.3.2-4",), levels=(5,))
def payload_format_indicator(ctx: CaseContext) -> None:
    topic = ctx.topic("pfi")
    subs = _two_subscribers(ctx, topic)
    pub = ctx.connected("pub")
    sent = ((1, "héllo wörld ✓".encode(), 1), (0, b"\x00\xff\xfe raw", 2), (None, b"plain", 0))
    for indicator, payload, qos in sent:
        publish(pub, topic, payload, qos=qos,
                properties=Properties(payload_format_indicator=indicator))
    for sub in subs:
        by_payload = _collect(sub, [payload for _, payload, _ in sent])
        for indicator, payload, _ in sent:
            got = by_payload[payload]
            seen = got.properties.payload_format_indicator
            if seen == indicator:
                continue
            if indicator in (0, None) and seen in (0, None):
                # MQTT 5 section 3.3.2.3.2: 0 "is equivalent to not sending" the indicator
                ctx.note(f"{sub.name}: Payload Format Indicator {indicator} arrived as {seen} "
                         "(equivalent)")
                continue
            fail(f"{sub.name} receives Payload Format Indicator {indicator} unaltered "
                 "(MQTT-3.3.2-4)", f"Payload Format Indicator {seen} on {got!r}")


@case("properties.content-type-forwarded",
      "The Content Type reaches every subscriber unaltered, as well-formed UTF-8",
      v5=("MQTT-3.3.2-20", "MQTT-3.3.2-19"), levels=(5,))
def content_type(ctx: CaseContext) -> None:
    topic = ctx.topic("ct")
    subs = _two_subscribers(ctx, topic)
    pub = ctx.connected("pub")
    types = ("application/json; charset=utf-8", "text/plain; lang=fr-é; 中文 ✓",
             "application/vnd.mqttlab+cbor")
    for qos, content in enumerate(types):
        publish(pub, topic, content.encode(), qos=qos, properties=Properties(content_type=content))
    for sub in subs:
        by_payload = _collect(sub, [content.encode() for content in types])
        for content in types:
            got = by_payload[content.encode()]
            if got.properties.content_type != content:  # MQTT-3.3.2-20
                fail(f"{sub.name} receives Content Type {content!r} unaltered (MQTT-3.3.2-20)",
                     f"Content Type {got.properties.content_type!r} on {got!r}")


@case("properties.user-properties-forwarded-in-order",
      "Every User Property of a PUBLISH is forwarded unaltered and in the same order",
      v5=("MQTT-3.3.2-17", "MQTT-3.3.2-18"), levels=(5,))
def user_properties(ctx: CaseContext) -> None:
    topic = ctx.topic("up")
    subs = _two_subscribers(ctx, topic)
    pub = ctx.connected("pub")
    reversed_props = tuple(reversed(USER_PROPERTIES))
    for qos, props in ((2, USER_PROPERTIES), (1, reversed_props)):
        publish(pub, topic, f"qos {qos}".encode(), qos=qos,
                properties=Properties(user_properties=props))
    for sub in subs:
        by_payload = _collect(sub, [b"qos 2", b"qos 1"])
        _check_user_properties(sub.name, USER_PROPERTIES, by_payload[b"qos 2"])
        _check_user_properties(sub.name, reversed_props, by_payload[b"qos 1"])


def _check_user_properties(who: str, sent: tuple[tuple[str, str], ...], got: Publish) -> None:
    seen = got.properties.user_properties
    if seen == sent:
        return
    if sorted(seen) == sorted(sent):  # MQTT-3.3.2-18
        fail(f"{who} receives the User Properties in the order sent (MQTT-3.3.2-18): "
             f"{list(sent)}", f"{list(seen)}")
    fail(f"{who} receives every User Property unaltered (MQTT-3.3.2-17): {list(sent)}",
         f"{list(seen)}")


@case("properties.forwarded-with-retained-message",
      "A retained message reaches a later subscriber with all its properties unaltered",
      v5=("MQTT-3.3.2-4", "MQTT-3.3.2-15", "MQTT-3.3.2-16", "MQTT-3.3.2-17", "MQTT-3.3.2-18",
          "MQTT-3.3.2-20"),
      levels=(5,), needs=("retain_available",))
def retained_properties(ctx: CaseContext) -> None:
    topic = ctx.topic("retained")
    props = Properties(payload_format_indicator=1, content_type="text/plain; charset=utf-8",
                       response_topic=ctx.topic("réponse"), correlation_data=b"\x00\x01\xff",
                       user_properties=USER_PROPERTIES[:5])
    pub = ctx.connected("pub")
    publish(pub, topic, "retenu ✓".encode(), qos=1, retain=True, properties=props)
    sub = ctx.connected("sub")
    subscribe(sub, topic, qos=1)
    got = receive(sub, "the retained message, sent because of the new subscription")
    expected = properties_of(Publish(topic=topic, properties=props, protocol_level=5))
    seen = properties_of(got)
    wrong = {k: v for k, v in seen.items() if v != expected[k]}
    if wrong:
        fail(f"the retained message with its properties unaltered: {expected}",
             f"differs in {wrong} ({got!r})")
