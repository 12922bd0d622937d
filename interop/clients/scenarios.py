"""The client-interop scenarios: what a real client library does against a broker, checked.

Strategy: each scenario is declared once with a stable ID, a title and the protocol levels
it applies to, and is a function of a `Context` that returns the observed line (PASS) or
raises `Fail` / `NotApplicable`.  The client under test plays the roles that matter (it
publishes and subscribes itself in the pub/sub scenarios); the other side is the trusted
observer.  Where "nothing else happened" must be shown, the publisher sends a second message
after the first on the same topic and QoS: MQTT keeps them in order, so once the second has
arrived a duplicate or a straggler of the first would have shown up already.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from interop.clients.context import (
    LABELS,
    Context,
    Fail,
    NotApplicable,
    check_delivery,
    compare_properties,
    describe,
    only_on,
)
from interop.clients.model import MessageProps, NotSupported, Outgoing, Received, Will
from interop.clients.observer import from_properties

LARGE = 256 * 1024
SETTLE = 0.25  # seconds a broker is given to see a connection end


@dataclass(frozen=True, slots=True)
class Scenario:
    id: str
    title: str
    run: Callable[[Context], str]
    levels: tuple[int, ...] = (3, 4, 5)
    alone: bool = False  # leaves broker-wide state (retained messages): run it by itself


def arrived(count: int) -> Callable[[list[Received]], bool]:
    return lambda messages: len(messages) >= count


def including(payload: bytes) -> Callable[[list[Received]], bool]:
    return lambda messages: any(m.payload == payload for m in messages)


def connect(ctx: Context) -> str:
    """CONNECT with a Will, CONNACK accepted, DISCONNECT: the broker must discard the Will,
    which is how we see that the client really ended with DISCONNECT (MQTT-3.1.2-10)."""
    will_topic = ctx.topic("will")
    observer = ctx.observer()
    observer.subscribe(will_topic, 1)
    spec = ctx.spec("c", will=Will(will_topic, ctx.payload("connect-will"), 1))
    reported = ctx.adapter.connect_disconnect(spec, ctx.topic("connect"), ctx.log)
    # the client has finished; the PINGREQ barrier shows whether its Will went out
    if any(p.topic == will_topic for p in observer.nothing_more()):
        raise Fail("the Will was published after the client disconnected: the client sent "
                   "no DISCONNECT, or the broker did not discard the Will")
    return f"{reported}; the Will was discarded"


def pubsub(qos: int) -> Callable[[Context], str]:
    def run(ctx: Context) -> str:
        if qos > ctx.capabilities.maximum_qos:
            raise NotApplicable(f"the broker offers QoS {ctx.capabilities.maximum_qos} "
                                "at most")
        topic = ctx.topic("data")
        subscriber = ctx.subscribe(ctx.spec("s"), topic, qos)
        granted = subscriber.granted
        if granted is not None and granted >= 0x80:
            raise Fail(f"the broker refused the subscription (SUBACK {granted:#04x})")
        if granted is not None and granted < qos:
            raise NotApplicable(f"the broker granted QoS {granted} to a QoS {qos} "
                                "subscription")
        payloads = [ctx.payload(f"qos{qos} first"), ctx.payload(f"qos{qos} second")]
        ctx.adapter.publish(ctx.spec("p"), [Outgoing(topic, p, qos) for p in payloads],
                            ctx.log)
        got = subscriber.wait_for(including(payloads[-1]), ctx.timeout)
        subscriber.stop()
        observed = check_delivery(got, payloads, topic, qos, ctx.timeout)
        shown = "not reported" if granted is None else str(granted)
        return f"{observed}; granted QoS {shown}"

    return run


def retained(ctx: Context) -> str:
    if not ctx.capabilities.retain_available:
        raise NotApplicable("the broker does not offer retained messages")
    topic = ctx.topic("retained")
    payload = ctx.payload("retained")
    ctx.retained.append(topic)
    ctx.adapter.publish(ctx.spec("p"), [Outgoing(topic, payload, 1, retain=True)], ctx.log)
    observer = ctx.observer()
    observer.subscribe(topic, 1)
    packet = observer.next_publish(topic)  # MQTT-3.3.1-6 (3.1.1) / MQTT-3.3.1-9 (5.0)
    if packet is None:
        raise Fail("a later subscription (the observer's) received no retained message")
    if packet.payload != payload or not packet.retain:
        raise Fail(f"the observer received {describe(packet.payload)} with RETAIN "
                   f"{int(packet.retain)}, expected {describe(payload)} with RETAIN 1")
    subscriber = ctx.subscribe(ctx.spec("s"), topic, 1)
    subscriber.wait_for(including(payload), ctx.timeout)
    after = ctx.payload("published after")  # a live message: once it is in, so is any copy
    observer.publish(topic, after, qos=1)
    got = subscriber.wait_for(including(after), ctx.timeout)
    subscriber.stop()
    only_on(got, topic)
    copies = [m for m in got if m.payload == payload]
    if not copies:
        raise Fail("the client's own later subscription received no retained message")
    if len(copies) > 1:
        seen = ", ".join(f"QoS {m.qos} RETAIN {int(bool(m.retain))}" if m.qos is not None
                         else "?" for m in copies)
        raise Fail(f"the client's later subscription received the retained message "
                   f"{len(copies)} times ({seen})")
    if copies[0].retain is False:
        raise Fail("the client's later subscription received the message with RETAIN 0")
    live = [m for m in got if m.payload == after]
    if not live:
        raise Fail("the client's subscription did not receive a message published after the "
                   "retained one")
    if live[0].retain:
        raise Fail("a message published live reached the established subscription with "
                   "RETAIN 1")
    flag = "RETAIN 1" if copies[0].retain else "RETAIN not reported by the client"
    return (f"later subscriptions received it once, with RETAIN 1 (observer) and {flag} "
            "(client)")


def will(ctx: Context) -> str:
    topic = ctx.topic("will")
    observer = ctx.observer()
    observer.subscribe(topic, 1)
    payload = ctx.payload("will")
    holder = ctx.subscribe(ctx.spec("w", will=Will(topic, payload, 1)), ctx.topic("idle"), 0)
    holder.kill()
    packet = observer.next_publish(topic)  # MQTT-3.1.2-8
    if packet is None:
        raise Fail(f"no Will Message within {ctx.timeout:g} s after the client's connection "
                   "was cut without DISCONNECT")
    if packet.payload != payload:
        raise Fail(f"the Will arrived with payload {describe(packet.payload)}, expected "
                   f"{describe(payload)}")
    if packet.qos != 1:
        raise Fail(f"the QoS 1 Will reached a QoS 1 subscription at QoS {packet.qos}")
    return ("the Will was published at QoS 1 once the connection was cut (SIGKILL / socket "
            "shut down, no DISCONNECT)")


def session_resume(ctx: Context) -> str:
    if ctx.adapter.no_persistent_session:
        raise NotSupported(ctx.adapter.no_persistent_session)
    topic = ctx.topic("queued")
    spec = ctx.spec("r", clean=False, session_expiry=300 if ctx.level == 5 else None)
    ctx.sessions.append(spec.client_id)
    ctx.subscribe(spec, topic, 1).stop()
    # The broker reads that DISCONNECT on another connection than the observer's PUBLISH:
    # nothing orders the two, so it is given a moment to see the client gone.  (A broker
    # that routes the messages before seeing the DISCONNECT has them in flight to the old
    # connection and must re-send them on resumption: the check holds either way.)
    time.sleep(SETTLE)
    observer = ctx.observer()
    payloads = [ctx.payload("while away 1"), ctx.payload("while away 2")]
    for payload in payloads:
        observer.publish(topic, payload, qos=1)
    again = ctx.subscribe(spec, topic, 1)
    got = again.wait_for(including(payloads[-1]), ctx.timeout)  # MQTT-3.1.2-5 / -23 (5.0)
    again.stop()
    if not got:
        raise Fail(f"none of the {len(payloads)} QoS 1 messages published while the client "
                   "was away arrived after it resumed its session")
    return "resumed: " + check_delivery(got, payloads, topic, 1, ctx.timeout)


def large_payload(ctx: Context) -> str:
    limit = ctx.capabilities.maximum_packet_size
    if limit is not None and limit < LARGE + 1024:
        raise NotApplicable(f"the broker accepts packets of {limit} bytes at most")
    payload = random.Random(0x6D71).randbytes(LARGE)
    note = ""
    if ctx.adapter.nul_in_payload:  # the client cannot carry 0x00: every other byte value
        payload = payload.replace(b"\0", b"\1")
        note = f" (no 0x00 byte: {ctx.adapter.nul_in_payload})"
    topic = ctx.topic("large")
    subscriber = ctx.subscribe(ctx.spec("s"), topic, 1)
    ctx.adapter.publish(ctx.spec("p"), [Outgoing(topic, payload, 1)], ctx.log)
    got = subscriber.wait_for(arrived(1), ctx.timeout)
    subscriber.stop()
    only_on(got, topic)
    if not got:
        raise Fail(f"the {LARGE // 1024} KiB message did not arrive within {ctx.timeout:g} s")
    body = got[0].payload
    if body != payload:
        first = next((i for i, (a, b) in enumerate(zip(body, payload, strict=False)) if a != b),
                     min(len(body), len(payload)))
        raise Fail(f"{len(body)} bytes arrived for {len(payload)} sent, first difference at "
                   f"byte {first}")
    return f"{LARGE // 1024} KiB arrived byte for byte at QoS 1{note}"


def v5_properties(ctx: Context) -> str:
    full = MessageProps(
        user_properties=(("lab-key", "one"), ("lab-key", "two"), ("lab-other", "\u00fcml")),
        content_type="text/plain;charset=utf-8", response_topic=ctx.topic("reply"),
        correlation_data=b"\x01corr\xfe\x7f", message_expiry_interval=3600,
        payload_format_indicator=1)
    adapter = ctx.adapter
    sent = full.only(adapter.settable_properties)
    if adapter.max_user_properties is not None:
        sent = MessageProps(**{**{n: getattr(sent, n) for n in sent.present()},
                               "user_properties":
                                   sent.user_properties[:adapter.max_user_properties]})
    observer = ctx.observer()
    outward, inward = ctx.topic("props-out"), ctx.topic("props-in")
    observer.subscribe(outward, 1)
    payload = "propri\u00e9t\u00e9s".encode()
    adapter.publish(ctx.spec("p"), [Outgoing(outward, payload, 1, properties=sent)], ctx.log)
    packet = observer.next_publish(outward)
    if packet is None:
        raise Fail("the observer received nothing from the client's PUBLISH with properties")
    problems = [f"client -> observer: {p}"
                for p in compare_properties(sent, from_properties(packet.properties))]
    subscriber = ctx.subscribe(ctx.spec("s"), inward, 1)
    observer.publish(inward, payload, qos=1, properties=full)
    got = subscriber.wait_for(arrived(1), ctx.timeout)
    subscriber.stop()
    only_on(got, inward)
    if not got:
        raise Fail("the client received nothing from the observer's PUBLISH with properties")
    problems += [f"observer -> client: {p}" for p in compare_properties(full, got[0].properties)]
    if problems:
        raise Fail("; ".join(problems))
    unset = [n for n in full.present() if n not in sent.present()]
    limits = (f"; the client cannot set {', '.join(LABELS[n] for n in unset)}" if unset else "")
    if len(sent.user_properties) < len(full.user_properties):
        limits += f"; it sets {len(sent.user_properties)} User Property at most"
    return (f"{len(sent.present())} properties set by the client reached the observer, all "
            f"{len(full.present())} set by the observer reached the client{limits}")


SCENARIOS: dict[str, Scenario] = {s.id: s for s in (
    Scenario("connect", "CONNECT / CONNACK accepted, then a clean DISCONNECT (the Will is "
             "discarded)", connect),
    Scenario("pubsub-qos0", "The client publishes and subscribes at QoS 0: topic, payload, "
             "QoS, order", pubsub(0)),
    Scenario("pubsub-qos1", "The client publishes and subscribes at QoS 1: topic, payload, "
             "QoS, order", pubsub(1)),
    Scenario("pubsub-qos2", "The client publishes and subscribes at QoS 2: exactly once, in "
             "order", pubsub(2)),
    Scenario("retained", "A retained message from the client reaches later subscribers with "
             "RETAIN 1", retained, alone=True),
    Scenario("will", "The Will is published when the client's connection is cut without "
             "DISCONNECT", will),
    Scenario("session-resume", "A persistent session gets the QoS 1 messages published while "
             "the client was away", session_resume),
    Scenario("large-payload", "A 256 KiB payload round-trips byte for byte", large_payload),
    Scenario("v5-properties", "MQTT 5 message properties round-trip both ways (User "
             "Properties, Content Type, Response Topic, Correlation Data, Message Expiry, "
             "Payload Format)", v5_properties, levels=(5,)),
)}
