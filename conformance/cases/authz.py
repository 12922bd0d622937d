"""Authorisation of PUBLISH (MQTT 3.1.1 section 3.3.5).

A 3.x server that does not let a client publish to a topic has no way to say so: it either
acknowledges the PUBLISH as its QoS asks, or closes the network connection (MQTT-3.3.5-2);
either way the message reaches no subscriber.  Which topic the broker refuses is
configuration, so the target names one (`denied_topic`, e.g. `mqttlab run --denied-topic`);
without it these cases are NOT APPLICABLE.  MQTT 5 says "not authorised" with Reason Code
0x87, checked by the acknowledgement cases where a broker declares it.
"""

from __future__ import annotations

from conformance.case import CaseContext, case, fail, not_applicable
from conformance.client import BrokerClosed, ClientError
from mqttspec import Puback, Publish, Pubrec


def denied(ctx: CaseContext) -> str:
    topic = ctx.target.denied_topic
    if topic is None:
        not_applicable("no denied_topic given for this broker (a topic it does not authorise)")
    return topic


def _refused_publish(ctx: CaseContext, qos: int) -> None:
    topic = denied(ctx)
    c = ctx.connected()
    pid = c.packet_id()
    c.send(Publish(topic=topic, payload=b"unauthorised", qos=qos, packet_id=pid,
                   protocol_level=ctx.level))
    ack = Puback if qos == 1 else Pubrec
    try:
        got = c.recv()
    except BrokerClosed:
        ctx.note("closed the connection")
        return
    except ClientError as exc:
        fail(f"a {ack.__name__.upper()} for packet {pid} or a close", str(exc))
    if not isinstance(got, ack) or got.packet_id != pid:
        fail(f"a {ack.__name__.upper()} for packet {pid} or a close", f"received {got!r}")
    ctx.note(f"acknowledged with {ack.__name__.upper()}")


@case("authz.unauthorised-qos1-publish-acked-or-closed",
      "An unauthorised QoS 1 PUBLISH gets a PUBACK or the connection is closed",
      v3="MQTT-3.3.5-2", levels=(3, 4))
def unauthorised_qos1(ctx: CaseContext) -> None:
    _refused_publish(ctx, 1)


@case("authz.unauthorised-qos2-publish-acked-or-closed",
      "An unauthorised QoS 2 PUBLISH gets a PUBREC or the connection is closed",
      v3="MQTT-3.3.5-2", levels=(3, 4), needs=("maximum_qos",))
def unauthorised_qos2(ctx: CaseContext) -> None:
    if ctx.target.capabilities.maximum_qos < 2:
        not_applicable("the broker's Maximum QoS is below 2")
    _refused_publish(ctx, 2)
