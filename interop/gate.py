"""The CI gate: a baseline of expected outcomes per broker; a run fails only on a regression.

Strategy: a baseline file holds, per broker, the outcome of every (case, version) as a sorted
JSON map "case@version" -> outcome, with the broker version and date it was made.  Outcomes
are ranked (PASS and INFO best; NON-STRICT and NOT APPLICABLE next; FAIL; ERROR worst); a
regression is a (case, version) whose rank got worse, or a new case that FAILs or ERRORs.
Better outcomes and cases gone from the suite are listed, never fatal (update the baseline to
keep them).  While the broker still runs, each regression is run again twice, one at a time:
one that comes out as good as the baseline in a re-run is reported as unstable, not as a
regression, so a loaded CI machine does not fail the gate; one that is worse every time is
reported with its wire log.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.case import Result, run_case
from conformance.runner import load_cases
from conformance.target import LEVEL_OF_VERSION, Target
from interop.brokers import RunningBroker

BASELINE_SCHEMA = "mqttlab/baseline-1"
RANK = {"PASS": 0, "INFO": 0, "NON-STRICT": 1, "NOT APPLICABLE": 1, "FAIL": 2, "ERROR": 3}
RERUNS = 2


class BaselineError(ValueError):
    """A missing or unreadable baseline; the message is one line for the user."""


def key(case: str, version: str) -> str:
    return f"{case}@{version}"


def baseline_document(document: dict[str, Any]) -> dict[str, Any]:
    """The baseline of one broker's results document."""
    broker = document["run"]["broker"]
    return {"schema": BASELINE_SCHEMA, "broker": broker["name"], "version": broker["version"],
            "made": document["run"]["started"],
            "outcomes": dict(sorted((key(r["case"], r["version"]), r["outcome"])
                                    for r in document["results"]))}


def load_baseline(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"no baseline at {path}: make it with "
                            "`mqttlab gate --update --broker NAME`") from None
    except (OSError, ValueError) as exc:
        raise BaselineError(f"cannot read baseline {path}: {exc}") from None
    if data.get("schema") != BASELINE_SCHEMA or not isinstance(data.get("outcomes"), dict):
        raise BaselineError(f"{path} is not a baseline file ({BASELINE_SCHEMA})")
    outcomes: dict[str, str] = data["outcomes"]
    return outcomes


@dataclass
class Change:
    case: str
    version: str
    before: str | None  # None: a case the baseline does not know
    after: str
    result: Result | None = None  # the run that got worse (its wire log)
    reruns: list[str] = field(default_factory=list)  # outcomes of the confirming re-runs

    def line(self) -> str:
        before = self.before or "not in the baseline"
        again = f" (re-runs: {', '.join(self.reruns)})" if self.reruns else ""
        return f"{self.case} [MQTT {self.version}]: {before} -> {self.after}{again}"


@dataclass
class Comparison:
    regressions: list[Change] = field(default_factory=list)
    unstable: list[Change] = field(default_factory=list)
    improvements: list[Change] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)  # baseline keys the run no longer has


def compare(baseline: dict[str, str], results: Iterable[Result]) -> Comparison:
    seen: set[str] = set()
    found = Comparison()
    for r in results:
        k = key(r.case_id, r.version)
        seen.add(k)
        before, after = baseline.get(k), r.outcome.value
        if before is None:
            if RANK[after] >= RANK["FAIL"]:
                found.regressions.append(Change(r.case_id, r.version, None, after, r))
        elif RANK[after] > RANK[before]:
            found.regressions.append(Change(r.case_id, r.version, before, after, r))
        elif RANK[after] < RANK[before]:
            found.improvements.append(Change(r.case_id, r.version, before, after))
    found.gone = sorted(set(baseline) - seen)
    return found


def confirm(comparison: Comparison, baseline: dict[str, str], broker: RunningBroker,
            target: Target) -> None:
    """Run each regression again (the broker still running); keep those worse every time."""
    cases = load_cases()
    confirmed: list[Change] = []
    for change in comparison.regressions:
        c = cases.get(change.case)
        if c is None:
            confirmed.append(change)
            continue
        limit = RANK[baseline.get(key(change.case, change.version), "FAIL")]
        for _ in range(RERUNS):
            again = run_case(c, target, LEVEL_OF_VERSION[change.version])
            change.reruns.append(again.outcome.value)
            if RANK[again.outcome.value] <= limit or broker.death():
                break
        if any(RANK[o] <= limit for o in change.reruns) and change.before is not None:
            comparison.unstable.append(change)
        else:
            confirmed.append(change)
    comparison.regressions = confirmed


def report_lines(broker: str, comparison: Comparison, with_logs: bool = True) -> list[str]:
    """What the gate prints for one broker."""
    c = comparison
    lines = [f"{broker}: {len(c.regressions)} regressions, {len(c.unstable)} unstable, "
             f"{len(c.improvements)} better than the baseline, {len(c.gone)} gone from the suite"]
    for change in c.regressions:
        lines.append(f"  REGRESSION {change.line()}")
        if with_logs and change.result is not None:
            lines.extend("    " + line for line in change.result.render().splitlines())
    lines += [f"  unstable   {change.line()}" for change in c.unstable]
    lines += [f"  better     {change.line()}" for change in c.improvements[:20]]
    if len(c.improvements) > 20:
        lines.append(f"  ... and {len(c.improvements) - 20} more better outcomes")
    if c.improvements or c.gone:
        lines.append(f"  (keep them: mqttlab gate --update --broker {broker})")
    return lines


def write_baseline(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(baseline_document(document), indent=1) + "\n", encoding="utf-8")
