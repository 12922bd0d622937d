"""Helpers of the subscription cases (subscribe, unsubscribe, topics, shared, subopts, ping,
disconnect): routing probes with several clients and wait-free proofs that nothing came.

Strategy: a probe publishes each message at QoS >= 1 and waits for its acknowledgement, so
the broker has routed it; each subscriber then sends a PINGREQ (`settle`): what it has not
received before the PINGRESP was not queued for it.  Messages that must arrive and are late
are waited for, bounded by the target's timeout, so a slow conformant broker still passes
and a silent one costs one timeout.  Every PUBLISH a subscriber receives is acknowledged as
its QoS asks, so no flow is left open.  This module declares no case.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Collection, Sequence

from conformance.case import CaseContext, SetupFailed, fail
from conformance.cases.publish_common import end_session as end_session  # re-exported
from conformance.cases.publish_common import payloads as payloads
from conformance.client import ClientError, TestClient, Unexpected, WaitTimeout
from conformance.wirelog import EventKind
from mqttspec import (
    NO_PROPERTIES,
    Disconnect,
    Packet,
    Properties,
    Publish,
    Suback,
    Subscribe,
    Subscription,
    Unsuback,
    Unsubscribe,
)


def settle(c: TestClient) -> list[Publish]:
    """Every PUBLISH that reached `c` before a barrier, acknowledged; any other packet is
    Unexpected."""
    got: list[Publish] = []
    pending: list[Packet] = list(c.no_publish())
    while pending:
        p = pending.pop(0)
        if not isinstance(p, Publish):
            raise Unexpected("PUBLISH or PINGRESP", p)
        c.ack(p)
        got.append(p)
        if not pending and c.held:
            pending, c.held = list(c.held), []
    return got


def wait_for(c: TestClient, got: list[Publish], done: Callable[[list[Publish]], bool]) -> bool:
    """Read more PUBLISHes into `got` until `done(got)` or the bounded wait ends; True if
    it had to wait at all."""
    waited = False
    while not done(got):
        waited = True
        try:
            got.append(c.expect_publish())
        except WaitTimeout:
            break
    return waited


def has_all(must: Collection[bytes]) -> Callable[[list[Publish]], bool]:
    """A `wait_for` condition: every payload of `must` is among those received."""
    return lambda got: set(must) <= set(payloads(got))


def route(pub: TestClient, sends: Sequence[tuple[str, bytes]],
          subs: Sequence[tuple[TestClient, Collection[bytes]]], qos: int = 1
          ) -> list[list[Publish]]:
    """Publish each (topic, payload) at `qos` (acknowledged, so routed), then gather what each
    subscriber got; the payloads a subscriber must get are waited for (bounded) when late,
    then a last barrier catches what followed them."""
    for topic, payload in sends:
        pub.publish(topic, payload, qos=qos)
    out = []
    for s, must in subs:
        got = settle(s)
        if wait_for(s, got, has_all(must)):
            got.extend(settle(s))
        out.append(got)
    return out


def check_routing(got: list[Publish], expected: dict[bytes, str], unexpected: dict[bytes, str],
                  who: str = "the subscriber") -> None:
    """`expected` / `unexpected`: payload -> a description of why it must / must not come."""
    seen = payloads(got)
    missing = [why for pl, why in expected.items() if pl not in seen]
    extra = [why for pl, why in unexpected.items() if pl in seen]
    if missing or extra:
        fail(f"{who} gets exactly the messages its subscriptions match",
             "; ".join([*(f"missing: {m}" for m in missing), *(f"received: {e}" for e in extra)]))


def subscribe_raw(c: TestClient, *subs: Subscription, properties: Properties = NO_PROPERTIES,
                  packet_id: int | None = None) -> Suback:
    """SUBSCRIBE and wait for its SUBACK, keeping PUBLISHes that come first for later (the
    high-level `subscribe` takes only a SUBACK)."""
    pid = c.packet_id() if packet_id is None else packet_id
    c.send(Subscribe(packet_id=pid, subscriptions=subs, properties=properties,
                     protocol_level=c.level))
    while True:
        p = c.recv()
        if isinstance(p, Publish):
            c.held.append(p)
        elif isinstance(p, Suback) and p.packet_id == pid:
            return p
        else:
            raise Unexpected(f"SUBACK for packet {pid}", p)


def unsubscribe_raw(c: TestClient, *filters: str, packet_id: int | None = None) -> Unsuback:
    """UNSUBSCRIBE and wait for its UNSUBACK, keeping PUBLISHes that come first."""
    pid = c.packet_id() if packet_id is None else packet_id
    c.send(Unsubscribe(packet_id=pid, topic_filters=filters, protocol_level=c.level))
    while True:
        p = c.recv()
        if isinstance(p, Publish):
            c.held.append(p)
        elif isinstance(p, Unsuback) and p.packet_id == pid:
            return p
        else:
            raise Unexpected(f"UNSUBACK for packet {pid}", p)


def granted(ctx: CaseContext, suback: Suback, requested: Sequence[int], what: str) -> list[int]:
    """The SUBACK codes, one per filter (MQTT-3.8.4-5 / MQTT-3.8.4-6); fails otherwise."""
    codes = list(suback.reason_codes)
    if len(codes) != len(requested):
        fail(f"one SUBACK code per Topic Filter of {what} ({len(requested)})",
             f"{len(codes)} codes: {codes}")
    failed = [c for c in codes if c >= 0x80]
    if failed:
        ctx.note(f"SUBACK refused {len(failed)} of the filters of {what}: {codes}")
    return codes


def require_granted(suback: Suback, what: str) -> None:
    """The case needs every subscription of `suback`: a refusal means it cannot run."""
    if any(code >= 0x80 for code in suback.reason_codes):
        raise SetupFailed(f"the broker refused {what}: SUBACK {list(suback.reason_codes)}")


def expect_refusal(ctx: CaseContext, c: TestClient, what: str) -> None:
    """`c` asked for a subscription the broker declared it does not offer: the SUBACK must
    refuse it (a code >= 0x80), or the broker closes the connection (MQTT 3.1 has no failure
    code; MQTT 5 may DISCONNECT with the matching Reason Code)."""
    try:
        answer = c.recv()
    except ClientError as exc:
        ctx.note(f"the connection ended after {what}: {exc}")
        return
    if isinstance(answer, Suback) and answer.reason_codes and all(
            code >= 0x80 for code in answer.reason_codes):
        ctx.note(f"refused {what}: SUBACK {[f'{x:#04x}' for x in answer.reason_codes]}")
        return
    if isinstance(answer, Disconnect) and answer.reason_code >= 0x80:
        ctx.note(f"DISCONNECT {answer.reason_code:#04x} after {what}")
        return
    fail(f"{what} refused (SUBACK with a failure code, or the connection closed)",
         f"{answer!r}")


def half_close(c: TestClient) -> None:
    """shutdown(SHUT_WR): the broker sees EOF after all we sent, and we can still read until
    it closes its side (proof that it processed everything)."""
    c.log.add(c.name, EventKind.CLOSED_BY_US, "shutdown(SHUT_WR), reading on")
    with contextlib.suppress(OSError):
        c.sock.shutdown(socket.SHUT_WR)


def drain_close(c: TestClient) -> list[Packet]:
    """Read to the broker's EOF; [] if it stays open past the bounded wait."""
    try:
        return c.expect_close()
    except ClientError:
        return []


