"""The typed wire log every conformance case keeps: what was sent, received, and how it ended.

Strategy: one flat, append-only list of `WireEvent`s per case, shared by all the case's test
clients (each event names its client), timestamped from the case start.  Events are typed
objects, never tuples, so reports render them without guessing.  `render()` gives the text
shown under a failing case; `to_json()` feeds the JSON results that every report is built from.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    SENT = "sent"  # a packet (or raw bytes) we wrote
    RECEIVED = "received"  # a packet the broker sent, decoded
    BROKER_VIOLATION = "broker-violation"  # bytes from the broker that break the spec
    CLOSED_BY_BROKER = "closed-by-broker"  # EOF or reset from the broker
    CLOSED_BY_US = "closed-by-us"
    TIMEOUT = "timeout"  # a bounded wait ran out
    NOTE = "note"  # what the case was doing, for the reader


@dataclass(frozen=True, slots=True)
class WireEvent:
    at: float  # seconds since the case started
    client: str
    kind: EventKind
    summary: str  # decoded packet, or a description
    hex: str = ""  # the raw bytes, when there are any
    statements: tuple[str, ...] = ()  # for broker violations: what the bytes break

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind.value
        data["statements"] = list(self.statements)
        return data


@dataclass
class WireLog:
    started: float = field(default_factory=time.monotonic)
    events: list[WireEvent] = field(default_factory=list)

    def add(self, client: str, kind: EventKind, summary: str, raw: bytes = b"",
            statements: tuple[str, ...] = ()) -> WireEvent:
        event = WireEvent(round(time.monotonic() - self.started, 4), client, kind, summary,
                          raw.hex(" ") if raw else "", statements)
        self.events.append(event)
        return event

    def note(self, text: str, client: str = "case") -> None:
        self.add(client, EventKind.NOTE, text)

    def render(self, hex_limit: int = 96) -> str:
        lines = []
        for e in self.events:
            arrow = {EventKind.SENT: "->", EventKind.RECEIVED: "<-"}.get(e.kind, "--")
            line = f"{e.at:8.3f}s {e.client:>8} {arrow} {e.kind.value:16} {e.summary}"
            if e.statements:
                line += f" [{', '.join(e.statements)}]"
            lines.append(line)
            if e.hex:
                shown = e.hex if len(e.hex) <= hex_limit * 3 else e.hex[: hex_limit * 3] + " ..."
                lines.append(f"{'':28}{shown}")
        return "\n".join(lines)

    def to_json(self) -> list[dict[str, Any]]:
        return [e.to_json() for e in self.events]
