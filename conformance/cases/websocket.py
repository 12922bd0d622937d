"""MQTT over WebSocket (MQTT 3.1.1 and 5.0 chapter 6): subprotocol and frame types.

Strategy: the WebSocket cases run only when the target names its WebSocket listener
(`websocket_port`); otherwise they are NOT APPLICABLE.  Clients reach it through the suite's
own RFC 6455 transport (conformance/websocket.py), which checks every frame the server
sends: a data frame that is not binary is caught in the act (MQTT-6.0.0-1, the sending half,
enforced for every case here).  The handshake cases offer "mqtt" alone, then after another
name, and read the subprotocol the 101 response selects (MQTT-6.0.0-4).  The end-to-end
cases run CONNECT, SUBSCRIBE and PUBLISH at QoS 0, 1 and 2 between WebSocket clients, and
between a WebSocket and a TCP client, so the WebSocket connection is proven to be the same
MQTT.  The receiving half of MQTT-6.0.0-1 sends a text frame (or a data frame with a reserved
opcode) holding a valid MQTT packet, before and after CONNECT: the broker must close the
network connection; a WebSocket Close frame, a DISCONNECT or a packet answered first are
recorded, not judged (the statement asks only for the close).  MQTT 3.1 has no WebSocket
chapter, so the cases run under 3.1.1 and 5.0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conformance.case import CaseContext, SetupFailed, case, fail, info, not_applicable
from conformance.client import (
    BrokerClosed,
    BrokerViolation,
    ClientError,
    TestClient,
    WaitTimeout,
)
from conformance.websocket import CLOSE, OPCODE_NAMES, TEXT, HandshakeError, WebSocket
from conformance.wirelog import EventKind
from mqttspec import Connect, Pingreq, encode

LEVELS = (4, 5)  # MQTT 3.1 defines no WebSocket transport


# -- helpers shared with websocket_framing.py ---------------------------------------------------

def need_websocket(ctx: CaseContext) -> None:
    if ctx.target.websocket_port is None:
        not_applicable("the target has no MQTT over WebSocket listener (give its port: "
                       "--broker-websocket-port, mqttlab run --websocket-port, or the "
                       "profile key websocket_port)")


def ws_client(ctx: CaseContext, name: str | None = None) -> TestClient:
    """A WebSocket connection offering "mqtt", no CONNECT yet."""
    need_websocket(ctx)
    try:
        return ctx.client(name, transport="websocket")
    except OSError as exc:
        raise SetupFailed(f"the WebSocket connection failed: {exc}") from None


def ws_connected(ctx: CaseContext, name: str | None = None, **fields: Any) -> TestClient:
    """A WebSocket client that has CONNECTed and been accepted.  A CONNACK in a frame that
    is not binary is a FAIL of MQTT-6.0.0-1, any other refusal a harness ERROR."""
    c = ws_client(ctx, name)
    try:
        c.connack = c.connect(ctx.client_id(c.name), **fields)
    except BrokerViolation as exc:
        if "MQTT-6.0.0-1" in exc.violation.statements:
            fail("the broker's MQTT packets in binary frames", str(exc))
        raise SetupFailed(f"{c.name} could not connect: {exc}") from None
    except ClientError as exc:
        raise SetupFailed(f"{c.name} could not connect: {exc}") from None
    if c.connack.reason_code != 0:
        raise SetupFailed(f"{c.name} was refused: CONNACK {c.connack.reason_code:#04x}")
    return c


def ws_of(c: TestClient) -> WebSocket:
    assert isinstance(c.sock, WebSocket), "not a WebSocket client"
    return c.sock


def send_frames(ctx: CaseContext, c: TestClient, frames: Sequence[tuple[int, bytes, bool]],
                what: str) -> None:
    """Write each (opcode, payload, FIN) as one masked frame, logged with its payload."""
    ws = ws_of(c)
    for number, (opcode, payload, fin) in enumerate(frames, 1):
        name = OPCODE_NAMES.get(opcode, f"opcode 0x{opcode:X}")
        ctx.log.add(c.name, EventKind.SENT, f"WebSocket {name} frame {number}/{len(frames)}"
                    f"{'' if fin else ' (FIN=0)'}: {what}", payload)
        try:
            ws.send_frame(opcode, payload, fin=fin)
        except OSError as exc:
            c.closed = True
            raise BrokerClosed(f"connection closed by the broker ({exc})") from None


def connect_bytes(ctx: CaseContext, client_id: str) -> bytes:
    """A plain CONNECT (the target's credentials), encoded for a frame of our own."""
    t = ctx.target
    return encode(Connect(client_id=client_id, protocol_level=ctx.level, username=t.username,
                          password=t.password.encode() if t.password else None))


def frames_seen(c: TestClient) -> str:
    kinds: dict[str, int] = {}
    for f in ws_of(c).received:
        name = OPCODE_NAMES.get(f.opcode, hex(f.opcode))
        kinds[name] = kinds.get(name, 0) + 1
    return ", ".join(f"{n} {k}" for k, n in kinds.items()) or "none"


# -- MQTT-6.0.0-4: the subprotocol -------------------------------------------------------------

class OfferingClient(TestClient):
    """A WebSocket TestClient offering the given subprotocols."""

    def __init__(self, ctx: CaseContext, name: str, protocols: tuple[str, ...]) -> None:
        self.websocket_protocols = protocols
        super().__init__(ctx.target, ctx.log, name, ctx.level,
                         on_retain=ctx.retained_topics.add, transport="websocket")
        self.case_deadline = ctx.deadline
        ctx.clients.append(self)


def selected_subprotocol(ctx: CaseContext, protocols: tuple[str, ...]) -> TestClient:
    """Handshake offering `protocols`; the 101 must select "mqtt" (MQTT-6.0.0-4)."""
    need_websocket(ctx)
    offered = ", ".join(protocols)
    try:
        c = OfferingClient(ctx, "c1", protocols)
    except HandshakeError as exc:
        if "MQTT-6.0.0-4" in exc.statements:  # a 101 selecting a name we did not offer
            fail(f"the 101 response selects subprotocol 'mqtt' (offered: {offered})", str(exc))
        if exc.response is not None and exc.response.status != 101 and len(protocols) > 1:
            info(f"the server refused a handshake offering {offered}: {exc}")
        raise SetupFailed(f"the WebSocket handshake failed: {exc}") from None
    except OSError as exc:
        raise SetupFailed(f"the WebSocket connection failed: {exc}") from None
    selected = ws_of(c).subprotocol
    if selected != "mqtt":  # MQTT-6.0.0-4
        fail(f"Sec-WebSocket-Protocol: mqtt in the 101 response (offered: {offered})",
             "no Sec-WebSocket-Protocol header" if selected is None
             else f"Sec-WebSocket-Protocol: {selected}")
    ctx.note(f"offered {offered}; the server selected {selected!r}")
    connack = c.connect(ctx.client_id())  # and MQTT is served on it
    if connack.reason_code != 0:
        raise SetupFailed(f"CONNECT over WebSocket refused: {connack.reason_code:#04x}")
    return c


@case("websocket.subprotocol-mqtt",
      "The WebSocket handshake offering 'mqtt' gets a 101 selecting the subprotocol 'mqtt'",
      v3="MQTT-6.0.0-4", v5="MQTT-6.0.0-4", levels=LEVELS)
def subprotocol_mqtt(ctx: CaseContext) -> None:
    c = selected_subprotocol(ctx, ("mqtt",))
    c.barrier()
    c.disconnect()


@case("websocket.subprotocol-mqtt-among-others",
      "Offered another subprotocol before 'mqtt', the server still selects 'mqtt'",
      v3="MQTT-6.0.0-4", v5="MQTT-6.0.0-4", levels=LEVELS)
def subprotocol_among_others(ctx: CaseContext) -> None:
    c = selected_subprotocol(ctx, ("mqttlab-other", "mqtt"))
    c.barrier()
    c.disconnect()


# -- MQTT-6.0.0-1: binary frames, both ways ----------------------------------------------------

@case("websocket.binary-frames-publish-subscribe",
      "Over WebSocket, CONNECT, SUBSCRIBE and PUBLISH at QoS 0, 1 and 2 work end to end in "
      "binary frames",
      v3="MQTT-6.0.0-1", v5="MQTT-6.0.0-1", levels=LEVELS)
def binary_pubsub(ctx: CaseContext) -> None:
    topic = ctx.topic("ws")
    sub = ws_connected(ctx, "sub")
    sub.subscribe(topic, qos=2)
    pub = ws_connected(ctx, "pub")
    sent = {f"qos{q}".encode(): q for q in (0, 1, 2)}
    for payload, qos in sent.items():
        pub.publish(topic, payload, qos=qos)
    got: dict[bytes, int] = {}
    for _ in sent:
        try:
            message = sub.expect_publish()
        except ClientError as exc:
            fail("the three PUBLISHes reach the WebSocket subscriber", f"after {sorted(got)}: "
                 f"{exc}")
        got[message.payload] = message.qos
    if got != sent:
        fail(f"payloads and QoS {sent}", f"{got}")
    sub.barrier()
    # MQTT-6.0.0-1 (the server's side): the transport refuses any data frame not binary
    ctx.note(f"server frames to the subscriber: {frames_seen(sub)}; "
             f"to the publisher: {frames_seen(pub)}")
    pub.disconnect()
    sub.disconnect()


@case("websocket.interworks-with-tcp",
      "Messages flow from a WebSocket client to a TCP client and back",
      v3="MQTT-6.0.0-1", v5="MQTT-6.0.0-1", levels=LEVELS)
def interworks_with_tcp(ctx: CaseContext) -> None:
    topic = ctx.topic("mixed")
    ws_sub, tcp_sub = ws_connected(ctx, "ws-sub"), ctx.connected("tcp-sub")
    for c in (ws_sub, tcp_sub):
        c.subscribe(topic, qos=1)
    ws_connected(ctx, "ws-pub").publish(topic, b"from-websocket", qos=1)
    ctx.connected("tcp-pub").publish(topic, b"from-tcp", qos=1)
    for c in (ws_sub, tcp_sub):
        got = set()
        for _ in range(2):
            try:
                got.add(c.expect_publish().payload)
            except ClientError as exc:
                fail(f"both messages reach {c.name}", f"after {sorted(got)}: {exc}")
        if got != {b"from-websocket", b"from-tcp"}:
            fail(f"{c.name} receives from-websocket and from-tcp", f"{sorted(got)}")
    ctx.note(f"server frames to ws-sub: {frames_seen(ws_sub)}")


def expect_network_close(ctx: CaseContext, c: TestClient, what: str) -> None:
    """MQTT-6.0.0-1: after a data frame that is not binary the broker closes the connection;
    how (WebSocket Close, DISCONNECT, an answer first) is recorded."""
    try:
        got = c.expect_close()
    except WaitTimeout:
        fail(f"the broker closes the network connection after {what}",
             "the connection stayed open")
    ws = ws_of(c)
    how = (f"WebSocket Close frame (status {ws.close_code})"
           if any(f.opcode == CLOSE for f in ws.received) else "TCP close, no Close frame")
    ctx.note(f"closed after {what}: {how}" + (f"; packets first: {got}" if got else ""))


@case("websocket.text-frame-closes",
      "A text frame (holding a PINGREQ) on a connected WebSocket makes the broker close",
      v3="MQTT-6.0.0-1", v5="MQTT-6.0.0-1", levels=LEVELS)
def text_frame_closes(ctx: CaseContext) -> None:
    c = ws_connected(ctx)
    c.barrier()
    send_frames(ctx, c, [(TEXT, encode(Pingreq(protocol_level=ctx.level)), True)],
                "PINGREQ in a text frame")
    expect_network_close(ctx, c, "a text frame")


@case("websocket.text-frame-connect-closes",
      "A CONNECT in a text frame makes the broker close the connection",
      v3="MQTT-6.0.0-1", v5="MQTT-6.0.0-1", levels=LEVELS)
def text_frame_connect(ctx: CaseContext) -> None:
    c = ws_client(ctx)
    send_frames(ctx, c, [(TEXT, connect_bytes(ctx, ctx.client_id()), True)],
                "CONNECT in a text frame")
    expect_network_close(ctx, c, "a CONNECT in a text frame")


@case("websocket.reserved-data-opcode-closes",
      "A data frame with a reserved opcode (0x3, not binary) makes the broker close",
      v3="MQTT-6.0.0-1", v5="MQTT-6.0.0-1", levels=LEVELS)
def reserved_opcode_closes(ctx: CaseContext) -> None:
    c = ws_connected(ctx)
    c.barrier()
    # RFC 6455 5.2: 0x3-0x7 are reserved non-control (data) frames; not binary either
    send_frames(ctx, c, [(0x3, encode(Pingreq(protocol_level=ctx.level)), True)],
                "PINGREQ in a data frame of opcode 0x3")
    expect_network_close(ctx, c, "a data frame of reserved opcode 0x3")
