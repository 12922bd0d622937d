"""Statement trace: which normative statements the broker actually exercised.

Strategy: each check that enforces a statement calls `hit(level, v3_id, v5_id)` with the ID of
the rule in MQTT 3.1.1 numbering and in MQTT 5.0 numbering (either may be empty where the
version has no such statement; MQTT 3.1 connections count under 3.1.1, as the wire package
does).  The same ID names different rules in the two versions, so counts are kept per
version.  `snapshot()` returns plain dicts; `write()` stores them as JSON; `coverage_lines()`
compares a trace with the catalogue's server-binding statements (`python -m reference_broker
trace-report FILE...`).
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

V311 = "3.1.1"
V5 = "5.0"


# the IDs of several rules applied together, space-separated: (under 3.x, under 5.0)
Group = tuple[str, str]


def group(*pairs: tuple[str, str]) -> Group:
    """Rules always applied together, each a (3.1.1 ID, 5.0 ID) pair ("" where the version
    has no such statement), as one key per version: recording them costs one increment of a
    string key, whose hash Python keeps."""
    return " ".join(v3 for v3, _ in pairs if v3), " ".join(v5 for _, v5 in pairs if v5)


def version_of(level: int) -> str:
    return V5 if level == 5 else V311


class Trace:
    """Counts per version, by statement ID or by a group of IDs recorded together (one key,
    the IDs separated by spaces), so recording the several rules every packet follows costs
    one increment."""

    __slots__ = ("_v311", "_v5")

    def __init__(self) -> None:
        # defaultdict rather than Counter: `+= 1` on it costs half as much
        self._v311: defaultdict[str, int] = defaultdict(int)
        self._v5: defaultdict[str, int] = defaultdict(int)

    def hit(self, level: int, v3: str = "", v5: str = "") -> None:
        """Record that the rule was exercised on a connection of this protocol level."""
        if level == 5:
            if v5:
                self._v5[v5] += 1
        elif v3:
            self._v311[v3] += 1

    def hit_group(self, level: int, group: Group) -> None:
        """Record a group of rules always applied together (made by `group`)."""
        if level == 5:
            self._v5[group[1]] += 1
        else:
            self._v311[group[0]] += 1

    def hit_ids(self, level: int, statements: tuple[str, ...]) -> None:
        """Record IDs already chosen for the level (e.g. a `ProtocolViolation`'s)."""
        (self._v5 if level == 5 else self._v311)[" ".join(statements)] += 1

    def snapshot(self) -> dict[str, dict[str, int]]:
        out = {}
        for version, counter in ((V311, self._v311), (V5, self._v5)):
            counts: Counter[str] = Counter()
            for key, n in counter.items():
                for statement in key.split():
                    counts[statement] += n
            out[version] = dict(sorted(counts.items()))
        return out

    def write(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.snapshot(), indent=2) + "\n", encoding="utf-8")


def merge(snapshots: list[dict[str, dict[str, int]]]) -> dict[str, dict[str, int]]:
    """Several traces (e.g. every broker a test run started) as one."""
    total: dict[str, Counter[str]] = {V311: Counter(), V5: Counter()}
    for snapshot in snapshots:
        for version, counts in snapshot.items():
            total.setdefault(version, Counter()).update(counts)
    return {version: dict(sorted(counter.items())) for version, counter in total.items()}


def coverage_lines(snapshot: dict[str, dict[str, int]]) -> list[str]:
    """How much of the server-binding spec a trace exercised, per version and chapter, read
    from the statement catalogue (never a hand-kept number).  Statements the catalogue marks
    untestable (`coverage.untestable`: no wire behaviour shows them) are listed apart."""
    from mqttspec.catalogue import load_catalogue

    catalogue = load_catalogue()
    lines = []
    for version in (V311, V5):
        binding = list(catalogue.for_version(version).binding_server())
        seen = snapshot.get(version, {})
        hit = [s for s in binding if s.id in seen]
        unknown = sorted(set(seen) - {s.id for s in catalogue.for_version(version)})
        untestable = [s.id for s in binding if s.coverage.untestable is not None]
        lines.append(f"MQTT {version}: {len(hit)} of {len(binding)} server-binding statements "
                     f"exercised ({100 * len(hit) / len(binding):.0f}%), "
                     f"{len(untestable)} untestable")
        chapters: dict[str, list[int]] = {}
        for s in binding:
            counts = chapters.setdefault(s.section.split(".")[0], [0, 0])
            counts[0] += s.id in seen
            counts[1] += 1
        lines.append("  by chapter: " + ", ".join(
            f"{chapter}: {done}/{of}" for chapter, (done, of) in sorted(
                chapters.items(), key=lambda item: int(item[0]))))
        missing = [s.id for s in binding if s.id not in seen and s.coverage.untestable is None]
        if missing:
            lines.append(f"  not exercised: {' '.join(missing)}")
        if untestable:
            lines.append(f"  untestable (the catalogue says why): {' '.join(untestable)}")
        both = [statement for statement in untestable if statement in seen]
        if both:
            lines.append(f"  marked untestable yet exercised: {' '.join(both)}")
        if unknown:
            lines.append(f"  not in the catalogue: {' '.join(unknown)}")
    return lines


def report_main(argv: list[str]) -> int:
    """`python -m reference_broker trace-report FILE...`: the coverage of merged traces."""
    if not argv:
        print("usage: python -m reference_broker trace-report TRACE.json [...]",
              file=sys.stderr)
        return 2
    snapshots = []
    for name in argv:
        try:
            snapshots.append(json.loads(Path(name).read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            print(f"error: cannot read trace {name}: {exc}", file=sys.stderr)
            return 2
    print("\n".join(coverage_lines(merge(snapshots))))
    return 0
