"""What an MQTT 5 server declares in CONNACK, and keeps to (MQTT 5 section 3.2.2.3).

Strategy: the case reads the capabilities from the CONNACK it got itself, then holds the
broker to them: no Maximum QoS means QoS 2 works end to end (a SUBACK granting QoS 2, QoS 1
and 2 PUBLISH acknowledged and delivered); a lower Maximum QoS still lets every Requested
QoS be subscribed; a Will the broker cannot honour is refused.  Reason Strings and User
Properties on a CONNACK are optional: the case first looks for a CONNACK that carries them
(accepting, then refusing), then asks for the same CONNACK with a Maximum Packet Size one
byte too small for them.  A broker that never sends them leaves nothing to check (NOT
APPLICABLE).
"""

from __future__ import annotations

from conformance.case import CaseContext, case, fail, non_strict, not_applicable
from conformance.cases.connect import UNKNOWN_METHOD
from conformance.client import BrokerViolation, ClientError
from conformance.reactions import expect_violation_close
from mqttspec import Connack, Connect, Properties, Subscription, Will, encode


@case("connack.v5-maximum-qos-declared",
      "A broker that declares no Maximum QoS handles QoS 1 and QoS 2 end to end",
      v5="MQTT-3.2.2-9", levels=(5,))
def maximum_qos_declared(ctx: CaseContext) -> None:
    topic = ctx.topic("qos")
    sub = ctx.connected("sub")
    assert sub.connack is not None
    declared = sub.connack.properties.maximum_qos
    if declared is not None:
        ctx.note(f"declares Maximum QoS {declared}")
        return
    # MQTT-3.2.2-9: without a Maximum QoS the broker claims QoS 1 and QoS 2
    granted = sub.subscribe(topic, qos=2).reason_codes
    if granted != (2,):
        fail("SUBACK granting QoS 2 (no Maximum QoS was declared)", f"SUBACK {granted}")
    pub = ctx.connected("pub")
    for qos in (1, 2):
        ack = pub.publish(topic, f"qos{qos}".encode(), qos=qos)
        code = getattr(ack, "reason_code", 0)
        if code >= 0x80:
            fail(f"QoS {qos} PUBLISH accepted (no Maximum QoS was declared)", repr(ack))
        got = sub.expect_publish()
        if got.qos != qos:
            fail(f"the QoS {qos} message delivered at QoS {qos}", repr(got))


@case("connack.v5-any-requested-qos-subscribable",
      "Whatever its Maximum QoS, the broker accepts SUBSCRIBE with Requested QoS 0, 1 and 2",
      v5="MQTT-3.2.2-10", levels=(5,))
def any_requested_qos(ctx: CaseContext) -> None:
    c = ctx.connected()
    assert c.connack is not None
    maximum = c.connack.properties.maximum_qos
    filters = [Subscription(topic_filter=ctx.topic("q", str(q)), qos=q) for q in range(3)]
    try:
        suback = c.subscribe(*filters)
    except ClientError as exc:  # MQTT-3.2.2-10: the SUBSCRIBE is accepted
        fail("a SUBACK for Requested QoS 0, 1 and 2", str(exc))
    codes = suback.reason_codes
    if len(codes) != 3 or any(code >= 0x80 for code in codes):
        fail("each subscription accepted (a granted QoS, no failure code)", f"SUBACK {codes}")
    ctx.note(f"Maximum QoS {maximum if maximum is not None else 'absent'}; granted {codes}")


@case("connack.v5-will-qos-above-maximum-refused",
      "A Will QoS above the declared Maximum QoS is refused (0x9B advised), then the close",
      v5="MQTT-3.2.2-12", levels=(5,))
def will_qos_refused(ctx: CaseContext) -> None:
    maximum = ctx.target.capabilities.maximum_qos
    if maximum >= 2:
        not_applicable("the broker supports QoS 2: no Will QoS exceeds its capabilities")
    c = ctx.client()
    c.send(Connect(client_id=ctx.client_id(), protocol_level=5, will=Will(
        topic=ctx.topic("will"), payload=b"w", qos=maximum + 1)))
    # MQTT-3.2.2-12: reject and close; CONNACK 0x9B is a SHOULD
    code = expect_violation_close(ctx, c, f"a Will QoS {maximum + 1} above Maximum QoS "
                                  f"{maximum}", before_connack=True)
    if code != 0x9B:
        non_strict("CONNACK 0x9B (QoS not supported)", f"{code!r}")


@case("connack.v5-will-retain-unsupported-refused",
      "A Will Retain 1 is refused (0x9A advised) by a broker without retained messages",
      v5="MQTT-3.2.2-13", levels=(5,))
def will_retain_refused(ctx: CaseContext) -> None:
    if ctx.target.capabilities.retain_available:
        not_applicable("the broker supports retained messages")
    c = ctx.client()
    c.send(Connect(client_id=ctx.client_id(), protocol_level=5, will=Will(
        topic=ctx.topic("will"), payload=b"w", retain=True)))
    # MQTT-3.2.2-13: reject and close; CONNACK 0x9A is a SHOULD
    code = expect_violation_close(ctx, c, "a Will Retain 1 (Retain Available 0)",
                                  before_connack=True)
    if code != 0x9A:
        non_strict("CONNACK 0x9A (Retain not supported)", f"{code!r}")


def connack_for(ctx: CaseContext, refused: bool, limit: int | None) -> tuple[Connack, int] | None:
    """The CONNACK (and its size) for an accepting or refused CONNECT; None when the broker
    closed without one."""
    props = Properties(maximum_packet_size=limit)
    if refused:
        props = Properties(maximum_packet_size=limit, authentication_method=UNKNOWN_METHOD)
    c = ctx.client()
    if limit is not None:
        c.decoder.max_packet_size = limit  # a larger CONNACK is caught here
    c.send(encode(Connect(client_id=ctx.client_id(f"d{c.name}"), protocol_level=5,
                          properties=props)))
    try:
        connack = c.expect(Connack)
    except BrokerViolation as exc:  # MQTT-3.2.2-19 / MQTT-3.2.2-20
        fail(f"a CONNACK within the Maximum Packet Size of {limit} bytes", str(exc))
    except ClientError:
        return None
    size = len(c.decoder.last_raw)
    if connack.reason_code == 0:
        c.disconnect()
    c.close()
    return connack, size


@case("connack.v5-diagnostics-within-maximum-packet-size",
      "A CONNACK leaves out its Reason String / User Property when they would exceed the "
      "client's Maximum Packet Size", v5=("MQTT-3.2.2-19", "MQTT-3.2.2-20"), level="MUST NOT",
      levels=(5,))
def diagnostics_within_limit(ctx: CaseContext) -> None:
    for refused in (False, True):
        what = "refusing" if refused else "accepting"
        first = connack_for(ctx, refused, None)
        if first is None:
            continue
        connack, size = first
        props = connack.properties
        if props.reason_string is None and not props.user_properties:
            continue
        limit = size - 1
        again = connack_for(ctx, refused, limit)
        if again is None:
            if not refused:
                fail(f"the accepting CONNACK, its diagnostics left out to fit {limit} bytes",
                     "closed without a CONNACK")
            ctx.note(f"closed without the refusing CONNACK under a {limit}-byte limit")
            return
        if again[0].reason_code != connack.reason_code:
            fail(f"the same {what} CONNACK ({connack.reason_code:#04x})", repr(again[0]))
        ctx.note(f"the {what} CONNACK of {size} bytes came in {again[1]} under a limit of "
                 f"{limit}")
        return
    not_applicable("the broker sends no Reason String nor User Property in CONNACK")
