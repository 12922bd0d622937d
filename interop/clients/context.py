"""What one scenario run works with, and how it ends: verdicts, unique names, clean-up.

Strategy: a `Context` is made per (client, broker, version, scenario) run.  It hands out
unique Client IDs (short enough for MQTT 3.1's 23 characters) and topics under the run's own
root below mqttlab/ (brokers' ACLs in this project allow only that), starts the trusted
observer and the client's subscribers and remembers them, and `finish()` undoes what the run
left on the broker whatever happened: every subscriber still connected is cut, retained
messages are cleared, persistent sessions are ended (a CleanSession 1 / Session Expiry 0
connection with the same Client ID), observers disconnect.  A scenario ends with an observed
line (PASS) or raises `Fail` / `NotApplicable`.
"""

from __future__ import annotations

import contextlib
import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from conformance.target import Capabilities
from interop.brokers import RunningBroker
from interop.clients.model import (
    Adapter,
    ClientSpec,
    MessageProps,
    Received,
    ScenarioLog,
    Subscriber,
)
from interop.clients.observer import Observer, ObserverError


class Fail(Exception):
    """The pair client x broker did not behave: the message is the observed line."""


class NotApplicable(Exception):
    """The scenario does not apply to this client, broker or version: the reason."""


@dataclass
class Context:
    adapter: Adapter
    broker: RunningBroker
    level: int
    root: str  # topic root of this run, under mqttlab/
    log: ScenarioLog
    capabilities: Capabilities  # what the broker offers
    timeout: float = 5.0
    retained: list[str] = field(default_factory=list)  # topics to clear at the end
    sessions: list[str] = field(default_factory=list)  # Client IDs whose session to end
    _observers: list[Observer] = field(default_factory=list)
    _subscribers: list[Subscriber] = field(default_factory=list)

    def topic(self, name: str) -> str:
        return f"{self.root}/{name}"

    def payload(self, label: str) -> bytes:
        return f"{label} {secrets.token_hex(4)}".encode()

    def client_id(self, role: str) -> str:
        return f"ml{secrets.token_hex(5)}{role}"[:23]

    def spec(self, role: str, **changes: object) -> ClientSpec:
        """The client under test's connection for `role`, with a fresh Client ID."""
        spec = ClientSpec(self.broker.host, self.broker.port, self.level,
                          self.client_id(role), timeout=self.timeout)
        return replace(spec, **changes)  # type: ignore[arg-type]

    def observer(self, client_id: str | None = None, name: str = "observer") -> Observer:
        observer = Observer(self.broker.host, self.broker.port, self.level,
                            client_id or self.client_id("o"), self.log, self.timeout, name=name)
        self._observers.append(observer)
        return observer

    def subscribe(self, spec: ClientSpec, topic_filter: str, qos: int) -> Subscriber:
        """The client under test subscribed (its SUBACK reported, bounded)."""
        subscriber = self.adapter.subscribe(spec, topic_filter, qos, self.log)
        self._subscribers.append(subscriber)
        return subscriber.ready(self.timeout)

    def finish(self) -> None:
        for subscriber in self._subscribers:
            with contextlib.suppress(Exception):
                subscriber.kill()  # a no-op for those already ended
        try:
            if self.retained or self.sessions:
                cleaner = self.observer(name="clean-up")
                for topic in self.retained:
                    cleaner.publish(topic, b"", qos=1, retain=True)
            for client_id in self.sessions:
                self.observer(client_id, "clean-up")  # clean start, expiry 0: session ended
        except ObserverError as exc:
            self.log.add("clean-up", f"could not clean up: {exc}")
        finally:
            for observer in self._observers:
                with contextlib.suppress(Exception):
                    observer.close()


def describe(payload: bytes) -> str:
    if len(payload) > 40:
        return f"{len(payload)} bytes"
    return repr(payload)


def only_on(got: Sequence[Received], topic: str) -> None:
    """Every message arrived on `topic`, the only topic the client subscribed to."""
    for m in got:
        if m.topic != topic:
            flag = "" if m.retain is None else f", RETAIN {int(m.retain)}"
            raise Fail(f"the client received a message on {m.topic}, which matches none of "
                       f"its subscriptions ({describe(m.payload)}{flag})")


def check_delivery(got: Sequence[Received], expected: Sequence[bytes], topic: str, qos: int,
                   timeout: float) -> str:
    """The messages published (in this order) arrived: each once (QoS 1 may repeat), in
    order, on `topic`, at `qos`, with RETAIN 0 (an established subscription)."""
    only_on(got, topic)
    counts = Counter(m.payload for m in got)
    strangers = [m for m in got if m.payload not in expected]
    if strangers:
        raise Fail(f"a message nobody published in this run arrived: "
                   f"{describe(strangers[0].payload)}")
    missing = [str(i + 1) for i, p in enumerate(expected) if p not in counts]
    if missing:
        raise Fail(f"message {', '.join(missing)} of {len(expected)} did not arrive within "
                   f"{timeout:g} s ({len(got)} received)")
    order = list(dict.fromkeys(m.payload for m in got))
    if order != list(expected):
        raise Fail("messages arrived out of order: "
                   + ", ".join(str(expected.index(p) + 1) for p in order))
    repeats = sum(n - 1 for n in counts.values())
    if repeats and qos != 1:
        raise Fail(f"{repeats} duplicate deliveries at QoS {qos}")
    for m in got:
        if m.qos is not None and m.qos != qos:
            raise Fail(f"delivered at QoS {m.qos}, published and subscribed at QoS {qos}")
        if m.retain:
            raise Fail("delivered with RETAIN 1 to an established subscription")
    how = (f"at QoS {qos}" if all(m.qos is not None for m in got)
           else "(the client does not report the QoS)")
    extra = f"; {repeats} duplicate(s), allowed at QoS 1" if repeats else ""
    return f"{len(expected)} messages delivered once each, in order, {how}{extra}"


LABELS = {"user_properties": "User Properties", "content_type": "Content Type",
          "response_topic": "Response Topic", "correlation_data": "Correlation Data",
          "message_expiry_interval": "Message Expiry Interval",
          "payload_format_indicator": "Payload Format Indicator"}


def compare_properties(sent: MessageProps, got: MessageProps | None) -> list[str]:
    """What differs between the properties sent and those that arrived; the Message Expiry
    Interval may have been reduced by the time the message waited (10 s of slack)."""
    if got is None:
        return ["the client does not report MQTT 5 properties"]
    problems = []
    for name in sent.present():
        want, have = getattr(sent, name), getattr(got, name)
        if name == "message_expiry_interval":
            if have is None or not want - 10 <= have <= want:
                problems.append(f"{LABELS[name]} {have} (sent {want})")
        elif have != want:
            problems.append(f"{LABELS[name]} {have!r} (sent {want!r})")
    return problems
