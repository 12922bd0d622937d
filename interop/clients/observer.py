"""The trusted peer of a scenario: the conformance suite's own test client.

Strategy: the side of a scenario that is not the client under test (the subscriber watching
for a Will, the later subscriber of a retained message, the publisher while a session is
away) is `conformance.client.TestClient`, so a failure points at the pair client x broker,
not at a second library.  Every packet it sends and receives goes to a typed wire log whose
events are copied into the scenario's text log.  "Nothing more came" is proven the suite's
way: PINGREQ, then everything up to the PINGRESP.  Anything the observer cannot do (the
broker refuses it, times out) is an `ObserverError`: the harness could not run the scenario.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from conformance.client import ClientError, TestClient, WaitTimeout
from conformance.target import Target
from conformance.wirelog import EventKind, WireLog
from interop.clients.model import MessageProps, ScenarioLog
from mqttspec import Properties, Publish, Suback, Subscribe, Subscription

T = TypeVar("T")


class ObserverError(Exception):
    """The trusted peer could not do its part; the scenario is an ERROR, not a verdict."""


def to_properties(props: MessageProps) -> Properties:
    return Properties(user_properties=props.user_properties, content_type=props.content_type,
                      response_topic=props.response_topic,
                      correlation_data=props.correlation_data,
                      message_expiry_interval=props.message_expiry_interval,
                      payload_format_indicator=props.payload_format_indicator)


def from_properties(props: Properties) -> MessageProps:
    return MessageProps(user_properties=props.user_properties, content_type=props.content_type,
                        response_topic=props.response_topic,
                        correlation_data=props.correlation_data,
                        message_expiry_interval=props.message_expiry_interval,
                        payload_format_indicator=props.payload_format_indicator)


class Observer:
    def __init__(self, host: str, port: int, level: int, client_id: str, log: ScenarioLog,
                 timeout: float, clean: bool = True, name: str = "observer") -> None:
        self.log = log
        self.level = level
        self.timeout = timeout
        self.wire = WireLog(started=log.started)
        try:
            self.client = TestClient(Target(host=host, port=port, timeout=timeout,
                                            levels=(level,)), self.wire, name=name,
                                     level=level)
        except OSError as exc:
            self.flush()
            raise ObserverError(f"the observer could not connect: {exc}") from None
        props = Properties(session_expiry_interval=0) if level == 5 else Properties()
        connack = self._do("connect", lambda: self.client.connect(
            client_id, clean_start=clean, keep_alive=60, properties=props))
        if connack.reason_code != 0:
            self.close()
            raise ObserverError(f"the broker refused the observer (CONNACK "
                                f"{connack.reason_code:#04x})")

    def _do(self, what: str, action: Callable[[], T]) -> T:
        try:
            return action()
        except (ClientError, OSError) as exc:
            self.flush()
            raise ObserverError(f"the observer could not {what}: {exc}") from None

    def subscribe(self, topic_filter: str, qos: int) -> int:
        """SUBSCRIBE and wait for its SUBACK; PUBLISH packets that come first are kept for
        `next_publish` (a broker may send some before the SUBACK)."""
        client = self.client
        packet_id = client.packet_id()
        self._do(f"subscribe to {topic_filter}", lambda: client.send(Subscribe(
            packet_id=packet_id, subscriptions=(Subscription(topic_filter=topic_filter, qos=qos),),
            protocol_level=self.level)))
        while True:
            packet = self._do("receive its SUBACK", client.recv)
            if isinstance(packet, Publish):
                client.held.append(packet)
            elif isinstance(packet, Suback) and packet.packet_id == packet_id:
                break
            else:
                self.flush()
                raise ObserverError(f"the observer expected a SUBACK, received {packet!r}")
        code = packet.reason_codes[0]
        if code >= 0x80:
            raise ObserverError(f"the broker refused the observer's subscription to "
                                f"{topic_filter} ({code:#04x})")
        return code

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False,
                properties: MessageProps | None = None) -> None:
        props = to_properties(properties) if properties and self.level == 5 else Properties()
        self._do(f"publish to {topic}", lambda: self.client.publish(
            topic, payload, qos=qos, retain=retain, properties=props))

    def next_publish(self, topic: str, timeout: float | None = None) -> Publish | None:
        """The next PUBLISH on `topic` (acknowledged as its QoS asks), None if none comes
        in time; PUBLISH packets on other topics are passed over."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while (left := deadline - time.monotonic()) > 0:
            try:
                packet = self.client.expect_publish(timeout=left)
            except WaitTimeout:
                return None
            except ClientError as exc:
                self.flush()
                raise ObserverError(f"the observer lost its connection: {exc}") from None
            if packet.topic == topic:
                return packet
        return None

    def nothing_more(self) -> list[Publish]:
        """PINGREQ / PINGRESP: the PUBLISH packets the broker sent before its PINGRESP."""
        before = self._do("run its PINGREQ barrier", self.client.no_publish)
        return [p for p in before if isinstance(p, Publish)]

    def close(self) -> None:
        if not self.client.closed:
            try:
                self.client.disconnect()
            except ClientError:
                self.client.close()
        self.flush()

    def flush(self) -> None:
        """Copy the wire log's events into the scenario log (once each)."""
        arrows = {EventKind.SENT: "->", EventKind.RECEIVED: "<-"}
        for event in self.wire.events:
            self.log.add(event.client, f"{arrows.get(event.kind, '--')} {event.kind.value} "
                         f"{event.summary}", at=self.log.started + event.at)
        self.wire.events.clear()
