"""Proof that each case can fail: the suite against faulty variants of the reference broker.

Strategy: every fault (conformance/faults/) removes one behaviour; under it, the cases that
check the fault's statements (or whose IDs it names) are run against a reference broker with
the fault installed.  A case is shown able to fail when at least one fault turns it to FAIL
or NON-STRICT.  Faults run in worker processes (a monkeypatch is process-wide), each worker
taking faults one after another: install, start a broker on 127.0.0.1 and a port the OS picks,
run, stop, undo.  Waits are short (a faulty broker that stays silent costs `timeout`).

Run: `python -m conformance.canfail [--fault GLOB] [--jobs N] [--json FILE]`; it prints, per
fault, how many of its cases caught it, then the totals and the cases no fault made fail.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

from conformance.case import Case, Outcome
from conformance.discover import discover
from conformance.faults import Fault, Patcher, load_faults
from conformance.runner import load_cases, run_plan
from conformance.target import VERSION_OF_LEVEL, Target

CAUGHT = (Outcome.FAIL, Outcome.NON_STRICT)


@dataclass
class FaultRun:
    fault: str
    outcomes: dict[str, str] = field(default_factory=dict)  # "case-id[version]" -> outcome
    error: str = ""

    @property
    def caught(self) -> list[str]:
        return [k for k, v in self.outcomes.items() if v in CAUGHT]


def cases_for(f: Fault, cases: Sequence[Case]) -> list[tuple[Case, int]]:
    """The (case, level) runs expected to notice the fault."""
    work = []
    for c in cases:
        for level in c.levels:
            if level not in f.levels:
                continue
            ids = f.v5 if level == 5 else f.v3
            named = bool(f.cases) and c.id.startswith(f.cases)
            if named or set(c.statements_for(level)) & set(ids):
                work.append((c, level))
    return work


def run_fault(fault_id: str, timeout: float = 0.5, threads: int = 16) -> FaultRun:
    """Install one fault in this process, run its cases against a faulty broker, undo."""
    from conformance.embedded import aimed_at, start_reference

    f = load_faults()[fault_id]
    work = cases_for(f, list(load_cases().values()))
    run = FaultRun(fault_id)
    patcher = Patcher()
    f.install(patcher)
    broker = None
    try:
        broker = start_reference(**f.config)
        target = discover(aimed_at(broker, Target(timeout=timeout, **f.target))).target
        for r in run_plan(target, work, jobs=threads):
            run.outcomes[f"{r.case_id}[{r.version}]"] = r.outcome.value
    except Exception as exc:  # noqa: BLE001 - a fault that breaks the run is reported
        run.error = f"{type(exc).__name__}: {exc}"
    finally:
        if broker is not None:
            broker.stop()
        patcher.undo()
    return run


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.canfail",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--fault", action="append", default=[], metavar="GLOB",
                        help="only these faults (shell-style pattern; repeatable)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2,
                        help="worker processes")
    parser.add_argument("--timeout", type=float, default=0.5,
                        help="seconds a case waits for the faulty broker")
    parser.add_argument("--json", metavar="FILE", help="write the proof as JSON")
    parser.add_argument("--list-uncaught", action="store_true",
                        help="list every case no fault made fail")
    args = parser.parse_args(argv)
    faults = load_faults()
    chosen = [f for f in faults if not args.fault
              or any(fnmatch.fnmatchcase(f, p) for p in args.fault)]
    if not chosen:
        print(f"canfail: no fault matches {args.fault}", file=sys.stderr)
        return 2
    started = time.monotonic()
    runs: list[FaultRun] = []
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, args.jobs), mp_context=context) as pool:
        futures = [pool.submit(run_fault, f, args.timeout) for f in chosen]
        for future in as_completed(futures):
            run = future.result()
            runs.append(run)
            total = len(run.outcomes)
            mark = "ok " if run.caught and not run.error else "!! "
            print(f"{mark}{run.fault:48} caught by {len(run.caught):4}/{total:<4} cases"
                  + (f"  ERROR {run.error}" if run.error else ""), flush=True)
    return report(runs, load_cases().values(), time.monotonic() - started, args)


def report(runs: list[FaultRun], cases: object, seconds: float,
           args: argparse.Namespace) -> int:
    from conformance.runner import plan

    every = {f"{c.id}[{VERSION_OF_LEVEL[lv]}]" for c, lv in plan(cases, (3, 4, 5))}  # type: ignore[arg-type]
    caught = {k for r in runs for k in r.caught}
    useless = sorted(r.fault for r in runs if not r.caught)
    uncaught = sorted(every - caught)
    print(f"\n{len(caught)}/{len(every)} cases (case x version) shown able to fail "
          f"({100 * len(caught) / max(1, len(every)):.1f}%) by {len(runs)} faults "
          f"in {seconds:.0f} s")
    if useless:
        print(f"faults no case caught ({len(useless)}): {', '.join(useless)}")
    if uncaught and args.list_uncaught:
        print("cases no fault made fail:\n  " + "\n  ".join(uncaught))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"faults": {r.fault: {"outcomes": r.outcomes, "error": r.error}
                                  for r in runs},
                       "cases": len(every), "caught": sorted(caught),
                       "uncaught": uncaught}, out, indent=1)
    return 0 if not useless and not any(r.error for r in runs) else 1




if __name__ == "__main__":
    sys.exit(main())



