"""Topic Aliases in both directions (MQTT 5 sections 3.1.2.11.5, 3.2.2.3.8, 3.3.2.3.4, 3.3.4).

Strategy, client to server: a publisher sets mappings (Topic Name + alias), uses them (empty
Topic Name + alias), remaps an alias, and uses the highest alias the server declared; a second
client subscribed to the topics must receive every message on the right Topic Name
(MQTT-3.3.2-12).  Aliases 0 and above the server's Topic Alias Maximum are Protocol Errors
(MQTT-3.3.2-8; the spec's text names DISCONNECT 0x94), an alias with no mapping on this
connection is one too (0x82), also when an earlier connection of the same session mapped it:
mappings die with their network connection (MQTT-3.3.2-7).  Packets that break a rule on
purpose are written with the raw builder.

Server to client: a subscriber that declared no Topic Alias Maximum (or 0) gets no alias at
all (MQTT-3.1.2-27); one that declared 2 never gets an alias above 2, nor 0 (MQTT-3.1.2-26,
MQTT-3.3.2-11, -8), and the case resolves aliases as a receiver must: a PUBLISH with an empty
Topic Name must name an alias mapped earlier on the same connection.  Using aliases at all is
the server's choice, so a server that sends none passes, with a note.
"""

from __future__ import annotations

from collections import Counter

from conformance.case import CaseContext, case, fail, non_strict, not_applicable
from conformance.cases.properties_common import (
    SESSION_EXPIRY,
    answer_or_close,
    nothing_more,
    publish,
    publishes,
    raw_publish,
    receive,
    subscribe,
)
from conformance.client import TestClient
from conformance.reactions import expect_violation_close
from mqttspec import Properties, Puback, Publish, RawProperties

TOPIC_ALIAS_INVALID = 0x94
PROTOCOL_ERROR = 0x82


def _reaction(ctx: CaseContext, c: TestClient, what: str, code: int) -> None:
    """A Protocol Error: the connection closes (MQTT-4.13.1-1); the spec's text names the
    Reason Code of the DISCONNECT, another failure code is NON-STRICT."""
    seen = expect_violation_close(ctx, c, what)
    if seen is not None and seen != code:
        non_strict(f"DISCONNECT {code:#04x} after {what} (MQTT 5 section 3.3.4)",
                   f"DISCONNECT {seen:#04x}")


@case("alias.client-aliases-set-used-and-remapped",
      "The server accepts every Topic Alias from 1 to its Topic Alias Maximum: set, used with "
      "an empty Topic Name, and remapped",
      v5=("MQTT-3.3.2-12",), levels=(5,), needs=("topic_alias_maximum",))
def client_aliases(ctx: CaseContext) -> None:
    top = ctx.target.capabilities.topic_alias_maximum
    t1, t2 = ctx.topic("one"), ctx.topic("two")
    sub = ctx.connected("sub")
    subscribe(sub, t1, t2, qos=1)
    pub = ctx.connected("pub")
    steps = ((t1, 1, 1), ("", 1, 1), (t2, top, 0), ("", top, 1), (t2, 1, 1), ("", 1, 2))
    expected = []
    for n, (topic, alias, qos) in enumerate(steps, 1):
        payload = f"m{n} alias {alias}".encode()
        ack = publish(pub, topic, payload, qos=qos, properties=Properties(topic_alias=alias))
        if isinstance(ack, Puback) and ack.reason_code >= 0x80:  # MQTT-3.3.2-12
            fail(f"Topic Alias {alias} (within the server's maximum {top}) is accepted "
                 "(MQTT-3.3.2-12)", f"{ack!r}")
        expected.append((t1 if n <= 2 else t2, payload))
    got = []
    for _ in steps:
        p = receive(sub, "every message published with a Topic Alias")
        got.append((p.topic, p.payload))
    if Counter(got) != Counter(expected):  # MQTT-3.3.2-12: each on the Topic Name mapped
        fail(f"the messages on the Topic Names their aliases stood for: {expected}", f"{got}")


@case("alias.client-alias-above-maximum-refused",
      "A Topic Alias above the server's Topic Alias Maximum (any alias when it declared none) "
      "is a Protocol Error: the connection is closed",
      v5=("MQTT-3.3.2-9", "MQTT-3.2.2-17", "MQTT-3.2.2-18", "MQTT-4.13.1-1"), levels=(5,))
def alias_above_maximum(ctx: CaseContext) -> None:
    top = ctx.target.capabilities.topic_alias_maximum
    if top >= 0xFFFF:
        not_applicable("the server's Topic Alias Maximum is 65535: no alias is above it")
    c = ctx.connected("pub")
    c.send(raw_publish(ctx.topic("x"), RawProperties().add(0x23, top + 1), qos=1,
                       payload=b"too high"),
           note=f"PUBLISH QoS 1 with Topic Alias {top + 1}, the server's maximum being {top}")
    _reaction(ctx, c, f"Topic Alias {top + 1} (maximum {top})", TOPIC_ALIAS_INVALID)


@case("alias.client-alias-zero-refused",
      "A Topic Alias of 0 is a Protocol Error: the connection is closed",
      v5=("MQTT-3.3.2-8", "MQTT-4.13.1-1"), levels=(5,))
def alias_zero(ctx: CaseContext) -> None:
    c = ctx.connected("pub")
    c.send(raw_publish(ctx.topic("x"), RawProperties().add(0x23, 0), qos=1, payload=b"zero"),
           note="PUBLISH QoS 1 with Topic Alias 0")
    _reaction(ctx, c, "Topic Alias 0", TOPIC_ALIAS_INVALID)


@case("alias.client-alias-unmapped-refused",
      "An empty Topic Name with a Topic Alias never mapped on the connection is a Protocol "
      "Error: the connection is closed",
      v5=("MQTT-4.13.1-1",), levels=(5,), needs=("topic_alias_maximum",))
def alias_unmapped(ctx: CaseContext) -> None:
    c = ctx.connected("pub")
    c.send(raw_publish("", RawProperties().add(0x23, 1), qos=1, payload=b"unmapped"),
           note="PUBLISH QoS 1, empty Topic Name, Topic Alias 1 never mapped")
    _reaction(ctx, c, "an empty Topic Name with an unmapped Topic Alias", PROTOCOL_ERROR)


@case("alias.client-mapping-not-carried-to-next-connection",
      "A Topic Alias mapped on one connection means nothing on the next connection of the "
      "same session",
      v5=("MQTT-3.3.2-7", "MQTT-4.13.1-1"), levels=(5,), needs=("topic_alias_maximum",))
def mapping_not_carried(ctx: CaseContext) -> None:
    topic, cid = ctx.topic("t"), ctx.client_id("pub")
    sub = ctx.connected("sub")
    subscribe(sub, topic, qos=1)
    session = Properties(session_expiry_interval=SESSION_EXPIRY)
    first = ctx.connected("pub", client_id=cid, properties=session)
    publish(first, topic, b"maps alias 1", qos=1, properties=Properties(topic_alias=1))
    receive(sub, "the message that mapped alias 1")
    first.disconnect()
    again = ctx.connected("pub-again", client_id=cid, clean_start=False, properties=session)
    again.send(raw_publish("", RawProperties().add(0x23, 1), qos=1, payload=b"old alias"),
               note="PUBLISH QoS 1, empty Topic Name, Topic Alias 1 (mapped on the last "
                    "connection only)")
    reply, _ = answer_or_close(ctx, again, "an empty Topic Name with alias 1, mapped on the "
                            "earlier connection only")
    delivered = [p for p in publishes(nothing_more(sub, "PINGRESP")) if p.payload == b"old alias"]
    if delivered or (isinstance(reply, Puback) and reply.reason_code < 0x80):  # MQTT-3.3.2-7
        fail("the alias mapped on the earlier connection is not used: a Protocol Error "
             "(MQTT-3.3.2-7)", f"{reply!r}; delivered to the subscriber: {delivered!r}")
    if reply is not None:  # refused without closing: not the Protocol Error of section 3.3.4
        non_strict("the connection closed (Protocol Error, MQTT 5 section 3.3.4)",
                   f"{reply!r}, the connection left open")
    ctx.connected("end", client_id=cid).disconnect()  # end the session


def _resolve(p: Publish, mapping: dict[int, str], top: int, who: str) -> str:
    """The Topic Name of a PUBLISH from the server, as a receiver resolves it."""
    alias = p.properties.topic_alias
    if alias is None:
        return p.topic
    if top == 0:  # MQTT-3.1.2-27
        fail(f"no Topic Alias sent to {who}, which declared no Topic Alias Maximum "
             "(MQTT-3.1.2-27)", f"{p!r}")
    if alias > top:  # MQTT-3.1.2-26 / MQTT-3.3.2-11
        fail(f"no Topic Alias above {top}, the Topic Alias Maximum of {who} "
             "(MQTT-3.1.2-26, MQTT-3.3.2-11)", f"{p!r}")
    if p.topic:
        mapping[alias] = p.topic
        return p.topic
    if alias not in mapping:  # MQTT 5 section 3.3.4: a Protocol Error by the server
        fail(f"an empty Topic Name only with an alias mapped on this connection of {who} "
             "(MQTT-3.3.2-7)", f"{p!r} (mapped: {mapping})")
    return mapping[alias]


def _aliased_traffic(ctx: CaseContext, subs: list[tuple[TestClient, int]], topics: list[str],
                     rounds: int = 3) -> None:
    """Publish `rounds` times on each topic; each subscriber resolves what it receives."""
    pub = ctx.connected("pub")
    for r in range(rounds):
        for i, topic in enumerate(topics):
            publish(pub, topic, f"{i}:{r}".encode(), qos=r % 2)
    for sub, top in subs:
        mapping: dict[int, str] = {}
        aliased = 0
        for _ in range(rounds * len(topics)):
            p = receive(sub, f"{sub.name} receives every message")
            aliased += p.properties.topic_alias is not None
            name = _resolve(p, mapping, top, sub.name)
            index = int(p.payload.split(b":")[0])
            if name != topics[index]:
                fail(f"{sub.name} resolves message {p.payload!r} to {topics[index]!r}",
                     f"{name!r} ({p!r})")
        ctx.note(f"{sub.name} (Topic Alias Maximum {top}): {aliased} of "
                 f"{rounds * len(topics)} PUBLISH packets used an alias")


@case("alias.server-sends-none-when-client-declares-none",
      "The server sends no Topic Alias to a client whose Topic Alias Maximum is absent or 0",
      v5=("MQTT-3.1.2-27",), levels=(5,))
def server_none(ctx: CaseContext) -> None:
    topics = [ctx.topic("a"), ctx.topic("b")]
    absent = ctx.connected("absent")
    zero = ctx.connected("zero", properties=Properties(topic_alias_maximum=0))
    for c in (absent, zero):
        subscribe(c, *topics, qos=1)
    _aliased_traffic(ctx, [(absent, 0), (zero, 0)], topics)


@case("alias.server-aliases-within-client-maximum",
      "The server's Topic Aliases stay within the client's Topic Alias Maximum and name a "
      "mapping made on the same connection",
      v5=("MQTT-3.1.2-26", "MQTT-3.3.2-11", "MQTT-3.3.2-8"), levels=(5,))
def server_within(ctx: CaseContext) -> None:
    topics = [ctx.topic(name) for name in "abcd"]
    sub = ctx.connected("sub", properties=Properties(topic_alias_maximum=2))
    subscribe(sub, *topics, qos=1)
    _aliased_traffic(ctx, [(sub, 2)], topics)


@case("alias.server-mapping-not-carried-to-next-connection",
      "The server does not use a Topic Alias mapped on an earlier connection of the session",
      v5=("MQTT-3.3.2-7",), levels=(5,))
def server_not_carried(ctx: CaseContext) -> None:
    topic, cid = ctx.topic("t"), ctx.client_id("sub")
    props = Properties(topic_alias_maximum=5, session_expiry_interval=SESSION_EXPIRY)
    pub = ctx.connected("pub")
    aliased = 0
    for n, clean in enumerate((True, False)):
        sub = ctx.connected("sub" if clean else "sub-again", client_id=cid, clean_start=clean,
                            properties=props)
        if clean:
            subscribe(sub, topic, qos=1)
        mapping: dict[int, str] = {}
        for r in range(2):
            publish(pub, topic, f"{n}:{r}".encode(), qos=1)
            p = receive(sub, f"message {r + 1} on connection {n + 1}")
            aliased += p.properties.topic_alias is not None
            if _resolve(p, mapping, 5, f"connection {n + 1}") != topic:
                fail(f"message on {topic!r}", f"{p!r}")
        sub.disconnect()
    ctx.note(f"{aliased} of 4 PUBLISH packets used an alias")
    ctx.connected("end", client_id=cid).disconnect()  # end the session
