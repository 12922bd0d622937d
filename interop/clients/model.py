"""What the client-interop scenarios and the client adapters exchange.

Strategy: one vocabulary for every client library.  A scenario describes a client's role with
a `ClientSpec` (address, protocol level, Client ID, session, Will) and messages as `Outgoing`;
an adapter turns that into the library's own calls or command line, and reports back what the
library itself saw as `Received` (fields the library does not report are None, so a check is
skipped rather than guessed).  A long-running role is a `Subscriber`: connected, holding one
subscription, collecting messages until it is stopped (DISCONNECT) or killed (connection cut
without DISCONNECT).  Three exceptions say how a role ended badly: `ClientFailure` (the client
reported a failure, or did not finish in time: the pair client x broker fails),
`NotSupported` (the client cannot express the role: not applicable), anything else is an
error of the harness.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

PROPERTY_NAMES = ("user_properties", "content_type", "response_topic", "correlation_data",
                  "message_expiry_interval", "payload_format_indicator")


class ClientFailure(Exception):
    """The client under test reported a failure or did not finish: one line, for `observed`."""


class NotSupported(Exception):
    """The client cannot express what the scenario needs; the message says why."""


@dataclass(frozen=True, slots=True)
class MessageProps:
    """The MQTT 5 properties of an application message that the scenarios round-trip."""

    user_properties: tuple[tuple[str, str], ...] = ()
    content_type: str | None = None
    response_topic: str | None = None
    correlation_data: bytes | None = None
    message_expiry_interval: int | None = None
    payload_format_indicator: int | None = None

    def present(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name) not in (None, ())]

    def only(self, names: Sequence[str]) -> MessageProps:
        """These properties with every other one left out."""
        return replace(MessageProps(), **{n: getattr(self, n) for n in names})

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name in self.present():
            value = getattr(self, name)
            data[name] = (value.hex() if isinstance(value, bytes)
                          else [list(p) for p in value] if name == "user_properties" else value)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MessageProps:
        corr = data.get("correlation_data")
        return cls(
            user_properties=tuple((str(k), str(v)) for k, v in data.get("user_properties", ())),
            content_type=data.get("content_type"), response_topic=data.get("response_topic"),
            correlation_data=bytes.fromhex(corr) if corr is not None else None,
            message_expiry_interval=data.get("message_expiry_interval"),
            payload_format_indicator=data.get("payload_format_indicator"))


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 0


@dataclass(frozen=True, slots=True)
class ClientSpec:
    """One connection of the client under test."""

    host: str
    port: int
    level: int  # 3: MQTT 3.1, 4: 3.1.1, 5: 5.0
    client_id: str
    clean: bool = True  # CleanSession (3.x) / Clean Start (5.0)
    session_expiry: int | None = None  # MQTT 5 Session Expiry Interval on CONNECT
    will: Will | None = None
    timeout: float = 5.0  # one bounded wait


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message the client under test publishes."""

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    properties: MessageProps = field(default_factory=MessageProps)


@dataclass(frozen=True, slots=True)
class Received:
    """A message as the client under test reported it (None: the client does not say)."""

    topic: str
    payload: bytes
    qos: int | None = None
    retain: bool | None = None
    properties: MessageProps | None = None


class ScenarioLog:
    """The text log of one scenario run: timestamped lines, each cut to a readable length,
    the whole bounded (a 256 KiB payload in hex must not become the report)."""

    LINE = 240
    LINES = 400

    def __init__(self) -> None:
        self.started = time.monotonic()
        self._lines: list[tuple[float, str]] = []
        self._dropped = 0
        self._lock = threading.Lock()

    def add(self, source: str, text: str, at: float | None = None) -> None:
        when = (time.monotonic() if at is None else at) - self.started
        with self._lock:
            for line in text.splitlines() or [""]:
                if len(self._lines) >= self.LINES:
                    self._dropped += 1
                    continue
                if len(line) > self.LINE:
                    line = line[: self.LINE] + f"... ({len(line)} characters)"
                self._lines.append((when, f"{source:>10} | {line}"))

    def lines(self) -> list[str]:
        with self._lock:
            ordered = sorted(self._lines, key=lambda item: item[0])
            out = [f"{at:7.3f}s {text}" for at, text in ordered]
            if self._dropped:
                out.append(f"... {self._dropped} more lines left out")
            return out


class Collector:
    """Thread-safe state of a subscriber: ready (with the granted QoS), messages, failure."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._messages: list[Received] = []
        self._ready = False
        self._failure: str | None = None
        self.granted: int | None = None  # SUBACK code as the client reports it

    def set_ready(self, granted: int | None) -> None:
        with self._cond:
            self._ready, self.granted = True, granted
            self._cond.notify_all()

    def add(self, message: Received) -> None:
        with self._cond:
            self._messages.append(message)
            self._cond.notify_all()

    def fail(self, why: str) -> None:
        with self._cond:
            if self._failure is None:
                self._failure = why
            self._cond.notify_all()

    def changed(self) -> None:
        """Something a `messages()` override reads has changed: wake the waiters."""
        with self._cond:
            self._cond.notify_all()

    def messages(self) -> list[Received]:
        with self._cond:
            return list(self._messages)

    def wait_ready(self, timeout: float, who: str) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: self._ready or self._failure is not None,
                                       timeout):
                raise ClientFailure(f"{who} did not report its subscription within "
                                    f"{timeout:g} s")
            if not self._ready:
                raise ClientFailure(f"{who}: {self._failure}")

    def wait_for(self, done: Callable[[list[Received]], bool], timeout: float
                 ) -> list[Received]:
        """Wait (bounded) until `done(messages)` or the client failed; the messages so far."""
        with self._cond:
            self._cond.wait_for(lambda: self._failure is not None or done(self.messages()),
                                timeout)
        return self.messages()


class Subscriber(Collector, ABC):
    """A connected client under test with one subscription, collecting what it receives."""

    who = "the subscriber"

    def ready(self, timeout: float) -> Subscriber:
        self.wait_ready(timeout, self.who)
        return self

    @abstractmethod
    def stop(self) -> None:
        """End normally: DISCONNECT, then wait (bounded) for the client to finish."""

    @abstractmethod
    def kill(self) -> None:
        """End abnormally: the connection is cut without DISCONNECT."""


class Adapter(ABC):
    """One client library as the scenarios drive it."""

    name: str
    levels: tuple[int, ...] = (3, 4, 5)
    # what the library (or its command line) cannot do, as one line each; None: it can
    no_persistent_session: str | None = None
    nul_in_payload: str | None = None  # why payloads must avoid the byte 0x00
    max_user_properties: int | None = None  # per published message; None: no limit
    settable_properties: tuple[str, ...] = PROPERTY_NAMES

    @abstractmethod
    def available(self) -> str | None:
        """None when the client can run here, else one line saying how to install it."""

    @abstractmethod
    def version(self) -> str:
        """The library's name and version, as it reports them."""

    @abstractmethod
    def connect_disconnect(self, spec: ClientSpec, topic: str, log: ScenarioLog) -> str:
        """Connect (CONNACK accepted), end with DISCONNECT; what the client reported.  A
        command-line client that must do something in between uses `topic`."""

    @abstractmethod
    def publish(self, spec: ClientSpec, messages: Sequence[Outgoing], log: ScenarioLog
                ) -> None:
        """Publish the messages in order (each QoS flow completed), then disconnect."""

    @abstractmethod
    def subscribe(self, spec: ClientSpec, topic_filter: str, qos: int, log: ScenarioLog
                  ) -> Subscriber:
        """Start a connection subscribing to `topic_filter` (ready() waits for the SUBACK)."""
