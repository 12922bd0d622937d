"""What an MQTT 5 client declares in CONNECT binds the server (MQTT 5 section 3.1.2.11).

Strategy: a subscriber declares a limit in its CONNECT (Maximum Packet Size, Topic Alias
Maximum, Request Response Information 0, Request Problem Information 0) and a second client
publishes to it, or the subscriber provokes the acknowledgements that usually carry a Reason
String (UNSUBACK for a filter it never had, PUBCOMP for a PUBREL nobody waits for).  Every
packet the subscriber receives is checked against the limit; the subscriber's decoder also
refuses any packet above its Maximum Packet Size (MQTT-3.1.2-24), so a broker that sends one
is caught in the act.
"""

from __future__ import annotations

from conformance.case import CaseContext, case, fail
from conformance.client import BrokerViolation, ClientError, TestClient
from mqttspec import (
    Connack,
    Disconnect,
    Packet,
    Properties,
    Publish,
    Pubrel,
)

LIMIT = 128  # the subscriber's Maximum Packet Size, in bytes


@case("connect.maximum-packet-size-respected",
      "No packet above the client's Maximum Packet Size; a message too large is skipped",
      v5=("MQTT-3.1.2-24", "MQTT-3.1.2-25"), levels=(5,))
def maximum_packet_size(ctx: CaseContext) -> None:
    topic = ctx.topic("mps")
    sub = ctx.connected("sub", properties=Properties(maximum_packet_size=LIMIT))
    sub.decoder.max_packet_size = LIMIT  # MQTT-3.1.2-24: a larger packet is caught here
    sub.subscribe(topic, qos=1)
    pub = ctx.connected("pub")
    pub.publish(topic, b"L" * (2 * LIMIT), qos=1)
    pub.publish(topic, b"small", qos=1)
    try:
        got = sub.expect_publish()
        rest = sub.no_publish()
    except BrokerViolation as exc:
        fail(f"no packet larger than the Maximum Packet Size of {LIMIT} bytes", str(exc))
    except ClientError as exc:
        # MQTT-3.1.2-25: the large message is dropped as if sent; the next one still flows
        fail("the small message delivered after the large one was skipped", str(exc))
    if got.payload != b"small" or rest:
        fail("only the small message (the large one discarded unsent)",
             f"{got!r}, then {rest}")


@case("connect.no-topic-alias-without-maximum",
      "A client that declares no Topic Alias Maximum never receives a Topic Alias",
      v5="MQTT-3.1.2-27", level="MUST NOT", levels=(5,))
def no_topic_alias(ctx: CaseContext) -> None:
    topic = ctx.topic("alias", "none")
    sub = ctx.connected("sub")
    sub.subscribe(topic, qos=0)
    pub = ctx.connected("pub")
    for n in range(4):
        pub.publish(topic, f"m{n}".encode(), qos=1)
    for _ in range(4):
        p = sub.expect_publish()
        if p.properties.topic_alias is not None:  # MQTT-3.1.2-27
            fail("no Topic Alias (the client declared no Topic Alias Maximum)", repr(p))


@case("connect.topic-alias-within-maximum",
      "Topic Aliases the broker sends stay within the client's Topic Alias Maximum",
      v5="MQTT-3.1.2-26", level="MUST NOT", levels=(5,))
def topic_alias_maximum(ctx: CaseContext) -> None:
    maximum = 2
    topics = [ctx.topic("alias", str(n)) for n in range(4)]
    sub = ctx.connected("sub", properties=Properties(topic_alias_maximum=maximum))
    sub.subscribe(ctx.topic("alias", "+"), qos=0)
    pub = ctx.connected("pub")
    for _ in range(2):
        for t in topics:
            pub.publish(t, t.encode(), qos=1)
    aliases: dict[int, str] = {}
    used = 0
    for _ in range(2 * len(topics)):
        p = sub.expect_publish()
        alias = p.properties.topic_alias
        if alias is None:
            continue
        used += 1
        if not 1 <= alias <= maximum:  # MQTT-3.1.2-26
            fail(f"Topic Aliases 1..{maximum}", f"Topic Alias {alias} in {p!r}")
        if p.topic:
            aliases[alias] = p.topic
        elif aliases.get(alias) != p.payload.decode():
            fail("a Topic Alias that stands for the message's topic",
                 f"alias {alias} (known as {aliases.get(alias)!r}) on {p!r}")
    ctx.note(f"{used} PUBLISH packets carried a Topic Alias")


@case("connect.no-response-information-unless-requested",
      "Without Request Response Information 1 the CONNACK has no Response Information",
      v5="MQTT-3.1.2-28", level="MUST NOT", levels=(5,))
def no_response_information(ctx: CaseContext) -> None:
    for props, what in ((Properties(request_response_information=0), "0"),
                        (Properties(), "absent")):
        c = ctx.connected(properties=props)
        assert c.connack is not None
        info = c.connack.properties.response_information
        if info is not None:  # MQTT-3.1.2-28 (absent means 0)
            fail(f"no Response Information (Request Response Information {what})",
                 f"Response Information {info!r}")
        c.disconnect()


def diagnostics(p: Packet) -> bool:
    props: Properties | None = getattr(p, "properties", None)
    return props is not None and (props.reason_string is not None or bool(props.user_properties))


def provoke(ctx: CaseContext, c: TestClient) -> list[Packet]:
    """Packets that commonly carry a Reason String: an UNSUBACK for a filter never
    subscribed, a PUBCOMP for an unknown PUBREL, a PUBACK with no subscriber, a SUBACK."""
    got: list[Packet] = [c.unsubscribe(ctx.topic("never-subscribed"))]
    c.send(Pubrel(packet_id=4242, protocol_level=5))
    got += c.barrier()
    got.append(c.subscribe(ctx.topic("sub"), qos=1))
    ack = c.publish(ctx.topic("nobody"), b"x", qos=1)
    if ack is not None:
        got.append(ack)
    return got


@case("connect.no-diagnostics-when-problem-information-0",
      "Request Problem Information 0: no Reason String or User Property but on PUBLISH, "
      "CONNACK and DISCONNECT", v5="MQTT-3.1.2-29", level="MUST NOT", levels=(5,))
def request_problem_information(ctx: CaseContext) -> None:
    control = ctx.connected("control")
    shown = [p for p in provoke(ctx, control) if diagnostics(p)]
    ctx.note(f"with problem information allowed, {len(shown)} acknowledgements carried a "
             "Reason String or User Property")
    control.disconnect()
    c = ctx.connected("quiet", properties=Properties(request_problem_information=0))
    for p in provoke(ctx, c):
        # MQTT-3.1.2-29: only PUBLISH, CONNACK and DISCONNECT may carry them
        if diagnostics(p) and not isinstance(p, Publish | Connack | Disconnect):
            fail("no Reason String nor User Property (Request Problem Information 0)",
                 repr(p))
