"""The interop matrix: the conformance suite over every chosen broker, one results file each.

Strategy: for each broker, through its profile: start it on 127.0.0.1 (in a work directory of
its own), probe which MQTT versions it accepts, run every (case, version) on a thread pool,
hand the running broker to the `while_running` steps (client interop, the gate's re-runs),
stop it, and write `<out>/<broker>.json` in the one results schema (conformance/runner.py).
Brokers run one after another, or `parallel` at a time.  A broker that cannot run here, does
not come up, or dies mid-run is a status in its results file, never a crash of the matrix: when
the broker process is found dead after a case, that case and every later one are ERROR with the
reason and the broker's last log lines, without waiting on a closed port.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from conformance.case import Case, Outcome, Result, run_case
from conformance.discover import discover
from conformance.runner import broker_record, load_cases, plan, results_document, run_plan
from conformance.target import VERSION_OF_LEVEL, Target, TargetError
from conformance.wirelog import WireLog
from interop.brokers import BrokerFailed, BrokerUnavailable, Profile, RunningBroker

WhileRunning = Callable[[RunningBroker, Target, list[Result]], None]


@dataclass
class BrokerRun:
    """One broker's part of the matrix: its results document and where it was written."""

    name: str
    document: dict[str, Any]
    path: Path | None = None
    results: list[Result] = field(default_factory=list)

    @property
    def status(self) -> str:
        status: str = self.document["run"]["broker"]["status"]
        return status

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for r in self.document["results"]:
            found[r["outcome"]] = found.get(r["outcome"], 0) + 1
        return found


class DeathWatch:
    """Wraps the case runner: once the broker process is gone, cases are ERROR at once."""

    def __init__(self, broker: RunningBroker) -> None:
        self.broker = broker
        self.reason: str | None = None
        self.during: list[str] = []  # the cases that were running when it was found dead
        self._lock = threading.Lock()

    def run(self, c: Case, target: Target, level: int) -> Result:
        if level not in target.levels:  # NOT APPLICABLE, without touching the network
            return run_case(c, target, level)
        if self.reason is None:
            result = run_case(c, target, level)
            reason = self.broker.death()
            if reason is None:
                return result
            with self._lock:
                if self.reason is None:
                    self.reason = reason
                self.during.append(f"{c.id} [MQTT {result.version}]")
            return replace(result, outcome=Outcome.ERROR,
                           observed=f"{self.reason} (found after this case; it had "
                                    f"observed: {result.observed or result.outcome.value})")
        return Result(c.id, c.title, VERSION_OF_LEVEL[level],
                      c.statements_for(level), c.level, Outcome.ERROR, "",
                      f"not run: {self.reason}", WireLog(), 0.0)


def run_broker(profile: Profile, workdir: Path, *, levels: Sequence[int] = (3, 4, 5),
               patterns: Sequence[str] = (), jobs: int = 16, base: Target | None = None,
               while_running: Iterable[WhileRunning] = (),
               on_result: Callable[[Result], None] | None = None) -> BrokerRun:
    """The suite against one broker, from its start to its stop."""
    started = time.time()
    why = profile.available()
    if why is not None:
        return _without_results(profile, started, "not available", why)
    try:
        broker = profile.start(workdir)
    except BrokerUnavailable as exc:
        return _without_results(profile, started, "not available", str(exc))
    except BrokerFailed as exc:
        return _without_results(profile, started, "failed to start", str(exc))
    try:
        try:
            found = discover(broker.target(base, levels))
        except TargetError as exc:
            return _without_results(profile, started, "failed to start", str(exc),
                                    broker.log_tail())
        target = found.target
        watch = DeathWatch(broker)
        work = plan(load_cases().values(), levels, patterns)
        results = run_plan(target, work, jobs=jobs, on_result=on_result, runner=watch.run)
        if watch.reason is None:
            for step in while_running:
                step(broker, target, results)
        status = "ran" if watch.reason is None else "died"
        reason = "" if watch.reason is None else (
            f"{watch.reason}; found dead after {', '.join(sorted(watch.during))}")
        record = broker_record(profile.name, broker.version, status, reason,
                               broker.log_tail() if watch.reason else (), found.refused)
        return BrokerRun(profile.name, results_document(target, results, started, record),
                         results=results)
    finally:
        broker.stop()


def _without_results(profile: Profile, started: float, status: str, reason: str,
                     log_tail: Sequence[str] = ()) -> BrokerRun:
    version = profile.version() if status != "not available" else ""
    record = broker_record(profile.name, version, status, reason, log_tail)
    return BrokerRun(profile.name, results_document(None, [], started, record))


class Progress(Protocol):
    def add(self, result: Result) -> None: ...

    def done(self) -> None: ...


def run_matrix(profiles: Sequence[Profile], out: Path, *, parallel: int = 1,
               progress: Callable[[str], Progress | None] = lambda name: None,
               on_done: Callable[[BrokerRun], None] = lambda run: None,
               **options: Any) -> list[BrokerRun]:
    """`run_broker` for each profile (`parallel` at a time), each written to out/<name>.json;
    `progress(name)` follows one broker's cases, `on_done` hears of each finished broker."""
    out.mkdir(parents=True, exist_ok=True)

    def one(profile: Profile) -> BrokerRun:
        follow = progress(profile.name)
        with tempfile.TemporaryDirectory(prefix=f"mqttlab-{_safe(profile.name)}-") as tmp:
            run = run_broker(profile, Path(tmp), on_result=None if follow is None else follow.add,
                             **options)
        if follow is not None and run.results:
            follow.done()
        run.path = out / f"{_safe(profile.name)}.json"
        run.path.write_text(json.dumps(run.document, indent=1), encoding="utf-8")
        on_done(run)
        return run

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        return list(pool.map(one, profiles))


def _safe(name: str) -> str:
    """A file name for a broker name ("127.0.0.1:1883" -> "127.0.0.1_1883")."""
    return "".join(ch if ch.isalnum() or ch in ".-" else "_" for ch in name)
