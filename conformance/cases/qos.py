"""The QoS 1 and QoS 2 protocols with the server on both ends (MQTT 3.1.1 / 5.0 section 4.3).

Strategy: the server as receiver is driven packet by packet by a publisher that chooses its
Packet Identifiers (re-using one after PUBACK / PUBCOMP, re-sending a PUBLISH with DUP before
PUBREL), while a subscriber counts what was delivered onward; "not delivered twice" is proven
with a sentinel (publish_common.py), never with a sleep.  The server as sender is read from a
subscriber that acknowledges by hand: fresh non-zero Packet Identifiers, QoS and DUP of the
first transmission, PUBREL after PUBREC with the same identifier.  The QoS of a delivery is
the minimum of the published QoS and the QoS granted in the SUBACK.
"""

from __future__ import annotations

from collections import Counter

from conformance.case import CaseContext, case, fail
from conformance.cases.publish_common import (
    drain,
    expect_packet,
    nothing_more,
    payloads,
    pipeline,
    publish,
    receive,
    require_qos,
    send_sentinel,
    until_sentinel,
    window,
)
from conformance.reactions import expect_violation_close
from mqttspec import (
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Subscribe,
    Subscription,
    Unsuback,
    Unsubscribe,
)


@case("qos.qos1-same-id-after-puback-is-new",
      "After its PUBACK, a QoS 1 PUBLISH re-using the Packet Identifier (DUP or not) is a new "
      "message and is delivered again",
      v3="MQTT-4.3.2-2", v5=("MQTT-4.3.2-4", "MQTT-4.3.2-5"))
def qos1_reuse(ctx: CaseContext) -> None:
    require_qos(ctx, 1)
    topic, level = ctx.topic("q1reuse"), ctx.level
    sub = ctx.connected("sub")
    sub.subscribe(topic, qos=1)
    pub = ctx.connected("pub")
    sent = [(b"first", False), (b"second", True), (b"first", True)]
    for payload, dup in sent:
        pub.send(Publish(topic=topic, payload=payload, qos=1, dup=dup, packet_id=10,
                         protocol_level=level))
        expect_packet(pub, Puback, "PUBACK 10", 10)
    send_sentinel(pub, topic, 1)
    got = payloads(until_sentinel(sub, "the subscriber receives every message"))
    if got != [p for p, _ in sent]:  # MQTT-4.3.2-2 / MQTT-4.3.2-5: each one is new
        fail(f"{[p for p, _ in sent]} (each PUBLISH after the PUBACK is a new message)",
             f"{got}")


@case("qos.qos2-duplicate-before-pubrel-not-redelivered",
      "A QoS 2 PUBLISH re-sent with DUP before PUBREL gets a PUBREC and is not delivered twice",
      v3="MQTT-4.3.3-2", levels=(3, 4))
def qos2_duplicate(ctx: CaseContext) -> None:
    require_qos(ctx, 2)
    # MQTT 5 forbids re-sending on the same connection (MQTT-4.4.0-1): its variant re-sends
    # after a reconnection (redelivery.receiver-qos2-state-kept)
    topic, level = ctx.topic("q2dup"), ctx.level
    sub = ctx.connected("sub")
    sub.subscribe(topic, qos=2)
    pub = ctx.connected("pub")
    pub.send(Publish(topic=topic, payload=b"once", qos=2, packet_id=20, protocol_level=level))
    expect_packet(pub, Pubrec, "PUBREC 20", 20)
    pub.send(Publish(topic=topic, payload=b"once", qos=2, dup=True, packet_id=20,
                     protocol_level=level))
    expect_packet(pub, Pubrec, "PUBREC 20 again for the re-sent PUBLISH (MQTT-4.3.3-2)", 20)
    pub.send(Pubrel(packet_id=20, protocol_level=level))
    expect_packet(pub, Pubcomp, "PUBCOMP 20", 20)
    send_sentinel(pub, topic, 2)
    got = payloads(until_sentinel(sub, "the subscriber receives the message"))
    if got != [b"once"]:  # no duplicate to onward recipients
        fail("exactly one copy of the message delivered onward", f"{got}")


@case("qos.qos2-same-id-after-pubcomp-is-new",
      "After its PUBCOMP, a QoS 2 PUBLISH re-using the Packet Identifier is a new message",
      v3="MQTT-4.3.3-2", v5=("MQTT-4.3.3-12", "MQTT-4.3.3-11"))
def qos2_reuse(ctx: CaseContext) -> None:
    require_qos(ctx, 2)
    topic, level = ctx.topic("q2reuse"), ctx.level
    sub = ctx.connected("sub")
    sub.subscribe(topic, qos=2)
    pub = ctx.connected("pub")
    for payload in (b"first", b"second"):
        pub.send(Publish(topic=topic, payload=payload, qos=2, packet_id=30,
                         protocol_level=level))
        expect_packet(pub, Pubrec, f"PUBREC 30 for {payload!r}", 30)
        pub.send(Pubrel(packet_id=30, protocol_level=level))
        expect_packet(pub, Pubcomp, "PUBCOMP 30", 30)
    send_sentinel(pub, topic, 2)
    got = payloads(until_sentinel(sub, "the subscriber receives both messages"))
    if got != [b"first", b"second"]:
        fail("both messages delivered (the second is new after the PUBCOMP)", f"{got}")


@case("qos.pubrel-answered-with-pubcomp",
      "Every PUBREL gets a PUBCOMP with its Packet Identifier, even one for no known message",
      v3="MQTT-4.3.3-2", v5=("MQTT-4.3.3-11", "MQTT-3.7.2-1"))
def pubrel_pubcomp(ctx: CaseContext) -> None:
    c = ctx.connected("pub")
    c.send(Pubrel(packet_id=0x4242, protocol_level=ctx.level))
    pubcomp = expect_packet(c, Pubcomp, "PUBCOMP 0x4242 for the PUBREL 0x4242", 0x4242)
    if ctx.level == 5:  # the decoder has checked the code is in the PUBCOMP table
        ctx.note(f"PUBCOMP Reason Code {pubcomp.reason_code:#04x} for an unknown identifier")


@case("qos.server-qos1-flow",
      "To a QoS 1 subscriber the server sends QoS 1, DUP 0 and a non-zero Packet Identifier",
      v3=("MQTT-4.3.2-1", "MQTT-2.3.1-1"), v5=("MQTT-4.3.2-1", "MQTT-4.3.2-2", "MQTT-2.2.1-4"))
def server_qos1(ctx: CaseContext) -> None:
    require_qos(ctx, 1)
    topic = ctx.topic("s1")
    sub = ctx.connected("sub")
    sub.subscribe(topic, qos=1)
    publish(ctx.connected("pub"), topic, b"q1", qos=1)
    p = receive(sub, "the subscriber receives the QoS 1 message", ack=False)
    if p.qos != 1 or p.dup or not p.packet_id:
        fail("QoS 1, DUP 0, a non-zero Packet Identifier (MQTT-4.3.2-1)", repr(p))
    sub.ack(p)
    nothing_more(sub, "packet after the PUBACK")


@case("qos.server-qos2-flow",
      "To a QoS 2 subscriber the server sends QoS 2 / DUP 0, answers PUBREC with a PUBREL of "
      "the same identifier and ends at PUBCOMP",
      v3=("MQTT-4.3.3-1", "MQTT-2.3.1-6"),
      v5=("MQTT-4.3.3-1", "MQTT-4.3.3-2", "MQTT-4.3.3-4", "MQTT-2.2.1-5", "MQTT-3.6.2-1"))
def server_qos2(ctx: CaseContext) -> None:
    require_qos(ctx, 2)
    topic, level = ctx.topic("s2"), ctx.level
    sub = ctx.connected("sub")
    sub.subscribe(topic, qos=2)
    publish(ctx.connected("pub"), topic, b"q2", qos=2)
    p = receive(sub, "the subscriber receives the QoS 2 message", ack=False)
    if p.qos != 2 or p.dup or not p.packet_id:
        fail("QoS 2, DUP 0, a non-zero Packet Identifier (MQTT-4.3.3-1)", repr(p))
    sub.send(Pubrec(packet_id=p.packet_id, protocol_level=level))
    pubrel = expect_packet(sub, Pubrel, f"PUBREL {p.packet_id} after our PUBREC",
                           p.packet_id)
    if level == 5 and pubrel.reason_code != 0:  # the decoder checked the PUBREL table
        fail("PUBREL Reason Code 0x00: the PUBREC was for a message the server sent",
             repr(pubrel))
    sub.send(Pubcomp(packet_id=p.packet_id, protocol_level=level))
    nothing_more(sub, "PUBLISH re-sent after the PUBREL (MQTT-4.3.3-1)")


@case("qos.server-packet-ids-unused",
      "The server's Packet Identifiers are non-zero and never one still awaiting PUBACK, "
      "PUBREC or PUBCOMP",
      v3=("MQTT-2.3.1-4", "MQTT-2.3.1-1", "MQTT-4.3.2-1", "MQTT-4.3.3-1"),
      v5=("MQTT-2.2.1-4", "MQTT-4.3.2-1", "MQTT-4.3.3-1"))
def server_packet_ids(ctx: CaseContext) -> None:
    require_qos(ctx, 2)
    topic, level = ctx.topic("ids"), ctx.level
    sub = ctx.connected("sub")
    sub.subscribe(topic, qos=2)
    pub = ctx.connected("pub")
    in_use: dict[int, Publish] = {}
    for qos, n in ((2, 3), (1, 4)):  # QoS 2 held at PUBREL stage, then QoS 1 unacknowledged
        for i in range(n):
            publish(pub, topic, f"{qos}-{i}".encode(), qos=qos)
        for _ in range(n):
            p = receive(sub, f"the subscriber receives the QoS {qos} messages", ack=False)
            assert p.packet_id is not None  # the decoder refused 0 (MQTT-2.3.1-1)
            if p.packet_id in in_use:
                fail("a Packet Identifier not in use (MQTT-2.3.1-4 / MQTT-2.2.1-4)",
                     f"{p.packet_id} for {p.payload!r} while {in_use[p.packet_id]!r} "
                     "still awaits its acknowledgement")
            in_use[p.packet_id] = p
        for pid in (list(in_use) if qos == 2 else []):  # PUBREC: now awaiting PUBCOMP
            sub.send(Pubrec(packet_id=pid, protocol_level=level))
            expect_packet(sub, Pubrel, f"PUBREL {pid}", pid)
    ctx.note(f"Packet Identifiers in use at once: {sorted(in_use)}")
    for pid, p in in_use.items():
        sub.send((Puback if p.qos == 1 else Pubcomp)(packet_id=pid, protocol_level=level))
    nothing_more(sub, "packet once everything is acknowledged")


@case("qos.delivered-at-granted-qos",
      "Each subscriber gets a message at the lower of its published QoS and the granted QoS",
      v3="MQTT-3.8.4-6", v5="MQTT-3.8.4-8")
def granted_qos(ctx: CaseContext) -> None:
    require_qos(ctx, 2)
    topic = ctx.topic("grant")
    subs = {}
    for requested in (0, 1, 2):
        sub = ctx.connected(f"sub{requested}")
        subs[requested] = (sub, sub.subscribe(topic, qos=requested).reason_codes[0])
    pub = ctx.connected("pub")
    for qos in (0, 1, 2):
        publish(pub, topic, f"published at {qos}".encode(), qos=qos)
    want = {f"published at {qos}".encode(): qos for qos in (0, 1, 2)}
    for requested, (sub, granted) in subs.items():
        if granted >= 0x80:
            fail(f"the QoS {requested} subscription is accepted", f"SUBACK {granted:#04x}")
        got: list[Publish] = []
        while {p.payload for p in got} != set(want) and len(got) < 6:  # order: per QoS only
            got.append(receive(sub, f"the QoS {requested} subscriber receives all three"))
        for p in got + drain(sub):
            published = want.get(p.payload)
            if published is None or p.qos != min(published, granted):
                fail(f"each message delivered at the lower of its QoS and the granted {granted}",
                     repr(p))
        copies = Counter(p.payload for p in got)
        if any(n > 1 and not (want[m] == 1 and granted == 0) for m, n in copies.items()):
            # MQTT-3.8.4-6 allows duplicates only for QoS 1 messages to a QoS 0 subscription
            fail("one copy of each message", f"{dict(copies)}")


@case("qos.suback-unsuback-packet-ids",
      "SUBACK and UNSUBACK carry the Packet Identifier of the SUBSCRIBE / UNSUBSCRIBE",
      v3="MQTT-2.3.1-7", v5="MQTT-2.2.1-6")
def suback_ids(ctx: CaseContext) -> None:
    c, level = ctx.connected(), ctx.level
    topic = ctx.topic("ids")
    c.send(Subscribe(packet_id=0x8001, subscriptions=(Subscription(topic_filter=topic, qos=1),),
                     protocol_level=level))
    expect_packet(c, Suback, "SUBACK 0x8001", 0x8001)
    c.send(Unsubscribe(packet_id=0x00FF, topic_filters=(topic,), protocol_level=level))
    expect_packet(c, Unsuback, "UNSUBACK 0x00FF", 0x00FF)


@case("qos.pubrel-reserved-flags-close",
      "A PUBREL whose fixed-header flags are not 0010 closes the connection",
      v3=("MQTT-3.6.1-1", "MQTT-2.2.2-1", "MQTT-2.2.2-2"), v5="MQTT-3.6.1-1", levels=(4, 5))
def pubrel_flags(ctx: CaseContext) -> None:
    require_qos(ctx, 2)
    topic, level = ctx.topic("relflags"), ctx.level
    c = ctx.connected("pub")
    c.send(Publish(topic=topic, payload=b"held", qos=2, packet_id=5, protocol_level=level))
    expect_packet(c, Pubrec, "PUBREC 5", 5)
    c.send(bytes((0x60, 0x02, 0x00, 0x05)), note="PUBREL 5 with flags 0000")
    expect_violation_close(ctx, c, "a PUBREL with flags 0000")


@case("qos.pipelined-messages-all-delivered",
      "Every one of many QoS 1 and QoS 2 messages published back to back, once acknowledged, "
      "reaches the subscriber exactly once",
      v3=("MQTT-4.5.0-1", "MQTT-4.3.2-2", "MQTT-4.3.3-2"),
      v5=("MQTT-4.5.0-1", "MQTT-4.3.2-4", "MQTT-4.3.3-8"))
def pipelined(ctx: CaseContext) -> None:
    require_qos(ctx, 2)
    n = window(ctx, 40)
    for qos in (1, 2):
        topic = ctx.topic(f"pipe{qos}")
        sub = ctx.connected(f"sub{qos}")
        sub.subscribe(topic, qos=2)
        pub = ctx.connected(f"pub{qos}")
        pipeline(pub, topic, "m", n, qos)  # every flow completed: the server owns them all
        send_sentinel(pub, topic, qos)
        got = payloads(until_sentinel(sub, f"all {n} QoS {qos} messages, then the sentinel"))
        want = [f"m:{i:03}".encode() for i in range(n)]
        if sorted(got) != want:
            lost = sorted(set(want) - set(got))
            fail(f"each of the {n} acknowledged QoS {qos} messages delivered once "
                 "(MQTT-4.5.0-1)", f"{len(got)} delivered; missing {lost[:5]}"
                 f"{' ...' if len(lost) > 5 else ''}")
