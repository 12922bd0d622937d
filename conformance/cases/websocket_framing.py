"""MQTT over WebSocket: packets are not aligned on frame boundaries (MQTT-6.0.0-2).

Strategy: the client writes its MQTT byte stream in frames cut anywhere: several packets in
one frame, one packet over several frames (down to a byte per frame), both at once (frames
of a fixed size cutting every packet), and one fragmented WebSocket message (binary FIN=0,
then continuation frames) cut inside packets.  Each stream ends with a PINGREQ, so the
PINGRESP proves the broker has read all of it; the answers (CONNACK, SUBACK, PUBACK) and the
PUBLISHes a second WebSocket client receives prove every packet was processed.
"""

from __future__ import annotations

from conformance.case import CaseContext, SetupFailed, case, fail
from conformance.cases.websocket import (
    LEVELS,
    connect_bytes,
    send_frames,
    ws_client,
    ws_connected,
)
from conformance.client import ClientError, TestClient
from conformance.websocket import BINARY, CONTINUATION
from mqttspec import (
    Connack,
    Packet,
    Pingreq,
    Pingresp,
    Puback,
    Publish,
    Suback,
    Subscribe,
    Subscription,
    encode,
)

STATEMENT = "MQTT-6.0.0-2"


def answers(c: TestClient, what: str) -> list[Packet]:
    """Every packet up to the PINGRESP that ends the stream `what` (MQTT-6.0.0-2: the broker
    must have read every packet, however the frames cut them)."""
    got: list[Packet] = []
    while True:
        try:
            packet = c.recv()
        except ClientError as exc:
            fail(f"every packet of {what} processed, up to the PINGRESP",
                 f"after {got}: {exc}")
        if isinstance(packet, Pingresp):
            return got
        got.append(packet)


def check_answers(got: list[Packet], what: str, *, connack: bool = True,
                  suback: int | None = None, puback: int | None = None) -> list[Publish]:
    """The CONNACK (first, 0x00), SUBACK and PUBACK expected for `what`; the PUBLISHes."""
    expected = ", ".join(n for n, on in (("CONNACK", connack), ("SUBACK", suback),
                                         ("PUBACK", puback)) if on)
    if connack:
        if not got or not isinstance(got[0], Connack):
            fail(f"{expected}, PINGRESP for {what}", f"{got}")
        if got[0].reason_code != 0:
            raise SetupFailed(f"CONNECT refused: CONNACK {got[0].reason_code:#04x}")
    ok = all(any(isinstance(p, cls) and getattr(p, "packet_id", None) == pid for p in got)
             for cls, pid in ((Suback, suback), (Puback, puback)) if pid is not None)
    if not ok:
        fail(f"{expected}, PINGRESP for {what}", f"{got}")
    return [p for p in got if isinstance(p, Publish)]


def receive(sub: TestClient, payloads: set[bytes]) -> None:
    got: set[bytes] = set()
    for _ in payloads:
        try:
            got.add(sub.expect_publish().payload)
        except ClientError as exc:
            fail(f"the subscriber receives {sorted(payloads)}", f"after {sorted(got)}: {exc}")
    if got != payloads:
        fail(f"the subscriber receives {sorted(payloads)}", f"{sorted(got)}")


def subscriber(ctx: CaseContext, topic: str) -> TestClient:
    sub = ws_connected(ctx, "sub")
    sub.subscribe(topic, qos=1)
    return sub


def publish_bytes(ctx: CaseContext, topic: str, payload: bytes, qos: int = 1,
                  packet_id: int | None = 1) -> bytes:
    return encode(Publish(topic=topic, payload=payload, qos=qos,
                          packet_id=packet_id if qos else None, protocol_level=ctx.level))


@case("websocket.several-packets-in-one-frame",
      "Several MQTT packets in one WebSocket frame are all processed",
      v3=STATEMENT, v5=STATEMENT, levels=LEVELS)
def several_in_one_frame(ctx: CaseContext) -> None:
    topic = ctx.topic("many")
    sub = ws_client(ctx, "sub")
    stream = (connect_bytes(ctx, ctx.client_id("sub"))
              + encode(Subscribe(packet_id=1, protocol_level=ctx.level, subscriptions=(
                  Subscription(topic_filter=topic, qos=1),)))
              + encode(Pingreq(protocol_level=ctx.level)))
    what = "CONNECT + SUBSCRIBE + PINGREQ in one frame"
    send_frames(ctx, sub, [(BINARY, stream, True)], what)
    check_answers(answers(sub, what), what, suback=1)
    pub = ws_client(ctx, "pub")
    stream = (connect_bytes(ctx, ctx.client_id("pub")) + publish_bytes(ctx, topic, b"one")
              + publish_bytes(ctx, topic, b"two", qos=0)
              + encode(Pingreq(protocol_level=ctx.level)))
    what = "CONNECT + PUBLISH QoS 1 + PUBLISH QoS 0 + PINGREQ in one frame"
    send_frames(ctx, pub, [(BINARY, stream, True)], what)
    check_answers(answers(pub, what), what, puback=1)
    receive(sub, {b"one", b"two"})


@case("websocket.packet-split-across-frames",
      "An MQTT packet split over several WebSocket frames (down to a byte each) is processed",
      v3=STATEMENT, v5=STATEMENT, levels=LEVELS)
def split_across_frames(ctx: CaseContext) -> None:
    topic = ctx.topic("split")
    sub = subscriber(ctx, topic)
    pub = ws_client(ctx, "pub")
    connect = connect_bytes(ctx, ctx.client_id("pub"))
    publish = publish_bytes(ctx, topic, b"split")
    pingreq = encode(Pingreq(protocol_level=ctx.level))
    frames = [connect[:1], connect[1:3], connect[3:]]  # cut after the type, in the length
    frames += [publish[i:i + 1] for i in range(len(publish))]  # a byte per frame
    frames += [pingreq[:1], pingreq[1:]]
    what = "CONNECT in 3 frames, PUBLISH a byte per frame, PINGREQ in 2 frames"
    send_frames(ctx, pub, [(BINARY, f, True) for f in frames], what)
    check_answers(answers(pub, what), what, puback=1)
    receive(sub, {b"split"})


@case("websocket.packets-across-frame-boundaries",
      "A stream cut into 5-byte frames, each frame ending inside a packet, is processed",
      v3=STATEMENT, v5=STATEMENT, levels=LEVELS)
def across_boundaries(ctx: CaseContext) -> None:
    topic = ctx.topic("cut")
    sub = subscriber(ctx, topic)
    pub = ws_client(ctx, "pub")
    stream = (connect_bytes(ctx, ctx.client_id("pub")) + publish_bytes(ctx, topic, b"a")
              + publish_bytes(ctx, topic, b"b", packet_id=2)
              + publish_bytes(ctx, topic, b"c", qos=0)
              + encode(Pingreq(protocol_level=ctx.level)))
    frames = [stream[i:i + 5] for i in range(0, len(stream), 5)]
    what = f"CONNECT, 3 PUBLISHes, PINGREQ in {len(frames)} frames of 5 bytes"
    send_frames(ctx, pub, [(BINARY, f, True) for f in frames], what)
    got = answers(pub, what)
    check_answers(got, what, puback=1)
    check_answers(got, what, puback=2)
    receive(sub, {b"a", b"b", b"c"})


@case("websocket.packets-in-fragmented-message",
      "A fragmented WebSocket message (binary + continuation frames) cut inside packets is "
      "processed",
      v3=STATEMENT, v5=STATEMENT, levels=LEVELS)
def fragmented_message(ctx: CaseContext) -> None:
    topic = ctx.topic("frag")
    sub = subscriber(ctx, topic)
    pub = ws_client(ctx, "pub")
    connect = connect_bytes(ctx, ctx.client_id("pub"))
    stream = connect + publish_bytes(ctx, topic, b"fragments") + encode(
        Pingreq(protocol_level=ctx.level))
    a, b = len(connect) // 2, len(connect) + 4  # inside the CONNECT, inside the PUBLISH
    frames = [(BINARY, stream[:a], False), (CONTINUATION, stream[a:b], False),
              (CONTINUATION, stream[b:], True)]
    what = "CONNECT + PUBLISH + PINGREQ as one message of 3 fragments"
    send_frames(ctx, pub, frames, what)
    check_answers(answers(pub, what), what, puback=1)
    receive(sub, {b"fragments"})
