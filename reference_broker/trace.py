"""Statement trace: which normative statements the broker actually exercised.

Strategy: each check that enforces a statement calls `hit(level, v3_id, v5_id)` with the ID of
the rule in MQTT 3.1.1 numbering and in MQTT 5.0 numbering (either may be empty where the
version has no such statement; MQTT 3.1 connections count under 3.1.1, as the wire package
does).  The same ID names different rules in the two versions, so counts are kept per
version.  `snapshot()` returns plain dicts; `write()` stores them as JSON.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

V311 = "3.1.1"
V5 = "5.0"


def version_of(level: int) -> str:
    return V5 if level == 5 else V311


class Trace:
    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: dict[str, Counter[str]] = {V311: Counter(), V5: Counter()}

    def hit(self, level: int, v3: str = "", v5: str = "") -> None:
        """Record that the rule was exercised on a connection of this protocol level."""
        if level == 5:
            if v5:
                self.counts[V5][v5] += 1
        elif v3:
            self.counts[V311][v3] += 1

    def hit_ids(self, level: int, statements: tuple[str, ...]) -> None:
        """Record IDs already chosen for the level (e.g. a `ProtocolViolation`'s)."""
        counter = self.counts[version_of(level)]
        for statement in statements:
            counter[statement] += 1

    def snapshot(self) -> dict[str, dict[str, int]]:
        return {version: dict(sorted(counter.items()))
                for version, counter in self.counts.items()}

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.snapshot(), indent=2) + "\n", encoding="utf-8")
