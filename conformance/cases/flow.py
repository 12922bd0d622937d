"""Flow control: Receive Maximum in both directions (MQTT 5 sections 3.3.4 and 4.9).

Strategy, server to client: a subscriber declares a small Receive Maximum and leaves the
server's QoS 1 / QoS 2 PUBLISH packets unacknowledged.  The publisher's own acknowledgements
prove the messages have been routed; the subscriber's barrier (PINGREQ / PINGRESP) then proves
what was NOT sent: never more unacknowledged PUBLISH packets than the Receive Maximum
(MQTT-3.3.4-9, MQTT-4.9.0-2), but at least one (a non-zero initial quota, MQTT-4.9.0-1).
Each PUBACK, or PUBCOMP (a PUBREC alone frees nothing), lets exactly one more through.  While
the quota is zero, everything but PUBLISH is still answered at once: SUBACK, UNSUBACK,
PINGRESP, the acknowledgements of the subscriber's own messages, the PUBREL of a QoS 2 flow
(MQTT-3.3.4-10, MQTT-4.9.0-3).

Client to server: a client that sends more unreleased QoS 2 PUBLISH packets than the
server's Receive Maximum gets, in the spec's words, a DISCONNECT 0x93 (section 3.3.4); up to
the maximum they are all accepted.  Only a server that declared a Receive Maximum below
65535 can be tested (65535 Packet Identifiers cannot exceed 65535).
"""

from __future__ import annotations

from conformance.case import CaseContext, case, fail, non_strict, not_applicable
from conformance.cases.properties_common import (
    answer_or_close,
    nothing_more,
    publish,
    publishes,
    receive,
    subscribe,
)
from conformance.client import TestClient
from mqttspec import (
    Packet,
    Properties,
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

RECEIVE_MAXIMUM_EXCEEDED = 0x93
PRACTICAL_LIMIT = 1000  # a server Receive Maximum the case can exceed in reasonable time


def _quota_subscriber(ctx: CaseContext, topic: str, receive_maximum: int, qos: int
                      ) -> TestClient:
    sub = ctx.connected("sub", properties=Properties(receive_maximum=receive_maximum))
    subscribe(sub, topic, qos=qos)
    return sub


def _held(sub: TestClient, quota: int, what: str) -> list[Publish]:
    """Barrier: the PUBLISH packets that came; more than `quota` breaks the Receive Maximum."""
    got = publishes(nothing_more(sub, what))
    if len(got) > quota:  # MQTT-3.3.4-9 / MQTT-4.9.0-2
        fail(f"at most {quota} more PUBLISH while {what} (MQTT-3.3.4-9, MQTT-4.9.0-2)",
             f"{len(got)}: {[p.payload for p in got]}")
    return got


@case("flow.server-respects-client-receive-maximum-qos1",
      "The server never has more unacknowledged QoS 1 PUBLISH packets to a client than its "
      "Receive Maximum; each PUBACK lets one more through",
      v5=("MQTT-3.3.4-9", "MQTT-4.9.0-1", "MQTT-4.9.0-2"), levels=(5,))
def receive_maximum_qos1(ctx: CaseContext) -> None:
    topic, count, quota = ctx.topic("rm1"), 6, 2
    sub = _quota_subscriber(ctx, topic, quota, qos=1)
    pub = ctx.connected("pub")
    for n in range(count):
        publish(pub, topic, f"m{n}".encode(), qos=1)  # PUBACK: routed
    pending = _held(sub, quota, f"the client's Receive Maximum of {quota} is used up")
    if not pending:  # MQTT-4.9.0-1: the initial send quota is not zero
        fail(f"up to {quota} PUBLISH packets before any acknowledgement (MQTT-4.9.0-1)",
             "none came")
    got = []
    while pending:
        got.append(pending.pop(0))
        sub.ack(got[-1])
        pending += _held(sub, quota - len(pending), "one PUBACK was sent")
    payloads = [p.payload for p in got]
    if payloads != [f"m{n}".encode() for n in range(count)]:
        fail(f"all {count} messages, in order, as the quota frees up", f"{payloads}")


@case("flow.server-respects-client-receive-maximum-qos2",
      "A QoS 2 PUBLISH counts against the client's Receive Maximum until its PUBCOMP, not its "
      "PUBREC; the PUBREL is not held back",
      v5=("MQTT-3.3.4-9", "MQTT-4.9.0-2", "MQTT-3.3.4-10", "MQTT-4.9.0-3"), levels=(5,))
def receive_maximum_qos2(ctx: CaseContext) -> None:
    topic = ctx.topic("rm2")
    sub = _quota_subscriber(ctx, topic, 1, qos=2)
    pub = ctx.connected("pub")
    for n in range(3):
        publish(pub, topic, f"m{n}".encode(), qos=2)
    for n in range(3):
        held = _held(sub, 1, "the quota of 1 is used up")
        first = held[0] if held else receive(sub, f"message m{n}", ack=False)
        if first.payload != f"m{n}".encode() or first.qos != 2:
            fail(f"message m{n} at QoS 2", f"{first!r}")
        sub.send(Pubrec(packet_id=first.packet_id or 0, protocol_level=5))
        after = nothing_more(sub, "PUBREC sent, PUBCOMP not yet")
        if publishes(after):  # MQTT-3.3.4-9: PUBREC does not free the quota
            fail("no further PUBLISH before the PUBCOMP (MQTT-3.3.4-9, MQTT-4.9.0-2)",
                 f"{publishes(after)!r}")
        if not any(isinstance(p, Pubrel) for p in after):  # MQTT-3.3.4-10
            fail("the PUBREL, not held back by the zero quota (MQTT-3.3.4-10, MQTT-4.9.0-3)",
                 f"{after!r}")
        sub.send(Pubcomp(packet_id=first.packet_id or 0, protocol_level=5))


@case("flow.server-answers-other-packets-at-zero-quota",
      "With the client's Receive Maximum used up, the server still answers SUBSCRIBE, "
      "UNSUBSCRIBE, PINGREQ and the client's own QoS 1 and 2 messages at once",
      v5=("MQTT-3.3.4-10", "MQTT-4.9.0-3"), levels=(5,))
def other_packets(ctx: CaseContext) -> None:
    topic, other = ctx.topic("zq"), ctx.topic("other")
    sub = _quota_subscriber(ctx, topic, 1, qos=1)
    pub = ctx.connected("pub")
    for n in range(2):
        publish(pub, topic, f"m{n}".encode(), qos=1)
    first = receive(sub, "the first message (quota 1)", ack=False)
    sub.send(Subscribe(packet_id=101, subscriptions=(Subscription(topic_filter=other),),
                       protocol_level=5))
    sub.send(Unsubscribe(packet_id=102, topic_filters=(other,), protocol_level=5))
    sub.send(Publish(topic=other, payload=b"own 1", qos=1, packet_id=103, protocol_level=5))
    sub.send(Publish(topic=other, payload=b"own 2", qos=2, packet_id=104, protocol_level=5))
    answers = nothing_more(sub, "the quota is zero")
    if any(isinstance(p, Pubrec) and p.packet_id == 104 for p in answers):
        sub.send(Pubrel(packet_id=104, protocol_level=5))
        answers += nothing_more(sub, "the quota is zero, PUBREL sent")
    wanted: list[tuple[type[Packet], int]] = [
        (Suback, 101), (Unsuback, 102), (Puback, 103), (Pubrec, 104), (Pubcomp, 104)]
    missing = [f"{cls.__name__.upper()} {pid}" for cls, pid in wanted
               if not any(isinstance(p, cls) and getattr(p, "packet_id", None) == pid
                          for p in answers)]
    if missing:  # MQTT-3.3.4-10 / MQTT-4.9.0-3
        fail(f"{', '.join(missing)} at once although the quota is zero "
             "(MQTT-3.3.4-10, MQTT-4.9.0-3)", f"{answers!r}")
    if publishes(answers):
        fail("no second PUBLISH while the quota is zero (MQTT-3.3.4-9)",
             f"{publishes(answers)!r}")
    sub.ack(first)
    receive(sub, "the second message, once the first is acknowledged")


@case("flow.client-exceeding-server-receive-maximum",
      "A client with more unreleased QoS 2 messages than the server's Receive Maximum is "
      "disconnected (0x93); up to the maximum they are accepted",
      v5=("MQTT-3.3.4-7", "MQTT-4.13.2-1"), level="SHOULD", levels=(5,))
def client_exceeds(ctx: CaseContext) -> None:
    limit = ctx.target.capabilities.receive_maximum
    if limit >= 0xFFFF:
        not_applicable("the server declared no Receive Maximum below 65535")
    if limit > PRACTICAL_LIMIT:
        not_applicable(f"the server's Receive Maximum {limit} is above {PRACTICAL_LIMIT}")
    topic = ctx.topic("over")
    c = ctx.connected("pub")
    for pid in range(1, limit + 1):
        c.send(Publish(topic=topic, payload=b"unreleased", qos=2, packet_id=pid,
                       protocol_level=5))
    answers = nothing_more(c, f"{limit} QoS 2 messages unreleased, the server's maximum")
    recs = [p for p in answers if isinstance(p, Pubrec) and p.reason_code < 0x80]
    if len(recs) != limit:
        fail(f"a PUBREC 0x00 / 0x10 for each of the {limit} messages within the Receive "
             "Maximum", f"{answers!r}")
    c.send(Publish(topic=topic, payload=b"one too many", qos=2, packet_id=limit + 1,
                   protocol_level=5))
    reply, code = answer_or_close(ctx, c, f"QoS 2 message number {limit + 1}")
    if reply is not None:
        non_strict(f"DISCONNECT 0x93 (Receive Maximum exceeded) after message {limit + 1} "
                   "(MQTT 5 section 3.3.4)", f"{reply!r}, the connection left open")
    if code is not None and code != RECEIVE_MAXIMUM_EXCEEDED:
        non_strict("DISCONNECT 0x93 (Receive Maximum exceeded)", f"DISCONNECT {code:#04x}")
