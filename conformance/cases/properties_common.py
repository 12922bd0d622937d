"""Helpers shared by the MQTT 5 property and limit cases (properties, expiry, alias, flow,
packetsize, reqresp).

Strategy: the cases read as the spec's flows; the plumbing is here.  `expecting(what)` turns
a broker that stays silent, closes, answers with the wrong packet or with malformed bytes into
FAIL with `what` as the expected behaviour.  Packets that break a rule on purpose (a Topic
Alias of 0, a Subscription Identifier from a client, ...) are written with the raw builder,
never with the strict encoder (`raw_publish`).  A client whose declared Maximum Packet Size
must be honoured reads with a decoder bounded by it (`limited_client`), so an oversized packet
is caught the moment it arrives (MQTT-3.1.2-24).  Waiting for time to pass (Message Expiry)
is a bounded read that doubles as a check that nothing came (`wait_quietly`), never a sleep.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from conformance.case import CaseContext, SetupFailed, fail
from conformance.cases.publish_common import publish as publish  # re-exported for the cases
from conformance.cases.publish_common import receive as receive
from conformance.client import (
    BrokerClosed,
    BrokerViolation,
    ClientError,
    TestClient,
    WaitTimeout,
)
from conformance.reactions import expecting as expecting
from conformance.reactions import judge_close
from mqttspec import (
    NO_PROPERTIES,
    Connack,
    Disconnect,
    Packet,
    Properties,
    Publish,
    RawPacket,
    RawProperties,
    encode,
)

SESSION_EXPIRY = 300  # seconds a persistent session of a case may outlive it


def subscribe(c: TestClient, *filters: Any, qos: int = 0,
              properties: Properties = NO_PROPERTIES) -> None:
    """SUBSCRIBE; a refusal is a harness ERROR: the case needs the subscription."""
    try:
        suback = c.subscribe(*filters, qos=qos, properties=properties)
    except ClientError as exc:
        raise SetupFailed(f"{c.name} could not subscribe: {exc}") from None
    if any(code >= 0x80 for code in suback.reason_codes):
        raise SetupFailed(f"{c.name}: subscription refused, SUBACK {suback.reason_codes}")


def nothing_more(c: TestClient, what: str) -> list[Packet]:
    """Barrier: every packet that came before the PINGRESP (held PUBLISHes included)."""
    with expecting(what):
        return c.no_publish()


def answer_or_close(ctx: CaseContext, c: TestClient, what: str
                    ) -> tuple[Packet | None, int | None]:
    """`c` just sent `what`, which the broker may refuse by closing the connection (judged by
    `judge_close`: under MQTT 5 at most a DISCONNECT >= 0x80 first) or may answer.  Returns
    (the answer, None), or (None, the DISCONNECT's Reason Code or None) once closed."""
    try:
        reply = c.recv()
    except BrokerClosed:
        return None, judge_close(ctx, [], what, before_connack=False, codes=None)
    except ClientError as exc:
        fail(f"the broker closes the connection or answers {what}", str(exc))
    if not isinstance(reply, Disconnect):
        return reply, None
    with expecting(f"the broker closes the connection after its DISCONNECT for {what}"):
        rest = c.expect_close()
    return None, judge_close(ctx, [reply, *rest], what, before_connack=False, codes=None)


def publishes(packets: list[Packet]) -> list[Publish]:
    return [p for p in packets if isinstance(p, Publish)]


def wait_quietly(c: TestClient, seconds: float, what: str) -> list[Packet]:
    """Read from `c` for `seconds` (a bounded wait, not a sleep): what came meanwhile."""
    c.log.note(f"waiting {seconds:.1f} s: {what}")
    deadline = time.monotonic() + seconds
    got: list[Packet] = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            got.append(c.recv(timeout=left))
        except WaitTimeout:
            break
        except ClientError as exc:
            fail(f"the connection stays open while {what}", str(exc))
    return got


def raw_publish(topic: str, props: RawProperties, *, qos: int = 0, packet_id: int = 1,
                payload: bytes = b"") -> bytes:
    """A PUBLISH written field by field (for properties that break a rule on purpose)."""
    packet = RawPacket(3, qos << 1).string(topic)
    if qos:
        packet.u16(packet_id)
    return packet.properties(props).raw(payload).build()


def connect_limited(ctx: CaseContext, name: str, limit: int, client_id: str | None = None,
                    **fields: Any) -> TestClient:
    """An accepted MQTT 5 client that declared Maximum Packet Size `limit` and reads with a
    decoder bounded by it: a larger packet from the broker raises BrokerViolation
    (MQTT-3.1.2-24) from the first byte on, CONNACK included."""
    c = ctx.client(name)
    c.decoder.max_packet_size = limit
    props: Properties = fields.pop("properties", NO_PROPERTIES)
    try:
        c.connack = c.connect(client_id or ctx.client_id(name),
                              properties=replace(props, maximum_packet_size=limit), **fields)
    except BrokerViolation as exc:
        fail(f"a CONNACK within the client's Maximum Packet Size of {limit} bytes "
             "(MQTT-3.1.2-24)", str(exc))
    except ClientError as exc:
        raise SetupFailed(f"{name} could not connect: {exc}") from None
    if c.connack.reason_code != 0:
        raise SetupFailed(f"{name} was refused: CONNACK {c.connack.reason_code:#04x}")
    return c


def bare_connack_size(ctx: CaseContext) -> int:
    """The size of the broker's CONNACK to a plain MQTT 5 CONNECT, without the Reason String
    and User Properties it may leave out (a probe connection, closed at once)."""
    probe = ctx.connected("probe")
    connack = probe.connack
    assert isinstance(connack, Connack)
    probe.disconnect()
    bare = replace(connack, properties=replace(connack.properties, reason_string=None,
                                               user_properties=()))
    return len(encode(bare, verify=False))


def diagnostics(p: Packet) -> str:
    """The Reason String / User Properties a packet carries, as text ('' for none)."""
    props: Properties = getattr(p, "properties", NO_PROPERTIES)
    parts = []
    if props.reason_string is not None:
        parts.append(f"Reason String {props.reason_string!r}")
    if props.user_properties:
        parts.append(f"User Properties {list(props.user_properties)}")
    return ", ".join(parts)


def properties_of(p: Publish) -> dict[str, Any]:
    """The properties of a PUBLISH a server forwards unaltered (MQTT 5 section 3.3.2.3)."""
    props = p.properties
    return {"payload_format_indicator": props.payload_format_indicator,
            "content_type": props.content_type, "response_topic": props.response_topic,
            "correlation_data": props.correlation_data,
            "user_properties": props.user_properties}
