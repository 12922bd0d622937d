"""What a stateful run did and found: counts, checks passed, allowed behaviours, findings.

Strategy: one mutable `StatefulReport` filled in by the runner as it goes (so a progress
callback can show it), JSON round-trippable for the record (the action list in it replays the
run), with a few summary lines for people.  Findings are deduplicated by signature: the first
is kept whole, later ones only counted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from fuzz.case import Finding
from fuzz.stateful.actions import Action, Caps


@dataclass
class StatefulReport:
    seed: int | None
    broker: str = ""
    broker_version: str = ""
    caps: Caps | None = None
    run_id: str = ""
    clients: int = 0
    slot_levels: tuple[int, ...] = ()
    seconds: float = 0.0
    actions: list[Action] = field(default_factory=list)
    done: Counter[str] = field(default_factory=Counter)  # actions carried out, per kind
    skipped: Counter[str] = field(default_factory=Counter)  # actions that no longer applied
    published: Counter[str] = field(default_factory=Counter)  # per QoS ("q0", "q1", "q2")
    delivered: int = 0  # application messages received (RETAIN 0 copies)
    checks: Counter[str] = field(default_factory=Counter)  # passed, per invariant
    allowed: Counter[str] = field(default_factory=Counter)  # allowed behaviours seen
    findings: list[Finding] = field(default_factory=list)
    occurrences: Counter[str] = field(default_factory=Counter)  # per finding signature
    stopped: str = ""  # why the run ended

    @property
    def actions_done(self) -> int:
        return sum(self.done.values())

    @property
    def rate(self) -> float:
        return self.actions_done / self.seconds if self.seconds > 0 else 0.0

    def add(self, finding: Finding) -> bool:
        """Record a finding; whether its signature is new in this run."""
        self.occurrences[finding.signature] += 1
        if self.occurrences[finding.signature] > 1:
            return False
        self.findings.append(finding)
        return True

    def summary(self) -> list[str]:
        published = sum(self.published.values())
        lines = [
            f"stateful run on {self.broker or 'broker'} ({self.broker_version}), seed "
            f"{self.seed}, {self.clients} clients (levels {list(self.slot_levels)}), run "
            f"{self.run_id}",
            f"{self.actions_done} actions in {self.seconds:.1f} s ({self.rate:.0f}/s), "
            f"{sum(self.skipped.values())} skipped; {published} messages published "
            f"({', '.join(f'{k} {v}' for k, v in sorted(self.published.items()))}), "
            f"{self.delivered} delivered; stopped: {self.stopped}",
            "actions: " + ", ".join(f"{k} {v}" for k, v in sorted(self.done.items())),
            "checks passed: " + (", ".join(f"{k} {v}" for k, v in sorted(self.checks.items()))
                                 or "none"),
        ]
        if self.allowed:
            lines.append("allowed behaviours seen:")
            lines += [f"  {v:6d}  {k}" for k, v in self.allowed.most_common()]
        lines.append(f"findings: {len(self.findings)}")
        for f in self.findings:
            count = self.occurrences[f.signature]
            lines.append(f"  {f.signature} (x{count}): {f.summary}")
        return lines

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed, "broker": self.broker, "broker_version": self.broker_version,
            "caps": None if self.caps is None else self.caps.to_json(), "run_id": self.run_id,
            "clients": self.clients, "slot_levels": list(self.slot_levels),
            "seconds": round(self.seconds, 3), "done": dict(self.done),
            "skipped": dict(self.skipped), "published": dict(self.published),
            "delivered": self.delivered, "checks": dict(self.checks),
            "allowed": dict(self.allowed), "stopped": self.stopped,
            "findings": [f.to_json() for f in self.findings],
            "occurrences": dict(self.occurrences),
            "actions": [a.to_json() for a in self.actions],
        }
