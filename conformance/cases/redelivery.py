"""Message delivery retry and session state across reconnections (MQTT 3.1.1 / 5.0 sections
4.4 and 4.5, and the QoS 1 / QoS 2 rules that outlive a network connection).

Strategy: a subscriber with a persistent session (Clean Start 0; MQTT 5: a Session Expiry
Interval) leaves a QoS 1 or QoS 2 flow unfinished on purpose, disconnects and reconnects with
the same Client Identifier: the server must re-send, first and in order, the unacknowledged
PUBLISH packets with DUP 1 and their original Packet Identifiers, or only the PUBREL once the
PUBREC has come; what was acknowledged (even with a failure Reason Code, MQTT 5) is never
re-sent.  The server as receiver keeps its side too: a QoS 2 PUBLISH acknowledged by PUBREC
and re-sent after a reconnection is not delivered twice.  Every case ends its sessions.
"""

from __future__ import annotations

from conformance.case import CaseContext, case, fail
from conformance.cases.publish_common import (
    drain,
    end_session,
    expect_packet,
    nothing_more,
    open_session,
    payloads,
    publish,
    receive,
    require_qos,
    resume,
    send_sentinel,
    until_sentinel,
)
from conformance.client import TestClient
from mqttspec import Puback, Pubcomp, Publish, Pubrec, Pubrel


def _resent(c: TestClient, first: Publish, what: str) -> Publish:
    """The next packet is `first` again, with DUP 1 and its Packet Identifier."""
    p = receive(c, what, ack=False)
    if (p.packet_id, p.topic, p.payload, p.qos) != (first.packet_id, first.topic, first.payload,
                                                     first.qos):
        fail(f"{what}: Packet Identifier {first.packet_id}, {first.payload!r} at QoS "
             f"{first.qos} (MQTT-4.4.0-1)", repr(p))
    if not p.dup:  # MQTT-3.3.1-1: a re-delivery carries DUP 1
        fail(f"{what} with DUP 1 (MQTT-3.3.1-1)", repr(p))
    return p


@case("redelivery.qos1-publish-resent-with-dup",
      "An unacknowledged QoS 1 PUBLISH is re-sent on reconnection with DUP 1 and its Packet "
      "Identifier, and never once acknowledged",
      v3=("MQTT-4.4.0-1", "MQTT-3.3.1-1", "MQTT-4.3.2-1"),
      v5=("MQTT-4.4.0-1", "MQTT-3.3.1-1", "MQTT-4.3.2-3"))
def qos1_resent(ctx: CaseContext) -> None:
    require_qos(ctx, 1)
    cid, topic = ctx.client_id("sub"), ctx.topic("r1")
    try:
        sub = open_session(ctx, "sub", cid)
        sub.subscribe(topic, qos=1)
        publish(ctx.connected("pub"), topic, b"unacknowledged", qos=1)
        first = receive(sub, "the subscriber receives the QoS 1 message", ack=False)
        if ctx.level == 5:  # MQTT-4.4.0-1: no re-sending on the same connection
            nothing_more(sub, "re-sending of the PUBLISH while the connection is up")
        sub.disconnect()
        again = resume(ctx, "sub-again", cid)
        p = _resent(again, first, "the unacknowledged PUBLISH re-sent first")
        again.ack(p)
        nothing_more(again, "other packet once the re-sent PUBLISH is acknowledged")
        again.disconnect()
        third = resume(ctx, "sub-third", cid)
        nothing_more(third, "re-sending of a PUBLISH that was acknowledged (MQTT-4.3.2-1)")
    finally:
        end_session(ctx, cid)


@case("redelivery.qos2-publish-resent-with-dup",
      "A QoS 2 PUBLISH without PUBREC is re-sent on reconnection with DUP 1 and its Packet "
      "Identifier, then completes",
      v3=("MQTT-4.4.0-1", "MQTT-3.3.1-1", "MQTT-4.3.3-1"),
      v5=("MQTT-4.4.0-1", "MQTT-3.3.1-1", "MQTT-4.3.3-3"))
def qos2_resent(ctx: CaseContext) -> None:
    require_qos(ctx, 2)
    cid, topic = ctx.client_id("sub"), ctx.topic("r2")
    try:
        sub = open_session(ctx, "sub", cid)
        sub.subscribe(topic, qos=2)
        publish(ctx.connected("pub"), topic, b"no PUBREC yet", qos=2)
        first = receive(sub, "the subscriber receives the QoS 2 message", ack=False)
        sub.disconnect()
        again = resume(ctx, "sub-again", cid)
        p = _resent(again, first, "the PUBLISH without PUBREC re-sent first")
        again.ack(p)  # PUBREC, PUBREL (same identifier), PUBCOMP
        nothing_more(again, "other packet once the flow is complete")
    finally:
        end_session(ctx, cid)


@case("redelivery.pubrel-resent-not-publish",
      "After PUBREC, a reconnection re-sends the PUBREL with its Packet Identifier, never the "
      "PUBLISH",
      v3=("MQTT-4.4.0-1", "MQTT-4.3.3-1"),
      v5=("MQTT-4.4.0-1", "MQTT-4.3.3-5", "MQTT-4.3.3-6"))
def pubrel_resent(ctx: CaseContext) -> None:
    require_qos(ctx, 2)
    cid, topic, level = ctx.client_id("sub"), ctx.topic("rel"), ctx.level
    try:
        sub = open_session(ctx, "sub", cid)
        sub.subscribe(topic, qos=2)
        publish(ctx.connected("pub"), topic, b"released", qos=2)
        first = receive(sub, "the subscriber receives the QoS 2 message", ack=False)
        assert first.packet_id is not None
        sub.send(Pubrec(packet_id=first.packet_id, protocol_level=level))
        expect_packet(sub, Pubrel, f"PUBREL {first.packet_id}", first.packet_id)
        sub.disconnect()  # no PUBCOMP
        again = resume(ctx, "sub-again", cid)
        # MQTT-4.3.3-1 / MQTT-4.3.3-6: not the PUBLISH; MQTT-4.4.0-1: the PUBREL, same identifier
        expect_packet(again, Pubrel, f"the PUBREL {first.packet_id} re-sent, not the PUBLISH",
                      first.packet_id)
        again.send(Pubcomp(packet_id=first.packet_id, protocol_level=level))
        nothing_more(again, "packet once the PUBCOMP is sent")
        again.disconnect()
        nothing_more(resume(ctx, "sub-third", cid), "re-sending once PUBCOMP completed the "
                     "flow (MQTT-4.3.3-5)")
    finally:
        end_session(ctx, cid)


@case("redelivery.resent-in-order",
      "Several unacknowledged QoS 1 PUBLISH packets are re-sent in their original order",
      v3=("MQTT-4.4.0-1", "MQTT-4.6.0-6"), v5=("MQTT-4.4.0-1", "MQTT-4.6.0-5"))
def resent_in_order(ctx: CaseContext) -> None:
    require_qos(ctx, 1)
    cid, topic = ctx.client_id("sub"), ctx.topic("rorder")
    try:
        sub = open_session(ctx, "sub", cid)
        sub.subscribe(topic, qos=1)
        pub = ctx.connected("pub")
        for i in range(5):
            publish(pub, topic, f"m{i}".encode(), qos=1)
        firsts = [receive(sub, "the subscriber receives the five messages", ack=False)
                  for _ in range(5)]
        sub.disconnect()
        again = resume(ctx, "sub-again", cid)
        for first in firsts:
            again.ack(_resent(again, first, f"{first.payload!r} re-sent in its original place"))
        nothing_more(again, "other packet after the re-sent messages")
    finally:
        end_session(ctx, cid)


@case("redelivery.offline-messages-queued",
      "QoS 1 and 2 messages published while a persistent-session subscriber is offline are "
      "delivered on reconnection, DUP 0, in order",
      v3=("MQTT-4.5.0-1", "MQTT-4.3.2-1", "MQTT-4.3.3-1"),
      v5=("MQTT-4.5.0-1", "MQTT-4.3.2-2", "MQTT-4.3.3-2"))
def offline_queued(ctx: CaseContext) -> None:
    require_qos(ctx, 2)
    cid, topic = ctx.client_id("sub"), ctx.topic("offline")
    try:
        sub = open_session(ctx, "sub", cid)
        sub.subscribe(topic, qos=2)
        sub.disconnect()
        pub = ctx.connected("pub")
        sent = {1: [b"q1-a", b"q1-b"], 2: [b"q2-a", b"q2-b"]}
        for qos, messages in sent.items():
            for payload in messages:
                publish(pub, topic, payload, qos=qos)
        publish(pub, topic, b"q0", qos=0)  # QoS 0 may be kept or not (3.1.1 MAY)
        send_sentinel(pub, topic, 2)
        again = resume(ctx, "sub-again", cid)
        got = until_sentinel(again, "the messages published while offline")
        got += drain(again)  # ordering holds per QoS only: QoS 1 ones may follow the sentinel
        for p in got:
            if p.dup:  # never sent before: a first transmission (MQTT-4.3.2-1 / -4.3.3-1)
                fail("DUP 0 on a message sent for the first time", repr(p))
        for qos, messages in sent.items():  # MQTT-4.5.0-1: in the session state
            mine = [p.payload for p in got if p.payload in messages]
            if mine != messages:
                fail(f"the QoS {qos} messages {messages} in order", f"{payloads(got)}")
        kept = "kept" if b"q0" in payloads(got) else "not kept"
        ctx.note(f"the QoS 0 message published while offline was {kept}")
    finally:
        end_session(ctx, cid)


@case("redelivery.receiver-qos2-state-kept",
      "A QoS 2 PUBLISH acknowledged by PUBREC and re-sent after a reconnection gets a PUBREC, "
      "is delivered once, and its PUBREL a PUBCOMP",
      v3=("MQTT-4.3.3-2", "MQTT-4.4.0-1"),
      v5=("MQTT-4.3.3-10", "MQTT-4.3.3-11", "MQTT-4.4.0-1"))
def receiver_state(ctx: CaseContext) -> None:
    require_qos(ctx, 2)
    cid, topic, level = ctx.client_id("pub"), ctx.topic("rcv2"), ctx.level
    sub = ctx.connected("sub")
    sub.subscribe(topic, qos=2)
    try:
        pub = open_session(ctx, "pub", cid)
        pub.send(Publish(topic=topic, payload=b"exactly once", qos=2, packet_id=77,
                         protocol_level=level))
        expect_packet(pub, Pubrec, "PUBREC 77", 77)
        pub.disconnect()
        again = resume(ctx, "pub-again", cid)
        again.send(Publish(topic=topic, payload=b"exactly once", qos=2, dup=True, packet_id=77,
                           protocol_level=level))
        expect_packet(again, Pubrec, "PUBREC 77 for the PUBLISH re-sent before PUBREL", 77)
        again.send(Pubrel(packet_id=77, protocol_level=level))
        expect_packet(again, Pubcomp, "PUBCOMP 77", 77)
        send_sentinel(again, topic, 2)
        got = payloads(until_sentinel(sub, "the subscriber receives the message"))
        if got != [b"exactly once"]:  # MQTT-4.3.3-2 / -10: no duplicate onward
            fail("one copy delivered to the subscriber", f"{got}")
    finally:
        end_session(ctx, cid)


@case("redelivery.refused-ack-not-resent",
      "A PUBLISH answered with PUBACK / PUBREC 0x80 counts as acknowledged: no PUBREL, never "
      "re-sent",
      v5=("MQTT-4.4.0-2", "MQTT-4.3.3-4"), levels=(5,))
def refused_not_resent(ctx: CaseContext) -> None:
    require_qos(ctx, 2)
    cid, topic = ctx.client_id("sub"), ctx.topic("nack")
    try:
        sub = open_session(ctx, "sub", cid)
        sub.subscribe(topic, qos=2)
        pub = ctx.connected("pub")
        for qos, ack in ((1, Puback), (2, Pubrec)):
            publish(pub, topic, f"refused at QoS {qos}".encode(), qos=qos)
            p = receive(sub, f"the subscriber receives the QoS {qos} message", ack=False)
            assert p.packet_id is not None
            sub.send(ack(packet_id=p.packet_id, reason_code=0x80, protocol_level=5))
        # MQTT-4.3.3-4: PUBREL only after a PUBREC below 0x80
        nothing_more(sub, "PUBREL or re-sent PUBLISH after a PUBREC 0x80")
        sub.disconnect()
        nothing_more(resume(ctx, "sub-again", cid),
                     "re-sending of messages refused with Reason Code 0x80 (MQTT-4.4.0-2)")
    finally:
        end_session(ctx, cid)
