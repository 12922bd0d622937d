"""The oracles: what in a run's observations is worth a finding, each oracle on its own.

Strategy: every oracle turns observations (or the broker's state) into `Finding`s with a
stable `signature` ("oracle|class|gist", e.g. "reaction|reserved_flags|close->BARRIER"); a
`FindingLog` keeps the first finding per signature whole and counts the rest, so thousands of
identical departures are one finding with a count (fuzz.findings then writes them to files).
  - crash: the broker process we started exited or died by a signal (`RunningBroker.death()`,
    polled by `Oracles.tick`, which then stops the run); for a broker we did not start (the
    in-process reference broker), a probe refused at the TCP level means its listener is
    gone.  Attributed to the cases in flight when it went away (newest write first), with the
    window of cases before it, exit status, last log lines; signature "crash|<exit status>".
  - hang: a HANG observation confirmed by a fresh probe (CONNECT + PINGREQ) that is not
    answered either, while the process runs; a HANG the probe contradicts (the broker still
    serves others) is left to the reaction oracle.  A confirmed hang stops the run.
  - refusal: a REFUSED observation (not a "local:" error of ours) confirmed by a refused
    probe while the process runs; a CONNACK with a non-zero code to our valid CONNECT.
  - reaction: the ending departs from the case's expectation (CLOSE but the barrier was
    answered: the broker accepted bytes the spec makes it refuse; ALIVE but closed or no
    answer: it refused valid traffic); ANY never is; signature = oracle, class, expectation,
    ending.
  - memory: fuzz/memory.py (sampled by `Oracles.tick`).
  - divergence: the same cases against several brokers; a table of endings per (class,
    broker), and a finding per class where brokers ended the same case differently.
Confirming probes wait `confirm` seconds (default 5: a broker that is merely overloaded answers
late, a hung one not at all) and are rate-limited (one per `probe_interval` seconds; the last
answer stands in between).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fuzz.case import Ending, Expect, Finding, FuzzCase, Observation
from fuzz.engine import RunStats, probe
from fuzz.engine_wire import header
from fuzz.memory import MemoryWatch
from interop.brokers import RunningBroker

EXAMPLES = 5  # seeds kept per finding besides its first case


def class_of(case: FuzzCase) -> str:
    """The malformation class a case stands for ("valid" for valid traffic)."""
    return case.malformation or case.generator or "valid"


def _brief(case: FuzzCase) -> dict[str, Any]:
    return {"seed": case.seed, "level": case.level, "generator": case.generator,
            "malformation": case.malformation, "size": case.size}


class FindingLog:
    """Findings deduplicated by signature: the first kept whole, then a count and a few seeds."""

    def __init__(self) -> None:
        self.first: dict[str, Finding] = {}
        self.counts: Counter[str] = Counter()

    def add(self, finding: Finding | None) -> bool:
        """Record `finding`; True when its signature is new."""
        if finding is None:
            return False
        self.counts[finding.signature] += 1
        known = self.first.get(finding.signature)
        if known is None:
            finding.evidence.setdefault("examples", [])
            self.first[finding.signature] = finding
            return True
        examples = known.evidence.setdefault("examples", [])
        if finding.case is not None and len(examples) < EXAMPLES:
            examples.append(finding.case.seed)
        return False

    def findings(self, oracle: str | None = None) -> list[Finding]:
        out = []
        for signature, finding in self.first.items():
            if oracle is None or finding.oracle == oracle:
                finding.evidence["count"] = self.counts[signature]
                out.append(finding)
        return out

    def by_oracle(self) -> dict[str, list[Finding]]:
        grouped: dict[str, list[Finding]] = {}
        for finding in self.findings():
            grouped.setdefault(finding.oracle, []).append(finding)
        return grouped


# -- reaction ---------------------------------------------------------------------------------

DEPARTURES = {
    (Expect.CLOSE, Ending.BARRIER): "accepted bytes the spec requires it to refuse",
    (Expect.CLOSE, Ending.HANG): "neither refused nor answered bytes it must refuse",
    (Expect.ALIVE, Ending.CLOSED): "closed the connection on valid traffic",
    (Expect.ALIVE, Ending.HANG): "did not answer valid traffic",
}


def reaction(case: FuzzCase, obs: Observation, broker: str = "", version: str = ""
             ) -> Finding | None:
    """A finding when the ending departs from what the case expects (frames sent only)."""
    why = DEPARTURES.get((case.expect, obs.ending))
    if why is None:
        return None
    if obs.ending is Ending.HANG and not ends_on_a_packet_boundary(case):
        return None  # a packet declared longer than what was sent: waiting for it is allowed
    cls = class_of(case)
    return Finding(
        oracle="reaction", signature=f"reaction|{cls}|{case.expect.value}->{obs.ending.name}",
        case=case, broker=broker, broker_version=version,
        summary=f"{broker or 'the broker'} {why} ({cls}"
                + (f"; {', '.join(case.statements)}" if case.statements else "") + ")",
        evidence={"observation": obs.to_json(), "statements": list(case.statements)})


def ends_on_a_packet_boundary(case: FuzzCase) -> bool:
    """Whether the case's bytes are whole packets as their Remaining Lengths declare them (a
    Remaining Length over 4 bytes counts as whole: nothing more can make it valid)."""
    data, at = b"".join(case.frames), 0
    while at < len(data):
        found = header(data, at)
        if found is None:
            return False
        body, length = found
        if body < 0:
            return True
        at = body + length
    return at == len(data)


# -- crash, hang, refusal ---------------------------------------------------------------------

@dataclass
class Probe:
    """Rate-limited probes of a broker: a fresh CONNECT + PINGREQ."""

    host: str
    port: int
    timeout: float = 1.0
    interval: float = 1.0
    last: Observation | None = None
    at: float = -1e9
    count: int = 0

    def __call__(self) -> Observation:
        now = time.monotonic()
        if self.last is None or now - self.at >= self.interval:
            self.last, self.at = probe(self.host, self.port, timeout=self.timeout), now
            self.count += 1
        return self.last


def listener_gone(obs: Observation) -> bool:
    return obs.ending is Ending.REFUSED and "refused" in obs.detail.lower()


@dataclass
class Oracles:
    """Every oracle watching one broker during one run: pass `on_result` and `tick` to
    run_cases / run_parallel, then `finish(stats)`; findings are in `log`."""

    broker: RunningBroker
    timeout: float = 1.0
    confirm: float = 5.0  # seconds a confirming probe waits (an overloaded broker is slow)
    probe_interval: float = 1.0
    memory_interval: float = 0.5
    keep: bool = False  # keep every (case, observation) for the divergence table
    log: FindingLog = field(default_factory=FindingLog)
    seen: list[tuple[FuzzCase, Observation]] = field(default_factory=list)
    unconfirmed_hangs: int = 0
    local_refusals: int = 0
    stop_reason: str = ""

    def __post_init__(self) -> None:
        self.probe = Probe(self.broker.host, self.broker.port,
                           max(self.timeout, self.confirm), self.probe_interval)
        process = self.broker.process
        self.memory = (MemoryWatch(process.popen.pid, self.memory_interval)
                       if process is not None else None)
        self.version = self.broker.version

    def finding(self, oracle: str, signature: str, case: FuzzCase | None, summary: str,
                **evidence: Any) -> Finding:
        return Finding(oracle, signature, case, self.broker.name, self.version, summary,
                       evidence)

    def on_result(self, case: FuzzCase, obs: Observation) -> None:
        if self.keep:
            self.seen.append((case, obs))
        if obs.ending is not Ending.BARRIER and self.broker.death() is not None:
            self.stop_reason = self.stop_reason or "the broker died"
        if self.stop_reason:
            return  # what follows a crash or a hang is the crash's or the hang's
        if obs.ending is Ending.HANG:
            self._hang(case, obs)
        elif obs.ending is Ending.REFUSED:
            self._refused(case, obs)
        elif obs.ending is Ending.CONNACK_REFUSED:
            self.log.add(self.finding(
                "refusal", f"refusal|connack-{obs.received[3:4].hex() or '?'}|level-{case.level}",
                case, f"CONNACK refused a valid MQTT level-{case.level} CONNECT ({obs.detail}; "
                      "is the level supported?)", observation=obs.to_json()))
        if not self.stop_reason:
            self.log.add(reaction(case, obs, self.broker.name, self.version))

    def _hang(self, case: FuzzCase, obs: Observation) -> None:
        answer = self.probe()
        if answer.ending is Ending.BARRIER:
            self.unconfirmed_hangs += 1
            return
        self.stop_reason = "the broker stopped answering"
        self.log.add(self.finding(
            "hang", f"hang|{class_of(case)}", case,
            f"{self.broker.name} stopped answering: the case's barrier and a fresh probe "
            "went unanswered while its process runs", observation=obs.to_json(),
            probe=answer.to_json()))

    def _refused(self, case: FuzzCase, obs: Observation) -> None:
        if obs.detail.startswith("local:"):
            self.local_refusals += 1
            return
        answer = self.probe()
        if answer.ending is Ending.BARRIER:
            return
        if self.broker.process is None and listener_gone(answer):
            self.stop_reason = "the broker's listener is gone"  # the crash oracle's
            return
        kind = "tcp" if "connect" in obs.detail else "connack"
        self.log.add(self.finding(
            "refusal", f"refusal|{kind}", case,
            f"{self.broker.name} refused new connections while running ({obs.detail}; "
            f"probe: {answer.ending.value} {answer.detail})".rstrip(),
            observation=obs.to_json(), probe=answer.to_json()))

    def tick(self, finished: int) -> bool:
        """For the engine's `tick`: sample memory, notice death; True stops the run."""
        if self.memory is not None:
            self.memory.sample(finished)
        if self.broker.death() is not None and not self.stop_reason:
            self.stop_reason = "the broker died"
        return bool(self.stop_reason)

    def finish(self, stats: RunStats) -> list[Finding]:
        """After the run: crash attribution and the memory verdict; every finding so far."""
        self.log.add(self.crash(stats))
        if self.memory is not None and self.broker.death() is None:
            self.log.add(self.memory.finding(self.broker.name, self.version))
        return self.log.findings()

    def crash(self, stats: RunStats) -> Finding | None:
        status = self.broker.process.exit_status() if self.broker.process else None
        if status is None:
            if self.broker.process is not None:
                return None
            answer = probe(self.broker.host, self.broker.port, timeout=self.timeout)
            if not listener_gone(answer):
                return None
            status = "listener gone (in-process broker)"
        ranked, gone_at = suspects(stats)
        case = ranked[0][2] if ranked else None
        popen = self.broker.process.popen if self.broker.process else None
        before = [d for d in stats.recent if gone_at is None or d.started <= gone_at]
        return self.finding(
            "crash", f"crash|{status}", case,  # the suspects' order varies: not in it
            f"{self.broker.name} {status} during the run; {len(ranked)} cases were in flight",
            status=status, returncode=None if popen is None else popen.returncode,
            log_tail=self.broker.log_tail(20),
            suspects=[{"index": index, **_brief(c), "case": c.to_json()}
                      for _, index, c in ranked[:SUSPECTS]],
            window=[{"index": d.index, **_brief(d.case), "ending": d.ending.name}
                    for d in before[-WINDOW:]],
            note="heap corruption may show up cases after its cause: replay the window "
                 "(in order) as well as the suspects")


SUSPECTS = 32  # cases kept whole in a crash finding
WINDOW = 256  # cases listed (in the order they ended) up to the moment the broker went away
SLACK = 0.05  # seconds: a case that ended this long before the broker went away is a suspect


def suspects(stats: RunStats) -> tuple[list[tuple[float, int, FuzzCase]], float | None]:
    """(last write, index, case) of the cases in flight when the broker went away, the most
    recent writer first, and when that was: the end of the first connection refused (or
    closed before its CONNACK) after which no new connection was answered, else the end of
    the last case; the cases abandoned in flight when the run stopped are suspects too."""
    ring = sorted(stats.recent, key=lambda d: d.ended)
    at: float | None = None
    for done in ring:  # the first refusal after which no new connection was answered
        if at is not None and done.ending is Ending.BARRIER and done.started > at:
            at = None
        elif at is None and done.ending is Ending.REFUSED and (
                "refused" in done.detail or "before CONNACK" in done.detail):
            at = done.ended
    if at is None and ring:
        at = ring[-1].ended
    picked = [(f.sent_at, f.index, f.case) for f in stats.in_flight]
    if at is not None:
        picked += [(d.sent_at, d.index, d.case) for d in ring
                   if d.started <= at and d.ended >= at - SLACK
                   and d.ending is not Ending.REFUSED]
    picked.sort(key=lambda p: (p[0], p[1]), reverse=True)
    return picked, at


# -- divergence -------------------------------------------------------------------------------

RAN = (Ending.BARRIER, Ending.CLOSED, Ending.HANG)  # the case's frames reached the broker


@dataclass
class DivergenceTable:
    brokers: list[str]
    cells: dict[str, dict[str, Counter[Ending]]]  # class -> broker -> endings
    differing: Counter[str]  # class -> cases whose endings differ between brokers
    compared: Counter[str]  # class -> cases whose frames every broker got
    examples: dict[str, tuple[FuzzCase, dict[str, Observation]]]  # class -> first difference

    def render(self) -> str:
        """A plain-text table: per class, each broker's endings and the differing count."""
        lines = []
        for cls in sorted(self.cells):
            row = self.cells[cls]
            parts = [f"{b}: " + ", ".join(f"{e.name} {n}" for e, n in sorted(
                row.get(b, Counter()).items())) for b in self.brokers]
            lines.append(f"{cls}: {self.differing[cls]}/{self.compared[cls]} differ | "
                         + " | ".join(parts))
        return "\n".join(lines)


def divergence_table(runs: Mapping[str, Iterable[tuple[FuzzCase, Observation]]]
                     ) -> DivergenceTable:
    """Endings per (class, broker) and, for cases whose frames every broker got (not refused
    before them), where they differ."""
    brokers = list(runs)
    cells: dict[str, dict[str, Counter[Ending]]] = {}
    by_case: dict[FuzzCase, dict[str, Observation]] = {}
    for broker, pairs in runs.items():
        for case, obs in pairs:
            cells.setdefault(class_of(case), {}).setdefault(broker, Counter())[obs.ending] += 1
            by_case.setdefault(case, {})[broker] = obs
    differing: Counter[str] = Counter()
    compared: Counter[str] = Counter()
    examples: dict[str, tuple[FuzzCase, dict[str, Observation]]] = {}
    for case, seen in by_case.items():
        if len(seen) < len(brokers) or any(o.ending not in RAN for o in seen.values()):
            continue  # not run by every broker (a time bound, a refused connection)
        cls = class_of(case)
        compared[cls] += 1
        if len({obs.ending for obs in seen.values()}) > 1:
            differing[cls] += 1
            examples.setdefault(cls, (case, seen))
    return DivergenceTable(brokers, cells, differing, compared, examples)


def divergence_findings(table: DivergenceTable, versions: Mapping[str, str] | None = None
                        ) -> list[Finding]:
    """One finding per class where brokers ended the same case differently."""
    versions = versions or {}
    out = []
    for cls, count in sorted(table.differing.items()):
        case, seen = table.examples[cls]
        endings = ", ".join(f"{b} {seen[b].ending.name}" for b in table.brokers)
        out.append(Finding(
            oracle="divergence", signature=f"divergence|{cls}", case=case,
            broker=",".join(table.brokers),
            broker_version=",".join(versions.get(b, "") for b in table.brokers),
            summary=f"{cls}: brokers differ on {count} of {table.compared[cls]} cases "
                    f"(e.g. {endings})",
            evidence={"count": count, "compared": table.compared[cls],
                      "endings": {b: {e.name: n for e, n in table.cells[cls].get(
                          b, Counter()).items()} for b in table.brokers},
                      "example": {b: seen[b].to_json() for b in table.brokers}}))
    return out
