"""What the stateful model reports: violations of its invariants, with the statements they break.

Strategy: the model produces `Violation`s (plain data: the invariant, a gist that makes the
signature stable across runs, a one-line summary, the statement IDs, details, and the
connections whose packet logs are evidence); the runner turns them into `Finding`s with the
action trace.  `STATEMENTS` holds, per check, the statement IDs in the 3.1.1 and 5.0
numbering, so the model names a check and the subscriber's protocol level, never an ID.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

INVARIANTS = ("no-loss", "qos2-no-duplicate", "retained", "order", "served", "will", "shared",
              "session", "unsolicited", "takeover", "granted-qos")

# check -> (3.1.1 statement IDs, 5.0 statement IDs)
STATEMENTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "loss-online": (("MQTT-4.5.0-1", "MQTT-4.3.2-1"), ("MQTT-4.5.0-1", "MQTT-4.3.2-1")),
    "loss-offline": (("MQTT-4.5.0-1", "MQTT-3.1.2-5", "MQTT-4.4.0-1"),
                     ("MQTT-4.5.0-1", "MQTT-3.1.2-23", "MQTT-4.4.0-1")),
    "qos2-duplicate": (("MQTT-4.3.3-1", "MQTT-4.3.3-2"), ("MQTT-4.3.3-1", "MQTT-4.3.3-10")),
    "retained-missing": (("MQTT-3.3.1-5", "MQTT-3.3.1-6"), ("MQTT-3.3.1-5", "MQTT-3.3.1-9")),
    "retained-stale": (("MQTT-3.3.1-5", "MQTT-3.3.1-6", "MQTT-3.3.1-10"),
                       ("MQTT-3.3.1-5", "MQTT-3.3.1-6", "MQTT-3.3.1-9")),
    "retained-empty": (("MQTT-3.3.1-11",), ("MQTT-3.3.1-7",)),
    "retained-flag": (("MQTT-3.3.1-8",), ("MQTT-3.3.1-9",)),
    "retained-several": (("MQTT-3.3.1-5", "MQTT-3.3.1-6"), ("MQTT-3.3.1-5",)),
    "order": (("MQTT-4.6.0-5", "MQTT-4.6.0-6"), ("MQTT-4.6.0-5", "MQTT-4.6.0-6")),
    "connack": (("MQTT-3.2.0-1", "MQTT-3.1.4-4"), ("MQTT-3.2.0-1", "MQTT-3.1.4-5")),
    "pingresp": (("MQTT-3.12.4-1",), ("MQTT-3.12.4-1",)),
    "suback": (("MQTT-3.8.4-1",), ("MQTT-3.8.4-1",)),
    "unsuback": (("MQTT-3.10.4-4",), ("MQTT-3.10.4-4",)),
    "puback": (("MQTT-4.3.2-2",), ("MQTT-4.3.2-4",)),
    "pubrec": (("MQTT-4.3.3-2",), ("MQTT-4.3.3-8",)),
    "pubcomp": (("MQTT-4.3.3-2",), ("MQTT-4.3.3-11",)),
    "closed": ((), ()),
    "malformed": (("MQTT-4.8.0-1",), ("MQTT-4.13.1-1",)),
    "will-missing": (("MQTT-3.1.2-8",), ("MQTT-3.1.2-8",)),
    "will-after-disconnect": (("MQTT-3.1.2-10",), ("MQTT-3.1.2-10", "MQTT-3.1.2-8")),
    "will-despite-reconnect": ((), ("MQTT-3.1.3-9", "MQTT-3.1.2-8")),
    "will-early": ((), ("MQTT-3.1.2-8",)),
    "shared-qos2": ((), ("MQTT-4.8.2-4", "MQTT-4.8.2-5")),
    "shared": ((), ()),  # section 4.8.2: each message goes to one member of the group
    "present-on-clean": (("MQTT-3.2.2-1",), ("MQTT-3.2.2-2",)),
    "session-lost": (("MQTT-3.1.2-4", "MQTT-3.2.2-2"),
                     ("MQTT-3.1.2-5", "MQTT-3.1.2-23", "MQTT-3.2.2-3")),
    "session-not-ended": (("MQTT-3.1.2-6",), ("MQTT-4.1.0-2", "MQTT-3.2.2-3")),
    "after-unsubscribe": (("MQTT-3.10.4-2",), ("MQTT-3.10.4-2",)),
    "not-subscribed": (("MQTT-3.1.2-6", "MQTT-4.5.0-1"), ("MQTT-3.1.2-4", "MQTT-4.5.0-1")),
    "takeover": (("MQTT-3.1.4-2",), ("MQTT-3.1.4-3",)),
    "granted-qos": (("MQTT-3.8.4-6",), ("MQTT-3.8.4-8",)),
}


def statements(check: str, level: int) -> tuple[str, ...]:
    v3, v5 = STATEMENTS[check]
    return v5 if level == 5 else v3


@dataclass(slots=True)
class Violation:
    invariant: str  # one of INVARIANTS
    gist: str  # what makes the signature: no ids, times or payloads
    summary: str  # one line for people
    statements: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    conns: tuple[int, ...] = ()  # connection serials whose packet logs are evidence

    @property
    def signature(self) -> str:
        return f"invariant:{self.invariant}:{self.gist}"

    def line(self) -> str:
        ids = f" [{', '.join(self.statements)}]" if self.statements else ""
        return f"{self.summary}{ids}"
