"""PUBLISH as the server receives and forwards it (MQTT 3.1.1 section 3.3, MQTT 5 section 3.3).

Strategy: behaviour first, with two or more clients: a publisher and one subscriber per
variant, and what the subscriber receives compared field by field with what was published
(topic, payload byte for byte, QoS, DUP, Packet Identifier).  The strict decoder of the test
client already refuses a PUBLISH that breaks the wire rules (a Packet Identifier 0, DUP at
QoS 0, a wildcard in a Topic Name), which `expecting` turns into FAIL.  Malformed PUBLISH
packets (QoS 3, a wildcard Topic Name, Packet Identifier 0) are written with the raw builder
and must close the connection (MQTT-4.8.0-1 / MQTT-4.13.1-1); MQTT 3.1 states none of these
reactions, so those cases run under 3.1.1 and 5.0 only.
"""

from __future__ import annotations

from conformance.case import CaseContext, case, fail
from conformance.cases.publish_common import (
    drain,
    expect_packet,
    expecting,
    nothing_more,
    publish,
    receive,
    require_qos,
    send_sentinel,
    until_sentinel,
)
from conformance.reactions import expect_violation_close
from mqttspec import Puback, Pubcomp, Publish, Pubrec, Pubrel, RawPacket
from mqttspec.topics import matches

PAYLOAD = bytes(range(256)) * 2  # every byte value: nothing may be re-encoded or trimmed


def _raw_publish(level: int, topic: str, flags: int, packet_id: int | None,
                 payload: bytes = b"x") -> bytes:
    raw = RawPacket(3, flags).string(topic)
    if packet_id is not None:
        raw = raw.u16(packet_id)
    if level == 5:
        raw = raw.properties()
    return raw.raw(payload).build()


@case("publish.qos0-forwarded-as-qos0",
      "A QoS 0 message reaches QoS 0 and QoS 2 subscribers as QoS 0, DUP 0, without a Packet "
      "Identifier, payload unchanged",
      v3=("MQTT-4.3.1-1", "MQTT-3.3.1-2", "MQTT-2.3.1-5"),
      v5=("MQTT-4.3.1-1", "MQTT-3.3.1-2", "MQTT-2.2.1-2"))
def qos0_forwarded(ctx: CaseContext) -> None:
    topic = ctx.topic("q0")
    subs = []
    for qos in (0, 2):
        sub = ctx.connected(f"sub{qos}")
        sub.subscribe(topic, qos=qos)
        subs.append(sub)
    pub = ctx.connected("pub")
    publish(pub, topic, PAYLOAD, qos=0)
    for qos, sub in zip((0, 2), subs, strict=True):
        p = receive(sub, f"the QoS {qos} subscriber receives the QoS 0 message")
        if (p.qos, p.dup, p.packet_id) != (0, False, None):
            fail("QoS 0, DUP 0, no Packet Identifier (MQTT-4.3.1-1)", repr(p))
        # MQTT-2.3.1-5 / MQTT-2.2.1-2: a Packet Identifier would shift the payload by 2 bytes
        if p.payload != PAYLOAD or p.topic != topic:
            fail(f"topic {topic!r} and the {len(PAYLOAD)}-byte payload unchanged",
                 f"topic {p.topic!r}, payload of {len(p.payload)} bytes "
                 f"starting {p.payload[:8].hex()}")


@case("publish.payload-unchanged",
      "Payloads of every byte value, empty and beyond 64 KiB reach the subscriber unchanged at "
      "QoS 0, 1 and 2",
      v3="MQTT-4.5.0-1", v5="MQTT-4.5.0-1")
def payload_unchanged(ctx: CaseContext) -> None:
    require_qos(ctx, 2)
    topic = ctx.topic("payload")
    sub = ctx.connected("sub")
    sub.subscribe(topic, qos=2)
    pub = ctx.connected("pub")
    big = bytes(i * 7 % 251 for i in range(70_000))  # Remaining Length needs 3 bytes
    sent = [(PAYLOAD, 0), (b"", 1), (big, 2), (b"\x00\xff\x00", 1), ("é€😀".encode(), 0)]
    for payload, qos in sent:
        publish(pub, topic, payload, qos=qos)
    for payload, qos in sent:
        p = receive(sub, f"the {len(payload)}-byte QoS {qos} message arrives")
        if p.payload != payload:
            fail(f"the {len(payload)}-byte payload unchanged (MQTT-4.5.0-1: the message the "
                 "server took ownership of)",
                 f"{len(p.payload)} bytes starting {p.payload[:8].hex()} at QoS {p.qos}")


@case("publish.topic-name-unchanged",
      "A Topic Name with non-ASCII characters, spaces, case and empty levels is forwarded as "
      "the publisher wrote it",
      v3=("MQTT-3.3.2-1", "MQTT-3.3.2-3"), v5=("MQTT-3.3.2-1", "MQTT-3.3.2-3"))
def topic_name_unchanged(ctx: CaseContext) -> None:
    require_qos(ctx, 1)
    topic = ctx.topic("Ünïcødé", "日本 語", "", "MiXeD😀", "")
    sub = ctx.connected("sub")
    sub.subscribe(topic, qos=1)
    pub = ctx.connected("pub")
    publish(pub, topic, b"utf8", qos=1)
    p = receive(sub, "the subscriber receives the message")
    if p.topic != topic:  # MQTT-3.3.2-1: the Topic Name, a UTF-8 string, first
        fail(f"Topic Name {topic!r}", f"{p.topic!r}")


@case("publish.topic-name-is-the-published-one",
      "With wildcard subscriptions, the forwarded Topic Name is the published one and matches "
      "the filter",
      v3="MQTT-3.3.2-3", v5="MQTT-3.3.2-3", needs=("wildcard_subscriptions",))
def topic_matches_filter(ctx: CaseContext) -> None:
    require_qos(ctx, 1)
    root = ctx.topic("tree")
    filters = {"plus": f"{root}/+/leaf", "hash": f"{root}/#"}
    subs = {}
    for name, topic_filter in filters.items():
        subs[name] = ctx.connected(name)
        subs[name].subscribe(topic_filter, qos=1)
    topic = f"{root}/Branch/leaf"
    publish(ctx.connected("pub"), topic, b"match", qos=1)
    for name, sub in subs.items():
        p = receive(sub, f"the subscriber of {filters[name]!r} receives the message")
        if p.topic != topic or not matches(filters[name], p.topic):  # MQTT-3.3.2-3
            fail(f"Topic Name {topic!r}, matching {filters[name]!r}", repr(p.topic))


@case("publish.wildcard-in-topic-name-closes",
      "A PUBLISH whose Topic Name contains '+' or '#' closes the connection",
      v3=("MQTT-3.3.2-2", "MQTT-4.7.1-1", "MQTT-4.8.0-1"),
      v5=("MQTT-3.3.2-2", "MQTT-4.7.0-1", "MQTT-4.13.1-1"), levels=(4, 5))
def wildcard_topic_name(ctx: CaseContext) -> None:
    root = ctx.topic("wild")
    watcher = ctx.connected("watcher")
    watcher.subscribe(f"{root}/#" if ctx.target.capabilities.wildcard_subscriptions
                      else f"{root}/a", qos=0)
    for wildcard in ("+", "#"):
        c = ctx.connected(f"pub{wildcard}")
        c.send(_raw_publish(ctx.level, f"{root}/{wildcard}", 0b0000, None),
               note=f"PUBLISH QoS 0 to {root}/{wildcard}")
        expect_violation_close(ctx, c, f"a PUBLISH to {root}/{wildcard!r}")
    nothing_more(watcher, "message published to a Topic Name with a wildcard")


@case("publish.qos3-closes", "A PUBLISH with both QoS bits set (QoS 3) closes the connection",
      v3=("MQTT-3.3.1-4", "MQTT-4.8.0-1"), v5=("MQTT-3.3.1-4", "MQTT-4.13.1-1"), levels=(4, 5))
def qos3(ctx: CaseContext) -> None:
    topic = ctx.topic("q3")
    watcher = ctx.connected("watcher")
    watcher.subscribe(topic, qos=2)
    c = ctx.connected("pub")
    c.send(_raw_publish(ctx.level, topic, 0b0110, 1), note="PUBLISH with QoS bits 11")
    expect_violation_close(ctx, c, "a PUBLISH with QoS 3")
    nothing_more(watcher, "message from the QoS 3 PUBLISH")


@case("publish.packet-id-zero-closes",
      "A QoS 1 or QoS 2 PUBLISH with Packet Identifier 0 closes the connection",
      v3=("MQTT-2.3.1-1", "MQTT-4.8.0-1"), v5=("MQTT-2.2.1-3", "MQTT-4.13.1-1"), levels=(4, 5))
def packet_id_zero(ctx: CaseContext) -> None:
    topic = ctx.topic("pid0")
    watcher = ctx.connected("watcher")
    watcher.subscribe(topic, qos=2)
    for qos in (1, 2):
        c = ctx.connected(f"pub{qos}")
        c.send(_raw_publish(ctx.level, topic, qos << 1, 0),
               note=f"PUBLISH QoS {qos}, Packet Identifier 0")
        expect_violation_close(ctx, c, f"a QoS {qos} PUBLISH with Packet Identifier 0")
    nothing_more(watcher, "message from a PUBLISH with Packet Identifier 0")


@case("publish.response-by-qos",
      "QoS 0 gets no answer, QoS 1 a PUBACK, QoS 2 a PUBREC then PUBCOMP, each with the "
      "PUBLISH's Packet Identifier",
      v3=("MQTT-3.3.4-1", "MQTT-2.3.1-6", "MQTT-4.3.2-2", "MQTT-4.3.3-2"),
      v5=("MQTT-3.3.4-1", "MQTT-2.2.1-5", "MQTT-4.3.2-4", "MQTT-4.3.3-8", "MQTT-4.3.3-11"))
def response_by_qos(ctx: CaseContext) -> None:
    require_qos(ctx, 2)
    topic, level = ctx.topic("acks"), ctx.level
    c = ctx.connected("pub")
    c.send(Publish(topic=topic, payload=b"q0", protocol_level=level))
    nothing_more(c, "answer to a QoS 0 PUBLISH (MQTT-3.3.4-1)")
    c.send(Publish(topic=topic, payload=b"q1", qos=1, packet_id=0xABCD, protocol_level=level))
    expect_packet(c, Puback, "PUBACK 0xABCD for the QoS 1 PUBLISH 0xABCD", 0xABCD)
    c.send(Publish(topic=topic, payload=b"q2", qos=2, packet_id=0xFFFF, protocol_level=level))
    expect_packet(c, Pubrec, "PUBREC 0xFFFF for the QoS 2 PUBLISH 0xFFFF", 0xFFFF)
    c.send(Pubrel(packet_id=0xFFFF, protocol_level=level))
    expect_packet(c, Pubcomp, "PUBCOMP 0xFFFF for PUBREL 0xFFFF", 0xFFFF)
    nothing_more(c, "further packet once the flows are complete")


@case("publish.dup-not-propagated",
      "A PUBLISH received with DUP 1 is forwarded with DUP 0 (its first transmission to each "
      "subscriber)",
      v3=("MQTT-3.3.1-3", "MQTT-3.3.1-2", "MQTT-4.3.2-1", "MQTT-4.3.3-1"),
      v5=("MQTT-3.3.1-3", "MQTT-3.3.1-2", "MQTT-4.3.2-2", "MQTT-4.3.3-2"))
def dup_not_propagated(ctx: CaseContext) -> None:
    require_qos(ctx, 2)
    topic, level = ctx.topic("dup"), ctx.level
    subs = {}
    for qos in (0, 1, 2):
        subs[qos] = ctx.connected(f"sub{qos}")
        subs[qos].subscribe(topic, qos=qos)
    pub = ctx.connected("pub")
    for qos in (1, 2):
        pid = pub.packet_id()
        pub.send(Publish(topic=topic, payload=f"dup{qos}".encode(), qos=qos, dup=True,
                         packet_id=pid, protocol_level=level))
        with expecting(f"the QoS {qos} PUBLISH with DUP 1 is acknowledged"):
            if qos == 1:
                pub.expect(Puback)
            else:
                pub.expect(Pubrec)
                pub.send(Pubrel(packet_id=pid, protocol_level=level))
                pub.expect(Pubcomp)
    for sub_qos, sub in subs.items():
        for qos in (1, 2):
            # the decoder refuses DUP 1 at QoS 0 itself (MQTT-3.3.1-2)
            p = receive(sub, f"the QoS {sub_qos} subscriber receives the QoS {qos} message")
            if p.dup:  # MQTT-3.3.1-3: DUP says whether *this* PUBLISH is a retransmission
                fail("DUP 0 on the first transmission to the subscriber", repr(p))


@case("publish.overlapping-subscriptions-max-qos",
      "With overlapping subscriptions of one client, a message is delivered at the highest "
      "granted QoS of the matches (extra copies allowed)",
      v3="MQTT-3.3.5-1", v5="MQTT-3.3.4-2", needs=("wildcard_subscriptions",))
def overlapping(ctx: CaseContext) -> None:
    require_qos(ctx, 2)
    root = ctx.topic("overlap")
    topic = f"{root}/a/leaf"
    sub = ctx.connected("sub")
    granted = {}
    for topic_filter, qos in ((topic, 0), (f"{root}/+/leaf", 2), (f"{root}/#", 1)):
        with expecting(f"SUBACK for {topic_filter!r}"):
            granted[topic_filter] = sub.subscribe(topic_filter, qos=qos).reason_codes[0]
    best = max(code for code in granted.values() if code < 0x80)
    pub = ctx.connected("pub")
    publish(pub, topic, b"overlap", qos=2)
    send_sentinel(pub, topic, 2)
    copies = [p for p in until_sentinel(sub, "the message, then the sentinel")
              if p.payload == b"overlap"]
    copies += [p for p in drain(sub) if p.payload == b"overlap"]  # extra lower-QoS copies
    ctx.note(f"granted {granted}; copies delivered at QoS {[p.qos for p in copies]}")
    if not any(p.qos == best for p in copies):  # MQTT-3.3.5-1 / MQTT-3.3.4-2
        fail(f"a copy at QoS {best}, the highest granted among the matching subscriptions",
             f"copies at QoS {[p.qos for p in copies]}")
