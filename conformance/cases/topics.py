"""Topic Names, Topic Filters and how they match (MQTT 3.1.1 section 4.7, MQTT 5 section 4.7).

Strategy: subscribers with one or two filters each, one publisher, and a table of Topic Names
per case: for each name, which subscriber must get it and which must not.  Every name is
published at QoS 1 (its PUBACK proves the broker routed it) and every subscriber is settled
with a PINGREQ barrier, so "not delivered" is proven without waiting; every case has names
that must arrive, so a broker that delivers nothing cannot pass.  Names live under the case's
own root, so parallel cases never meet, except in the '$' case, which needs a '#' filter and
ignores whatever else that brings.  Invalid names and filters (wildcards in a name, empty,
U+0000) are written with the raw builder and must close the connection.
"""

from __future__ import annotations

from collections.abc import Sequence

from conformance.case import CaseContext, SetupFailed, case, fail, not_applicable
from conformance.cases.subscribe_common import (
    check_routing,
    expect_refusal,
    require_granted,
    route,
    settle,
    unsubscribe_raw,
)
from conformance.client import BrokerViolation, ClientError, TestClient
from conformance.reactions import expect_violation_close
from mqttspec import Puback, RawPacket

ROUTED = ("MQTT-3.3.2-3", "MQTT-4.5.0-1")  # sent only where it matches; sent where it matches
NO_NORMALISING = "MQTT-4.7.3-4"


def _table(ctx: CaseContext, filters: Sequence[Sequence[str]],
           names: dict[str, Sequence[int]]) -> None:
    """Subscriber i holds filters[i]; each name must reach exactly the subscribers listed."""
    pub = ctx.connected("pub")
    subs: list[TestClient] = []
    for i, fs in enumerate(filters):
        s = ctx.connected(f"sub{i + 1}")
        require_granted(s.subscribe(*fs, qos=1), f"{list(fs)}")
        subs.append(s)
    sends = [(name, f"{n}".encode()) for n, name in enumerate(names)]
    want = [{f"{n}".encode() for n, who in enumerate(names.values()) if i in who}
            for i in range(len(subs))]
    got = route(pub, sends, list(zip(subs, want, strict=True)))
    for i, received in enumerate(got):
        expected = {f"{n}".encode(): f"{name!r}" for n, (name, who) in
                    enumerate(names.items()) if i in who}
        unexpected = {f"{n}".encode(): f"{name!r}" for n, (name, who) in
                      enumerate(names.items()) if i not in who}
        check_routing(received, expected, unexpected, f"a subscriber to {list(filters[i])}")


@case("topics.single-level-wildcard",
      "'+' matches exactly one level, an empty one included, at any position",
      v3=ROUTED, v5=ROUTED, needs=("wildcard_subscriptions",))
def single_level(ctx: CaseContext) -> None:
    t = ctx.topic
    _table(ctx, [[t("+", "c")], [t("a", "+")]], {
        t("b", "c"): [0], t("", "c"): [0], t("c"): [], t("b", "x", "c"): [],
        t("a", "x"): [1], t("a", ""): [1], t("a"): [], t("a", "x", "y"): []})


@case("topics.multi-level-wildcard",
      "'#' matches its parent level and any number of levels below, nothing beside",
      v3=ROUTED, v5=ROUTED, needs=("wildcard_subscriptions",))
def multi_level(ctx: CaseContext) -> None:
    t = ctx.topic
    _table(ctx, [[t("sport", "#")]], {
        t("sport"): [0], t("sport", "x"): [0], t("sport", "x", "y"): [0], t("sport", ""): [0],
        t("sports"): [], t("spor"): [], t("sport2", "x"): []})


@case("topics.leading-slash-and-empty-levels",
      "A leading '/' and an empty level are levels of their own",
      v3=(*ROUTED, NO_NORMALISING), v5=(*ROUTED, NO_NORMALISING),
      needs=("wildcard_subscriptions",))
def leading_slash(ctx: CaseContext) -> None:
    t = ctx.topic
    rest = t("x").split("/", 1)[1]
    _table(ctx, [["+/" + t("x"), t("e", "+", "b")], [t("x"), t("e", "b")], ["/" + t("+")]], {
        "/" + t("x"): [0, 2], t("x"): [1], t("e", "", "b"): [0], "/" + rest: []})


@case("topics.case-sensitive", "Topic matching is case sensitive",
      v3=(NO_NORMALISING,), v5=(NO_NORMALISING,))
def case_sensitive(ctx: CaseContext) -> None:
    t = ctx.topic
    _table(ctx, [[t("case")]], {t("Case"): [], t("CASE"): [], t("case"): [0]})


@case("topics.no-unicode-normalisation",
      "Topic matching compares code points as sent: no Unicode normalisation",
      v3=(NO_NORMALISING,), v5=(NO_NORMALISING,))
def no_normalisation(ctx: CaseContext) -> None:
    t = ctx.topic
    _table(ctx, [[t("caf\u00e9"), t("a1")]], {
        t("cafe\u0301"): [],  # NFD of the NFC filter
        t("\uff41\uff11"): [],  # fullwidth 'a1': the same under NFKC
        t("a1 "): [],
        t("caf\u00e9"): [0], t("a1"): [0]})


@case("topics.dollar-names-not-matched-by-leading-wildcards",
      "Filters starting with '+' or '#' do not match Topic Names starting with '$'",
      v3=("MQTT-4.7.2-1",), v5=("MQTT-4.7.2-1",), needs=("wildcard_subscriptions",))
def dollar_topics(ctx: CaseContext) -> None:
    name = "$" + ctx.topic("x")  # $mqttlab/<root>/x
    rest = name.split("/", 1)[1]
    plus, hash_, control = (ctx.connected(n) for n in ("plus", "hash", "control"))
    require_granted(plus.subscribe("+/" + rest, qos=1), "+/" + rest)
    # '#' sees every case's traffic: subscribed for as short a time as the check needs
    require_granted(hash_.subscribe("#", qos=0), "#")
    require_granted(control.subscribe(name.rsplit("/", 1)[0] + "/+", qos=1), "a '$' filter")
    pub = ctx.connected("pub")
    try:
        ack = pub.publish(name, b"dollar", qos=1)
    except ClientError as exc:
        not_applicable(f"the broker does not take PUBLISH to {name!r} from a client: {exc}")
    try:
        leaked = [p for p in settle(hash_) if p.topic == name]
    except BrokerViolation as exc:  # another case's traffic, which that case judges
        raise SetupFailed("the '#' subscriber, which sees every case's traffic, received "
                          f"bytes that break the spec: {exc}") from None
    unsubscribe_raw(hash_, "#")
    hash_.held.clear()  # other cases' messages
    if isinstance(ack, Puback) and ack.reason_code >= 0x80:
        not_applicable(f"the broker refuses PUBLISH to {name!r}: PUBACK {ack.reason_code:#04x}")
    [ctrl, got] = route(pub, [("other/" + rest, b"plain")],
                        [(control, {b"dollar"}), (plus, {b"plain"})])
    if b"dollar" not in [p.payload for p in ctrl]:
        not_applicable(f"the broker does not deliver {name!r} even to a filter starting with "
                       "'$' (it may reserve '$' names)")
    check_routing(got, {b"plain": "'other/...' (control)"},
                  {b"dollar": f"{name!r}, to the filter '+/{rest}'"}, "the '+' subscriber")
    if leaked:  # MQTT-4.7.2-1
        fail(f"no message on {name!r} for the filter '#'", f"received {leaked}")


def _closes(ctx: CaseContext, data: bytes, what: str) -> None:
    c = ctx.connected()
    c.send(data, what)
    expect_violation_close(ctx, c, what)


def _publish(ctx: CaseContext, topic: str) -> bytes:
    raw = RawPacket(3, 0).string(topic)
    if ctx.level == 5:
        raw.properties()
    return raw.raw(b"x").build()


def _filter(ctx: CaseContext, packet_type: int, topic_filter: str) -> bytes:
    raw = RawPacket(packet_type, 0b0010).u16(1)
    if ctx.level == 5:
        raw.properties()
    raw.string(topic_filter)
    return (raw.u8(0) if packet_type == 8 else raw).build()


@case("topics.wildcard-in-topic-name",
      "A PUBLISH whose Topic Name holds '+' or '#' closes the connection",
      v3=("MQTT-4.7.1-1", "MQTT-4.8.0-1"), v5=("MQTT-4.7.0-1", "MQTT-4.13.1-1"), levels=(4, 5))
def wildcard_in_name(ctx: CaseContext) -> None:
    for wildcard in ("+", "#"):
        _closes(ctx, _publish(ctx, ctx.topic(wildcard)), f"a PUBLISH to {ctx.topic(wildcard)!r}")


@case("topics.empty-name-or-filter",
      "An empty Topic Name (PUBLISH) or Topic Filter (SUBSCRIBE, UNSUBSCRIBE) closes the "
      "connection", v3=("MQTT-4.7.3-1", "MQTT-4.8.0-1"), v5=("MQTT-4.7.3-1", "MQTT-4.13.1-1"),
      levels=(4, 5))
def empty_topics(ctx: CaseContext) -> None:
    _closes(ctx, _publish(ctx, ""), "a PUBLISH with an empty Topic Name (and no Topic Alias)")
    _closes(ctx, _filter(ctx, 8, ""), "a SUBSCRIBE to an empty Topic Filter")
    _closes(ctx, _filter(ctx, 10, ""), "an UNSUBSCRIBE from an empty Topic Filter")


@case("topics.null-character",
      "A Topic Name or Topic Filter holding U+0000 closes the connection",
      v3=("MQTT-4.7.3-2", "MQTT-1.5.3-2"), v5=("MQTT-4.7.3-2", "MQTT-4.13.1-1"), levels=(4, 5))
def null_character(ctx: CaseContext) -> None:
    _closes(ctx, _publish(ctx, ctx.topic("a\x00b")), "a PUBLISH to a Topic Name with U+0000")
    _closes(ctx, _filter(ctx, 8, ctx.topic("a\x00b")), "a SUBSCRIBE to a filter with U+0000")


@case("topics.wildcards-refused-when-unsupported",
      "A broker without wildcard subscriptions refuses a filter holding '+' or '#'",
      v3=("MQTT-3.8.3-2",), v5=("MQTT-3.8.4-7",))
def wildcards_unsupported(ctx: CaseContext) -> None:
    if ctx.target.capabilities.wildcard_subscriptions:
        not_applicable("the broker supports wildcard subscriptions")
    c = ctx.connected()
    c.send(_filter(ctx, 8, ctx.topic("+")), "SUBSCRIBE to a '+' filter")
    expect_refusal(ctx, c, "a '+' filter")
