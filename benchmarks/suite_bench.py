"""How fast the conformance suite runs against the embedded reference broker.

Strategy: start the reference broker in-process (127.0.0.1, a port the OS picks), probe it,
run every (case, version) of the suite on a thread pool of each requested size, and print the
wall time, the cases/s and the outcome counts per run; the target is the whole suite in
<= 60 s on a 2-core machine.  Also timed: the proof that each case can fail, when asked
(`--canfail`), since it runs the suite again under every fault.  A script, not a test: figures
are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import Counter

from conformance.discover import discover
from conformance.embedded import aimed_at, start_reference
from conformance.runner import load_cases, plan, run_plan
from conformance.target import Target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", default="8,16,32", help="thread-pool sizes to try")
    parser.add_argument("--canfail", action="store_true", help="also time the can-fail proof")
    args = parser.parse_args()
    cases = load_cases()
    work = plan(cases.values(), (3, 4, 5))
    print(f"{len(cases)} cases, {len(work)} runs (case x version); {os.cpu_count()} CPUs; "
          f"Python {sys.version.split()[0]}")
    print(f"{'jobs':>5} {'seconds':>8} {'cases/s':>8}  outcomes")
    for jobs in (int(j) for j in args.jobs.split(",")):
        broker = start_reference()
        try:
            target = discover(aimed_at(broker, Target())).target
            started = time.monotonic()
            results = run_plan(target, work, jobs=jobs)
            seconds = time.monotonic() - started
        finally:
            broker.stop()
        counts = Counter(r.outcome.value for r in results)
        shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        print(f"{jobs:5} {seconds:8.1f} {len(work) / seconds:8.0f}  {shown}", flush=True)
    if args.canfail:
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "conformance.canfail"], check=False)
        print(f"can-fail proof: {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
