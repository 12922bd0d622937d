"""A fuzzing campaign: generated cases against one or more brokers, findings written as files.

Strategy: for each broker, through its interop profile: start it on 127.0.0.1, probe which
protocol levels it accepts (a CONNECT per level), then run the same seeded stream of cases
(fuzz.generators) through the network engine (fuzz.engine_parallel) with every oracle watching
(fuzz.oracles: crash, hang, refusal, reaction, memory), bounded by a count and/or a duration.
While the broker still runs, each reaction finding is minimised (ddmin, re-running the case
alone and asking the same oracle).  Then the broker is stopped, whatever happened.  With
several brokers the same cases are compared (the divergence oracle).  Every finding lands in
a `FindingStore` (one file per signature, replayable), and a Markdown summary is written.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fuzz.case import Ending, Finding, FuzzCase, Observation
from fuzz.engine import RunStats, probe, run_one
from fuzz.engine_parallel import run_parallel
from fuzz.findings import FindingStore, minimise
from fuzz.generators import generate, judge, make_case
from fuzz.oracles import Oracles, divergence_findings, divergence_table, reaction
from interop.brokers import BrokerFailed, BrokerUnavailable, Profile, RunningBroker

Progress = Callable[[str, RunStats | None, dict[str, int]], None]


@dataclass
class Settings:
    seed: int = 1
    count: int | None = None  # cases per broker (None: until `seconds`)
    seconds: float | None = 60.0
    levels: tuple[int, ...] = (3, 4, 5)
    workers: int = 1  # engine processes (each regenerates the stream and takes its share)
    concurrency: int = 128  # connections in flight per process
    timeout: float = 1.0  # seconds for CONNACK and the barrier
    minimise_runs: int = 60  # predicate runs per minimised finding
    minimise_seconds: float = 30.0  # for all the findings of one broker
    memory: bool = True


@dataclass
class BrokerCampaign:
    name: str
    version: str = ""
    status: str = "ran"  # "ran", "not available", "failed to start"
    reason: str = ""
    levels: tuple[int, ...] = ()
    cases: int = 0
    seconds: float = 0.0
    endings: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    seen: list[tuple[FuzzCase, Observation]] = field(default_factory=list)
    memory: dict[str, Any] | None = None  # MemoryWatch.record() for a process we started

    @property
    def rate(self) -> float:
        return self.cases / self.seconds if self.seconds else 0.0


def accepted_levels(broker: RunningBroker, levels: Sequence[int], timeout: float
                    ) -> tuple[int, ...]:
    """The protocol levels whose plain CONNECT the broker accepts."""
    return tuple(lv for lv in levels
                 if probe(broker.host, broker.port, level=lv, timeout=timeout).ending
                 is Ending.BARRIER)


def fuzz_broker(profile: Profile, workdir: Path, settings: Settings, *, keep: bool = False,
                progress: Progress | None = None) -> BrokerCampaign:
    """The campaign against one broker, from its start to its stop."""
    result = BrokerCampaign(profile.name)
    if why := profile.available():
        result.status, result.reason = "not available", why
        return result
    try:
        broker = profile.start(workdir)
    except BrokerUnavailable as exc:
        result.status, result.reason = "not available", str(exc)
        return result
    except BrokerFailed as exc:
        result.status, result.reason = "failed to start", str(exc)
        return result
    try:
        result.version = broker.version
        result.levels = accepted_levels(broker, settings.levels, settings.timeout)
        if not result.levels:
            result.status, result.reason = "failed to start", "no protocol level accepted"
            return result
        oracles = Oracles(broker, timeout=settings.timeout, keep=keep)
        if not settings.memory:
            oracles.memory = None
        by_oracle: Counter[str] = Counter()

        def on_result(case: FuzzCase, obs: Observation) -> None:
            oracles.on_result(case, obs)

        def tick(finished: int) -> bool:
            stop = oracles.tick(finished)
            if progress is not None:
                by_oracle.clear()
                by_oracle.update({o: len(fs) for o, fs in oracles.log.by_oracle().items()})
                progress(broker.name, None, dict(by_oracle) | {"cases": finished})
            return stop

        started = time.monotonic()
        stats = run_parallel(broker.host, broker.port, generate(settings.seed,
                             levels=result.levels), workers=settings.workers,
                             limit=settings.count, seconds=settings.seconds,
                             on_result=on_result, tick=tick, concurrency=settings.concurrency,
                             timeout=settings.timeout)
        result.seconds = time.monotonic() - started
        result.cases = stats.finished
        result.endings = {e.name: n for e, n in stats.endings.items()}
        findings = oracles.finish(stats)
        if oracles.memory is not None:
            result.memory = oracles.memory.record()
        if broker.death() is None:
            deadline = time.monotonic() + settings.minimise_seconds
            findings = [minimised(f, broker, settings, deadline) for f in findings]
        result.findings, result.seen = findings, oracles.seen
        if progress is not None:
            progress(broker.name, stats, {f.oracle: 1 for f in findings})
        return result
    finally:
        broker.stop()


def replay_case(broker: RunningBroker, case: FuzzCase, timeout: float = 1.0) -> Observation:
    """`case` alone against a running broker."""
    return run_one(broker.host, broker.port, case, timeout=timeout)


def minimised(finding: Finding, broker: RunningBroker, settings: Settings,
              deadline: float) -> Finding:
    """A reaction finding with its case minimised, as far as `deadline` allows (other findings
    as they are)."""
    if finding.oracle != "reaction" or finding.case is None or settings.minimise_runs <= 0:
        return finding

    def still_fails(case: FuzzCase) -> bool:
        if time.monotonic() > deadline:
            return False  # out of time: no further reduction
        if judge(case.level, case.frames, connect=case.connect).expect is not case.expect:
            return False  # a reduction the spec judges differently is another finding
        found = reaction(case, replay_case(broker, case, settings.timeout))
        return found is not None and found.signature == finding.signature

    small = minimise(finding.case, still_fails, settings.minimise_runs)
    if small != finding.case:
        finding.evidence["original_case"] = finding.case.to_json()
        finding.case = small
    finding.evidence["minimised"] = True
    return finding


def crashes(profile: Profile, cases: Sequence[FuzzCase], timeout: float = 1.0) -> bool:
    """Whether `cases`, sent in order to a fresh broker, make it die."""
    with tempfile.TemporaryDirectory(prefix="mqttlab-crash-") as tmp:
        Path(tmp).chmod(0o755)
        broker = profile.start(Path(tmp))
        try:
            for case in cases:
                replay_case(broker, case, timeout)
                if broker.death() is not None:
                    return True
            time.sleep(0.2)  # a crash a moment after the last case still counts
            return broker.death() is not None
        finally:
            broker.stop()


def minimised_crash(finding: Finding, profile: Profile, max_runs: int = 60,
                    seconds: float = 60.0) -> Finding:
    """A crash finding reduced, by restarting the broker for each try, to the fewest of its
    suspect cases (in order) that still kill it, then to the fewest bytes of each."""
    from fuzz.findings import ddmin

    suspects = [FuzzCase.from_json(s["case"]) for s in
                reversed(finding.evidence.get("suspects", []))]
    # the cases that ended before it went away, re-made from their seeds (heap corruption
    # may kill a broker cases after its cause)
    window = [make_case(w["seed"], w["level"], w["generator"])
              for w in finding.evidence.get("window", []) if w.get("generator")]
    deadline = time.monotonic() + seconds
    budget = [max_runs]

    def kills(cases: list[FuzzCase]) -> bool:
        return time.monotonic() < deadline and crashes(profile, cases)

    candidates = next((c for c in (suspects, window + suspects) if c and kills(c)), None)
    if candidates is None:
        finding.evidence["minimised"] = False
        return finding
    kept = ddmin(candidates, kills, budget)
    if len(kept) == 1:
        kept = [minimise(kept[0], lambda c: kills([c]), budget[0])]
    finding.case = kept[-1]
    finding.evidence["reproducer"] = [c.to_json() for c in kept]
    finding.evidence["minimised"] = True
    return finding


def run_campaign(profiles: Sequence[Profile], settings: Settings, findings_dir: Path,
                 progress: Progress | None = None) -> tuple[list[BrokerCampaign], list[Finding]]:
    """Every broker in turn, the divergence between them, every finding in `findings_dir`."""
    keep = len(profiles) > 1
    runs: list[BrokerCampaign] = []
    for profile in profiles:
        with tempfile.TemporaryDirectory(prefix="mqttlab-fuzz-") as tmp:
            Path(tmp).chmod(0o755)  # brokers that drop privileges read their config here
            run = fuzz_broker(profile, Path(tmp), settings, keep=keep, progress=progress)
        run.findings = [minimised_crash(f, profile) if f.oracle == "crash" and
                        settings.minimise_runs > 0 else f for f in run.findings]
        runs.append(run)
    divergent: list[Finding] = []
    ran = [r for r in runs if r.status == "ran" and r.seen]
    if len(ran) > 1:
        table = divergence_table({r.name: r.seen for r in ran})
        divergent = divergence_findings(table, {r.name: r.version for r in ran})
    store = FindingStore(findings_dir)
    for run in runs:
        for finding in run.findings:
            store.add(finding, minimised=bool(finding.evidence.get("minimised")))
    for finding in divergent:
        store.add(finding)
    return runs, divergent


def summary_markdown(runs: Sequence[BrokerCampaign], divergent: Sequence[Finding],
                     settings: Settings, findings_dir: Path) -> str:
    lines = ["# Fuzzing summary", "",
             f"Seed {settings.seed}, levels {', '.join(map(str, settings.levels))}, "
             f"{settings.workers} engine processes x {settings.concurrency} connections, "
             f"made {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
             "| broker | version | status | levels | cases | cases/s | endings | findings |",
             "|---|---|---|---|--:|--:|---|---|"]
    for r in runs:
        endings = ", ".join(f"{k} {v}" for k, v in sorted(r.endings.items()))
        by = Counter(f.oracle for f in r.findings)
        found = ", ".join(f"{k} {v}" for k, v in sorted(by.items())) or "none"
        lines.append(f"| {r.name} | {r.version} | {r.status} {r.reason} | "
                     f"{', '.join(map(str, r.levels))} | {r.cases} | {r.rate:.0f} | {endings} "
                     f"| {found} |")
    for r in runs:
        if r.memory is not None:
            m = r.memory
            if not m["decided"]:
                lines.append(f"- **{r.name}** memory: no verdict ({m['reason']})")
                continue
            lines.append(f"- **{r.name}** memory: {'LEAK' if m['leak'] else 'no leak'} "
                         f"({m['reason']}; RSS {m['rss_first'] / 2**20:.1f} -> "
                         f"{m['rss_last'] / 2**20:.1f} MiB over {m['samples']} samples)")
    for r in runs:
        for f in r.findings:
            count = f.evidence.get("count", 1)
            lines.append(f"- **{r.name}** `{f.oracle}` ({count}x): {f.summary}")
    for f in divergent:
        lines.append(f"- divergence: {f.summary}")
    lines += ["", f"Finding files: `{findings_dir}` (replay one with "
              "`mqttlab fuzz replay FILE`)."]
    return "\n".join(lines) + "\n"


def summary_json(runs: Sequence[BrokerCampaign], settings: Settings) -> str:
    return json.dumps({"seed": settings.seed, "runs": [
        {"broker": r.name, "version": r.version, "status": r.status, "reason": r.reason,
         "levels": list(r.levels), "cases": r.cases, "seconds": round(r.seconds, 2),
         "cases_per_second": round(r.rate, 1), "endings": r.endings,
         "memory": r.memory, "findings": [f.to_json() for f in r.findings]}
        for r in runs]}, indent=1,
        default=str)
