"""Maximum Packet Size in both directions (MQTT 5 sections 3.1.2.11.4 and 3.2.2.3.6), and the
diagnostics (Reason String, User Property) a server must leave out rather than exceed it.

Strategy: a client that declared a Maximum Packet Size reads with a decoder bounded by it, so
a larger packet from the server is caught as it arrives (MQTT-3.1.2-24).  A message too large
for one subscriber is dropped for that subscriber only, and the server carries on as if it
had been delivered (MQTT-3.1.2-25): the small subscriber also has a Receive Maximum of 1, so
a server that kept the dropped message in flight would never send the next one, while a
second subscriber without a limit gets both.  For the diagnostics the limit is the size of
the server's own bare CONNACK (measured on a probe connection, at least 32 bytes): room for
every acknowledgement, none for a Reason String of any length.  The flows that commonly carry
diagnostics are then provoked: acknowledgements with a non-success code (PUBACK 0x10 for no
subscribers, PUBCOMP 0x92 for an unknown PUBREL, UNSUBACK 0x11), the whole QoS 2 flow in both
directions, and a DISCONNECT for a Protocol Error.  Packets larger than the server declared
it accepts are a Protocol Error (DISCONNECT 0x95 in the spec's text); only a server that
declared a Maximum Packet Size can be tested.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from conformance.case import CaseContext, Verdict, case, fail, non_strict, not_applicable
from conformance.cases.properties_common import (
    answer_or_close,
    bare_connack_size,
    connect_limited,
    expecting,
    nothing_more,
    publish,
    publishes,
    raw_publish,
    receive,
    subscribe,
)
from conformance.client import (
    BrokerClosed,
    BrokerViolation,
    ClientError,
    TestClient,
    WaitTimeout,
)
from mqttspec import Properties, Pubrel, RawProperties, Unsubscribe

PACKET_TOO_LARGE = 0x95
PRACTICAL_LIMIT = 1 << 20  # a server maximum the case can exceed in reasonable time


def _checked(what: str) -> AbstractContextManager[None]:
    return expecting(f"{what}, within the client's Maximum Packet Size (MQTT-3.1.2-24)")


def _diag_client(ctx: CaseContext) -> tuple[TestClient, int]:
    limit = max(32, bare_connack_size(ctx))
    ctx.note(f"the client declares Maximum Packet Size {limit}")
    return connect_limited(ctx, "small", limit), limit


@case("packetsize.oversized-message-dropped-for-that-client-only",
      "A message larger than a client's Maximum Packet Size is not sent to it, and the server "
      "goes on as if it had been delivered; other subscribers get it",
      v5=("MQTT-3.1.2-24", "MQTT-3.1.2-25"), levels=(5,))
def oversized_dropped(ctx: CaseContext) -> None:
    topic, limit = ctx.topic("big"), 128
    big = (limit + 32, limit + 96)  # payload sizes: over the client's limit, with the header
    server_limit = ctx.target.capabilities.maximum_packet_size
    if server_limit is not None and server_limit < big[1] + 64:
        not_applicable(f"the server's Maximum Packet Size {server_limit} leaves no room for a "
                       f"message larger than the client's {limit}")
    small = connect_limited(ctx, "small", limit, properties=Properties(receive_maximum=1))
    subscribe(small, topic, qos=1)
    large = ctx.connected("large")
    subscribe(large, topic, qos=1)
    pub = ctx.connected("pub")
    for qos, size in ((1, big[0]), (0, big[1]), (1, 10)):
        publish(pub, topic, b"x" * size, qos=qos)
    try:
        got = small.expect_publish(ack=False)
        more = publishes(small.no_publish())
    except BrokerViolation as exc:  # MQTT-3.1.2-24: the large ones never come
        fail(f"nothing larger than {limit} bytes for the small subscriber (MQTT-3.1.2-24)",
             str(exc))
    except ClientError as exc:  # MQTT-3.1.2-25: dropped, as if delivered: quota free
        fail("the 10-byte message: the larger ones, dropped for this subscriber, count as "
             "delivered and leave its Receive Maximum of 1 free (MQTT-3.1.2-25)", str(exc))
    if len(got.payload) != 10 or more:
        fail("the 10-byte message, and nothing more", f"{got!r}, then {more!r}")
    small.ack(got)
    sizes = [len(receive(large, "every message, for the subscriber without a limit").payload)
             for _ in range(3)]
    if sorted(sizes) != [10, *big]:
        fail("the subscriber without a limit receives all three messages", f"sizes {sizes}")


@case("packetsize.connack-diagnostics-within-client-maximum",
      "The CONNACK leaves out its Reason String and User Properties rather than exceed the "
      "client's Maximum Packet Size",
      v5=("MQTT-3.2.2-19", "MQTT-3.2.2-20", "MQTT-3.1.2-24"), levels=(5,))
def connack_diagnostics(ctx: CaseContext) -> None:
    c, limit = _diag_client(ctx)  # connect_limited checks the CONNACK
    assert c.connack is not None
    ctx.note(f"CONNACK within {limit} bytes: {c.connack!r}")


@case("packetsize.publish-acks-diagnostics-within-client-maximum",
      "PUBACK, PUBREC, PUBREL and PUBCOMP leave out Reason String and User Properties rather "
      "than exceed the client's Maximum Packet Size",
      v5=("MQTT-3.4.2-2", "MQTT-3.4.2-3", "MQTT-3.5.2-2", "MQTT-3.5.2-3", "MQTT-3.6.2-2",
          "MQTT-3.6.2-3", "MQTT-3.7.2-2", "MQTT-3.7.2-3", "MQTT-3.1.2-24"), levels=(5,))
def publish_acks(ctx: CaseContext) -> None:
    c, _ = _diag_client(ctx)
    topic, nobody = ctx.topic("m"), ctx.topic("nobody")
    with _checked("the acknowledgements of every QoS 1 and QoS 2 flow"):
        c.publish(nobody, b"no subscribers", qos=1)  # PUBACK, maybe 0x10
        c.publish(nobody, b"no subscribers", qos=2)  # PUBREC, maybe 0x10; PUBCOMP
        c.send(Pubrel(packet_id=c.packet_id(), protocol_level=5))  # PUBCOMP 0x92, maybe
        c.barrier()
        c.subscribe(topic, qos=2)
        c.publish(topic, b"", qos=2)  # and back to us (it fits): PUBREL from the server
        c.expect_publish()


@case("packetsize.subscribe-acks-diagnostics-within-client-maximum",
      "SUBACK and UNSUBACK leave out Reason String and User Properties rather than exceed the "
      "client's Maximum Packet Size",
      v5=("MQTT-3.9.2-1", "MQTT-3.9.2-2", "MQTT-3.11.2-1", "MQTT-3.11.2-2", "MQTT-3.1.2-24"),
      levels=(5,))
def subscribe_acks(ctx: CaseContext) -> None:
    c, _ = _diag_client(ctx)
    with _checked("SUBACK and UNSUBACK, successful or not"):
        c.subscribe(ctx.topic("a"), qos=1)
        c.unsubscribe(ctx.topic("a"))
        c.unsubscribe(ctx.topic("never subscribed"))  # UNSUBACK 0x11, maybe
        c.send(Unsubscribe(packet_id=c.packet_id(), topic_filters=(ctx.topic("x"),) * 3,
                           protocol_level=5))
        c.barrier()


@case("packetsize.disconnect-diagnostics-within-client-maximum",
      "A DISCONNECT for a Protocol Error leaves out Reason String and User Properties rather "
      "than exceed the client's Maximum Packet Size",
      v5=("MQTT-3.14.2-3", "MQTT-3.14.2-4", "MQTT-3.1.2-24"), levels=(5,))
def disconnect_diagnostics(ctx: CaseContext) -> None:
    c, _ = _diag_client(ctx)
    c.send(raw_publish(ctx.topic("x"), RawProperties().add(0x23, 0), qos=1),
           note="PUBLISH with Topic Alias 0: a Protocol Error")
    try:
        got = c.expect_close()
    except BrokerViolation as exc:  # MQTT-3.14.2-3 / -4
        fail("a DISCONNECT within the client's Maximum Packet Size (MQTT-3.14.2-3, -4)",
             str(exc))
    except BrokerClosed:
        got = []
    except WaitTimeout:  # not what this case judges (see the alias cases)
        ctx.note("the connection was not closed: no DISCONNECT to judge")
        return
    ctx.note(f"received before the close: {got!r}")


@case("packetsize.client-packet-above-server-maximum",
      "A packet larger than the Maximum Packet Size the server declared is a Protocol Error: "
      "the connection is closed",
      v5=("MQTT-3.2.2-15", "MQTT-4.13.1-1"), levels=(5,), needs=("maximum_packet_size",))
def above_server_maximum(ctx: CaseContext) -> None:
    limit = ctx.target.capabilities.maximum_packet_size or 0
    if limit > PRACTICAL_LIMIT:
        not_applicable(f"the server's Maximum Packet Size {limit} is above {PRACTICAL_LIMIT}")
    topic = ctx.topic("big")
    sub = ctx.connected("sub")
    subscribe(sub, topic)
    c = ctx.connected("pub")
    fits = _publish_of_size(topic, 1, limit)
    c.send(fits, note=f"PUBLISH of {len(fits)} bytes: the server's maximum {limit}")
    with expecting(f"a packet of {len(fits)} bytes is accepted (maximum {limit})"):
        c.barrier()
    too_big = _publish_of_size(topic, 2, limit + 1)
    try:
        c.send(too_big, note=f"PUBLISH of {len(too_big)} bytes: over the server's maximum")
    except BrokerClosed:
        ctx.note("the broker closed the connection while the packet was being sent")
        return
    reply, code = answer_or_close(ctx, c, f"a packet of {len(too_big)} bytes (maximum {limit})")
    if reply is not None:  # MQTT-4.13.1-1: a Protocol Error closes the connection
        fail(f"the connection closed after a packet of {len(too_big)} bytes, above the "
             f"maximum {limit}", f"{reply!r}, the connection left open; "
             + _larger(ctx, c, topic, limit))
    if code is not None and code != PACKET_TOO_LARGE:
        non_strict("DISCONNECT 0x95 (Packet too large)", f"DISCONNECT {code:#04x}")
    got = [p for p in publishes(nothing_more(sub, "PINGRESP")) if len(p.payload) >= limit]
    if got:
        fail("the oversized message is not delivered", f"{got!r}")


def _larger(ctx: CaseContext, c: TestClient, topic: str, limit: int) -> str:
    """For the report: whether a packet clearly above the limit is refused."""
    size = limit + 64
    c.send(_publish_of_size(topic, 3, size), note=f"PUBLISH of {size} bytes")
    try:
        reply, code = answer_or_close(ctx, c, f"a packet of {size} bytes")
    except Verdict:
        return f"a packet of {size} bytes then got an unexpected answer"
    if reply is None:
        return f"a packet of {size} bytes was then refused (DISCONNECT {code})"
    return f"a packet of {size} bytes was accepted too"


def _publish_of_size(topic: str, packet_id: int, size: int) -> bytes:
    """A QoS 1 PUBLISH of exactly `size` bytes (raw: the encoder would not mind, but the
    size is the point)."""
    payload = size - len(raw_publish(topic, RawProperties(), qos=1))
    while len(data := raw_publish(topic, RawProperties(), qos=1, packet_id=packet_id,
                                  payload=b"x" * payload)) > size:
        payload -= 1
    return data
