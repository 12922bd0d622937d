"""What the fuzzer sends and what it saw: the data every part of the fuzzer shares.

Strategy: a `FuzzCase` is plain data, deterministic from its seed: the protocol level, whether
the engine first opens the session with a valid CONNECT (then `frames` follow it), the frames
themselves (bytes, each written with one send, so splits are part of the case), and what the
statement catalogue expects of a conforming broker: the generator knows which malformation
it applied and which statements that breaks.  The engine turns a case into an `Observation`
(how the connection ended, what came back); the oracles judge observations.  Both are JSON
round-trippable, so a finding file replays exactly what was sent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Expect(StrEnum):
    """What a conforming broker does after the case's frames."""

    CLOSE = "close"  # the frames break the spec: the broker closes (a v5 DISCONNECT may come)
    ALIVE = "alive"  # valid traffic: the connection stays usable (the barrier is answered)
    ANY = "any"  # the spec allows either (e.g. an unsupported optional feature)


@dataclass(frozen=True, slots=True)
class FuzzCase:
    seed: int
    level: int  # protocol level 3, 4 or 5
    frames: tuple[bytes, ...]  # written in order, one send each
    connect: bool = True  # the engine sends a valid CONNECT (and awaits CONNACK) first
    generator: str = ""  # which generator made it ("valid", "malformed:<class>", "mutate:<op>")
    malformation: str = ""  # the named malformation class applied, if any
    statements: tuple[str, ...] = ()  # the statement IDs the malformation breaks
    expect: Expect = Expect.ANY

    @property
    def size(self) -> int:
        return sum(len(f) for f in self.frames)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["frames"] = [f.hex() for f in self.frames]
        data["statements"] = list(self.statements)
        data["expect"] = self.expect.value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FuzzCase:
        return cls(seed=int(data["seed"]), level=int(data["level"]),
                   frames=tuple(bytes.fromhex(f) for f in data["frames"]),
                   connect=bool(data.get("connect", True)),
                   generator=str(data.get("generator", "")),
                   malformation=str(data.get("malformation", "")),
                   statements=tuple(data.get("statements", ())),
                   expect=Expect(data.get("expect", "any")))


class Ending(StrEnum):
    """How the case's connection ended."""

    BARRIER = "barrier answered"  # PINGRESP came back: the broker is alive and kept it open
    CLOSED = "closed by the broker"  # EOF or reset after the frames
    REFUSED = "connection refused"  # the broker did not accept a new connection
    CONNACK_REFUSED = "CONNACK refused"  # the opening CONNECT got a non-zero code
    HANG = "no answer"  # neither PINGRESP nor close within the bound


@dataclass(slots=True)
class Observation:
    ending: Ending
    received: bytes = b""  # everything the broker sent after the frames (before the end)
    seconds: float = 0.0
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"ending": self.ending.value, "received": self.received.hex(),
                "seconds": round(self.seconds, 4), "detail": self.detail}


@dataclass(slots=True)
class Finding:
    """One oracle's verdict worth a file: a case, what was seen, and the evidence."""

    oracle: str  # "crash", "hang", "refusal", "memory", "reaction", "divergence"
    signature: str  # what deduplicates it (oracle + class + the gist of what was seen)
    case: FuzzCase | None
    broker: str
    broker_version: str
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"oracle": self.oracle, "signature": self.signature,
                "case": None if self.case is None else self.case.to_json(),
                "broker": self.broker, "broker_version": self.broker_version,
                "summary": self.summary, "evidence": self.evidence}
