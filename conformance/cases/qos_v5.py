"""MQTT 5 only: Reason Codes of the acknowledgements, refused and expired QoS 2 flows, and the
server's Maximum QoS (MQTT 5 sections 3.2.2.3.4, 3.4 - 3.7, 4.3.3).

Strategy: the strict decoder already refuses an acknowledgement whose Reason Code is not in
its packet's table, so the Reason Code cases drive every acknowledgement the server sends in
ordinary flows (to a topic with and without subscribers) and record which codes it chose.
Maximum QoS is read from the CONNACK (discover.py): the cases about exceeding it are NOT
APPLICABLE on a server that supports QoS 2.  Expiry cases use the smallest Message Expiry
Interval (1 s) and a bounded wait of 2.1 s (past the expiry even on a clock that counts whole
seconds), no sleep.
"""

from __future__ import annotations

import time

from conformance.case import CaseContext, case, fail, non_strict, not_applicable
from conformance.cases.publish_common import (
    connect_with_will,
    end_session,
    expect_packet,
    expecting,
    nothing_more,
    open_session,
    publish,
    receive,
    require_qos,
    resume,
    send_sentinel,
    until_sentinel,
)
from conformance.client import WaitTimeout
from conformance.reactions import expect_violation_close
from mqttspec import (
    Properties,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Subscription,
)

QOS_NOT_SUPPORTED = 0x9B
EXPIRED_AFTER = 2.1  # seconds: a 1 s Message Expiry has passed on any clock, whole seconds too


@case("qos.v5-ack-reason-codes",
      "PUBACK, PUBREC, PUBREL and PUBCOMP from the server carry Reason Codes of their own "
      "tables",
      v5=("MQTT-3.4.2-1", "MQTT-3.5.2-1", "MQTT-3.6.2-1", "MQTT-3.7.2-1"), levels=(5,))
def ack_codes(ctx: CaseContext) -> None:
    require_qos(ctx, 2)
    watched, lonely = ctx.topic("watched"), ctx.topic("nobody")
    sub = ctx.connected("sub")
    sub.subscribe(watched, qos=2)
    pub = ctx.connected("pub")
    seen = []
    for topic, who in ((watched, "a subscriber"), (lonely, "no subscriber")):
        for qos in (1, 2):
            ack = publish(pub, topic, b"codes", qos=qos)  # the decoder checks every table
            seen.append(f"QoS {qos} to a topic with {who}: {type(ack).__name__.upper()} "
                        f"{getattr(ack, 'reason_code', 0):#04x}")
    for _ in range(2):
        p = receive(sub, "the subscriber receives both messages", ack=False)
        assert p.packet_id is not None
        if p.qos == 2:
            sub.send(Pubrec(packet_id=p.packet_id, protocol_level=5))
            pubrel = expect_packet(sub, Pubrel, f"PUBREL {p.packet_id}", p.packet_id)
            seen.append(f"PUBREL {pubrel.reason_code:#04x}")
            sub.send(Pubcomp(packet_id=p.packet_id, protocol_level=5))
        else:
            sub.ack(p)
    ctx.note("; ".join(seen))


@case("qos.v5-refused-pubrec-then-new",
      "After a PUBREC with a failure Reason Code, a PUBLISH with the same Packet Identifier is "
      "a new message",
      v5="MQTT-4.3.3-9", levels=(5,))
def refused_then_new(ctx: CaseContext) -> None:
    require_qos(ctx, 2)
    # the one refusal a client can provoke on any server: a payload that is not the UTF-8 its
    # Payload Format Indicator announces (a server MAY check it, section 3.3.2.3.2)
    topic = ctx.topic("pfi")
    sub = ctx.connected("sub")
    sub.subscribe(topic, qos=2)
    pub = ctx.connected("pub")
    pub.send(Publish(topic=topic, payload=b"\xff\xfe not UTF-8", qos=2, packet_id=9,
                     properties=Properties(payload_format_indicator=1), protocol_level=5))
    with expecting("PUBREC 9, or a DISCONNECT for the invalid payload"):
        answer = pub.recv()
    if not isinstance(answer, Pubrec) or answer.packet_id != 9:
        not_applicable(f"the broker answered {answer!r}: no refused PUBREC to follow")
    if answer.reason_code < 0x80:
        pub.send(Pubrel(packet_id=9, protocol_level=5))
        expect_packet(pub, Pubcomp, "PUBCOMP 9", 9)
        not_applicable("the broker accepted the invalid payload (checking it is optional): "
                       "no refused PUBREC to follow")
    ctx.note(f"PUBREC 9 {answer.reason_code:#04x} for the invalid payload")
    pub.send(Publish(topic=topic, payload=b"valid", qos=2, packet_id=9, protocol_level=5))
    pubrec = expect_packet(pub, Pubrec, "PUBREC 9 for the new message", 9)
    if pubrec.reason_code >= 0x80:
        fail("the new message accepted", repr(pubrec))
    pub.send(Pubrel(packet_id=9, protocol_level=5))
    expect_packet(pub, Pubcomp, "PUBCOMP 9", 9)
    send_sentinel(pub, topic, 2)
    got = [p.payload for p in until_sentinel(sub, "the new message is delivered")]
    if got != [b"valid"]:  # MQTT-4.3.3-9: a new Application Message, not a duplicate
        fail("the new message with the re-used Packet Identifier delivered", f"{got}")


@case("qos.v5-received-qos2-flow-survives-expiry",
      "A QoS 2 flow whose message expired before PUBREL still ends with PUBCOMP 0x00",
      v5="MQTT-4.3.3-13", levels=(5,))
def received_expired(ctx: CaseContext) -> None:
    require_qos(ctx, 2)
    topic = ctx.topic("exp13")
    pub = ctx.connected("pub")
    pub.send(Publish(topic=topic, payload=b"short-lived", qos=2, packet_id=13,
                     properties=Properties(message_expiry_interval=1), protocol_level=5))
    expect_packet(pub, Pubrec, "PUBREC 13", 13)
    started = time.monotonic()
    try:  # a bounded wait past the 1 s expiry; nothing may come meanwhile
        got = pub.recv(timeout=EXPIRED_AFTER)
        fail("nothing while the PUBREL is pending", repr(got))
    except WaitTimeout:
        pass
    ctx.note(f"PUBREL sent {time.monotonic() - started:.2f} s after the PUBREC")
    pub.send(Pubrel(packet_id=13, protocol_level=5))
    pubcomp = expect_packet(pub, Pubcomp, "PUBCOMP 13", 13)
    if pubcomp.reason_code != 0:  # 0x92 would say the flow was forgotten
        fail("PUBCOMP 0x00: the acknowledgement sequence continues after expiry",
             repr(pubcomp))


@case("qos.v5-sent-qos2-not-expired",
      "A QoS 2 PUBLISH already sent is not expired: it is re-sent on reconnection after its "
      "Message Expiry Interval",
      v5=("MQTT-4.3.3-7", "MQTT-4.4.0-1"), levels=(5,))
def sent_not_expired(ctx: CaseContext) -> None:
    require_qos(ctx, 2)
    cid, topic = ctx.client_id("sub"), ctx.topic("exp7")
    try:
        sub = open_session(ctx, "sub", cid)
        sub.subscribe(topic, qos=2)
        publish(ctx.connected("pub"), topic, b"in flight", qos=2,
                properties=Properties(message_expiry_interval=1))
        first = receive(sub, "the subscriber receives the QoS 2 message", ack=False)
        try:  # wait past the expiry; MQTT-4.4.0-1: no re-sending meanwhile
            got = sub.recv(timeout=EXPIRED_AFTER)
            fail("nothing while the PUBLISH waits for its PUBREC", repr(got))
        except WaitTimeout:
            pass
        sub.disconnect()
        again = resume(ctx, "sub-again", cid)
        p = receive(again, "the PUBLISH re-sent although its expiry has passed", ack=False)
        if (p.packet_id, p.payload, p.dup) != (first.packet_id, first.payload, True):
            fail(f"PUBLISH {first.packet_id} {first.payload!r} re-sent with DUP 1", repr(p))
        again.ack(p)
    finally:
        end_session(ctx, cid)


def _max_qos(ctx: CaseContext) -> int:
    return ctx.target.capabilities.maximum_qos


@case("qos.v5-maximum-qos-honoured",
      "Every QoS up to the Maximum QoS the CONNACK declares is accepted and delivered at that "
      "QoS",
      v5="MQTT-3.2.2-9", levels=(5,))
def maximum_qos_honoured(ctx: CaseContext) -> None:
    top = _max_qos(ctx)
    ctx.note(f"Maximum QoS {top}")
    topic = ctx.topic("maxq")
    sub = ctx.connected("sub")
    granted = sub.subscribe(topic, qos=2).reason_codes[0]
    pub = ctx.connected("pub")
    for qos in range(top + 1):  # MQTT-3.2.2-9: what the CONNACK declares is supported
        ack = publish(pub, topic, f"at {qos}".encode(), qos=qos)
        if ack is not None and getattr(ack, "reason_code", 0) >= 0x80:
            fail(f"a QoS {qos} PUBLISH accepted (QoS {qos} <= Maximum QoS {top})", repr(ack))
    got = sorted((receive(sub, "every message delivered") for _ in range(top + 1)),
                 key=lambda p: p.payload)
    for qos, p in enumerate(got):
        if p.qos != min(qos, granted):
            fail(f"{p.payload!r} delivered at QoS {min(qos, granted)} (granted {granted})",
                 repr(p))


@case("qos.v5-maximum-qos-exceeded-disconnects",
      "A PUBLISH above the declared Maximum QoS closes the connection (DISCONNECT 0x9B)",
      v5=("MQTT-3.2.2-11", "MQTT-4.13.1-1"), levels=(5,))
def maximum_qos_exceeded(ctx: CaseContext) -> None:
    top = _max_qos(ctx)
    if top == 2:
        not_applicable("the broker supports QoS 2: no QoS exceeds its Maximum QoS")
    topic = ctx.topic("toohigh")
    watcher = ctx.connected("watcher")
    watcher.subscribe(topic, qos=2)
    c = ctx.connected("pub")
    c.send(Publish(topic=topic, payload=b"too high", qos=top + 1, packet_id=1,
                   protocol_level=5))
    code = expect_violation_close(ctx, c, f"a QoS {top + 1} PUBLISH (Maximum QoS {top})")
    nothing_more(watcher, "message from the PUBLISH above the Maximum QoS")
    if code is not None and code != QOS_NOT_SUPPORTED:  # section 3.2.2.3.4: "uses ... 0x9B"
        non_strict("DISCONNECT 0x9B (QoS not supported)", f"DISCONNECT {code:#04x}")


@case("qos.v5-maximum-qos-subscribe-accepted",
      "A server with Maximum QoS below 2 still accepts SUBSCRIBE requesting QoS 0, 1 and 2",
      v5=("MQTT-3.2.2-10", "MQTT-3.8.4-7"), levels=(5,))
def maximum_qos_subscribe(ctx: CaseContext) -> None:
    top = _max_qos(ctx)
    if top == 2:
        not_applicable("the broker supports QoS 2")
    c = ctx.connected()
    subs = [Subscription(topic_filter=ctx.topic(f"req{q}"), qos=q) for q in (0, 1, 2)]
    with expecting("a SUBACK for the three subscriptions"):
        suback = c.subscribe(*subs)
    for sub, code in zip(subs, suback.reason_codes, strict=True):
        if code >= 0x80:  # MQTT-3.2.2-10: accepted, whatever QoS it requests
            fail(f"the subscription requesting QoS {sub.qos} accepted", f"SUBACK {code:#04x}")
    ctx.note(f"Maximum QoS {top}; SUBACK granted {list(suback.reason_codes)} for 0, 1, 2")


@case("qos.v5-will-qos-above-maximum-refused",
      "A CONNECT whose Will QoS exceeds the Maximum QoS is refused (CONNACK 0x9B) and closed",
      v5="MQTT-3.2.2-12", levels=(5,))
def will_qos_refused(ctx: CaseContext) -> None:
    top = _max_qos(ctx)
    if top == 2:
        not_applicable("the broker supports QoS 2: no Will QoS exceeds it")
    c = ctx.client()
    c.send(connect_with_will(ctx, qos=top + 1))
    code = expect_violation_close(ctx, c, f"a CONNECT with Will QoS {top + 1}",
                                  before_connack=True)
    if code is None:
        non_strict("CONNACK 0x9B before closing (SHOULD)", "closed without a CONNACK")
    if code != QOS_NOT_SUPPORTED:  # MQTT-3.2.2-12: SHOULD use 0x9B
        non_strict("CONNACK 0x9B (QoS not supported)", f"CONNACK {code:#04x}")

