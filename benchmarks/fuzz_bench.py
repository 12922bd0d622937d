"""The fuzzer's network engine against real brokers: cases/s, the outcome mix, the oracles.

Strategy: each broker is started through its interop profile (Mosquitto, the reference broker
in-process or, as "reference-process", as its own child process with memory figures of its
own, amqtt, aedes, RSMB) in a work directory directly under /tmp with mode 0o755
(Mosquitto drops privileges to read its files), and always stopped.  The cases are made once
per broker, before the clock starts (the generators' own speed is printed apart): the
generators' stream (fuzz.generators.generate) restricted to the protocol levels the broker
speaks, or `--cases-from standin` (valid PINGREQs and three malformed packets).  For each
configuration WORKERSxCONCURRENCY a fresh broker gets the same cases (bounded by --cases and
--seconds) with every oracle watching; printed: cases/s, the broker's CPU share, the endings,
the findings per oracle, and with --memory the memory oracle's figures (slopes, growth, noise)
that fuzz/memory.py's thresholds were chosen from.  --divergence runs one list of MQTT 3.1.1
cases on every broker and prints the table of endings per class.  A broker that is not
available is one line, and the run goes on.

    python benchmarks/fuzz_bench.py [--brokers mosquitto,reference] [--cases 20000]
        [--seconds 10] [--configs 1x256,1x512,2x256] [--memory] [--divergence] [--reuse]

Figures on a 2-core machine (cases/s; workers x concurrency): Mosquitto 2.0.11, generated
cases 6,800 (1x256, barrier 1 s; 9,500 with --timeout 0.25, the same endings: ~2 % of the cases
are HANGs that cost the barrier's bound each), stand-in cases 12,000-12,600 (1x128, 1x256);
the reference broker ~4,000-4,500 in-process, ~6,400 as its own process (stand-in).  One worker
beats two here: Mosquitto, the worker and the parent share two cores.  --reuse opens 25 % fewer
connections for the same rate.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

try:
    import fuzz.engine  # noqa: F401
except ImportError:  # a checkout that is not installed: run from its root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fuzz.case import Ending, Expect, FuzzCase, Observation
from fuzz.engine_parallel import run_parallel
from fuzz.oracles import Oracles, divergence_findings, divergence_table
from interop.brokers import (
    BrokerFailed,
    BrokerUnavailable,
    RunningBroker,
)
from interop.profiles import profile_for
from mqttspec import RawPacket

DEFAULT_BROKERS = ("mosquitto", "reference", "amqtt", "aedes", "rsmb")
LEVELS = {"amqtt": (4,), "aedes": (3, 4), "rsmb": (3, 4)}  # what each speaks; others 3, 4, 5


def standin(count: int, levels: tuple[int, ...]) -> list[FuzzCase]:
    """Valid PINGREQs and three malformed packets a conforming broker refuses."""
    bad = [("reserved-flags", b"\xc1\x00"), ("empty-subscribe", RawPacket(8, 2).u16(1).build()),
           ("second-connect", b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00")]
    out = []
    for i in range(count):
        level = levels[i % len(levels)]
        if i % 4 == 0:
            out.append(FuzzCase(i, level, (b"\xc0\x00",), generator="valid",
                                expect=Expect.ALIVE))
        else:
            name, frame = bad[i % 4 - 1]
            out.append(FuzzCase(i, level, (frame,), generator=f"malformed:{name}",
                                malformation=name, expect=Expect.CLOSE))
    return out


def make_cases(source: str, count: int, levels: tuple[int, ...], seed: int) -> list[FuzzCase]:
    if source == "standin":
        return standin(count, levels)
    from fuzz.generators import generate

    t0 = time.perf_counter()
    cases = [case for case, _ in zip(generate(seed, levels=levels), range(count), strict=False)]
    took = time.perf_counter() - t0
    print(f"  generated {len(cases)} cases (levels {levels}) in {took:.1f} s "
          f"({len(cases) / took:,.0f} cases/s, outside the timings)")
    return cases


@contextlib.contextmanager
def started(name: str) -> Iterator[RunningBroker]:
    workdir = Path(tempfile.mkdtemp(prefix=f"fuzzbench-{name}-", dir="/tmp"))
    workdir.chmod(0o755)
    broker: RunningBroker | None = None
    try:
        broker = profile_for(name).start(workdir)
        yield broker
    finally:
        if broker is not None:
            broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def run_one(broker: RunningBroker, cases: list[FuzzCase], workers: int, concurrency: int,
            args: argparse.Namespace) -> Oracles:
    oracles = Oracles(broker, timeout=args.timeout, memory_interval=0.25, keep=True)
    pid = broker.process.popen.pid if broker.process else os.getpid()
    cpu0 = cpu_seconds(pid)
    stats = run_parallel(broker.host, broker.port, cases, workers=workers,
                         concurrency=concurrency, timeout=args.timeout, seconds=args.seconds,
                         reuse=args.reuse, on_result=oracles.on_result, tick=oracles.tick)
    findings = oracles.finish(stats)
    cpu = (cpu_seconds(pid) - cpu0) / stats.elapsed * 100 if stats.elapsed else 0.0
    whose = "broker" if broker.process else "this process (in-process broker)"
    endings = ", ".join(f"{e.name} {n}" for e, n in stats.endings.most_common())
    print(f"  {workers} worker(s) x {concurrency}: {stats.finished} cases in "
          f"{stats.elapsed:.2f} s = {stats.rate:,.0f} cases/s, {stats.connections} connections"
          f" | CPU {whose} {cpu:.0f}% | {endings}"
          + (f" | stopped: {stats.stopped}" if stats.stopped else ""))
    per_oracle = Counter(f.oracle for f in findings)
    seen = Counter[str]()
    for f in findings:
        seen[f.oracle] += int(f.evidence.get("count", 1))
    print("    findings: " + (", ".join(f"{o} {n} ({seen[o]} observations)"
                                        for o, n in per_oracle.most_common()) or "none")
          + f"; HANGs the probe contradicted: {oracles.unconfirmed_hangs}")
    for f in findings:
        if f.oracle in ("crash", "hang", "refusal", "memory"):
            print(f"    {f.oracle}: {f.summary} [{f.signature}]")
    if args.memory and oracles.memory is not None and oracles.memory.samples:
        v = oracles.memory.verdict()
        curve = oracles.memory.samples
        print(f"    memory: {len(curve)} samples, RSS {curve[0].rss >> 10} -> "
              f"{curve[-1].rss >> 10} KiB; {v.per_case:.1f} B/case ({v.per_second:,.0f} B/s), "
              f"second half {v.late_per_case:.1f} B/case, growth {v.growth >> 10} KiB, noise "
              f"{v.noise >> 10} KiB -> {'LEAK' if v.leak else 'no leak'} ({v.reason})")
    return oracles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--brokers", default=",".join(DEFAULT_BROKERS))
    parser.add_argument("--cases", type=int, default=20_000, help="cases per run")
    parser.add_argument("--seconds", type=float, default=10.0, help="time bound per run")
    parser.add_argument("--configs", default="1x256,1x512,2x256",
                        help="WORKERSxCONCURRENCY, comma-separated")
    parser.add_argument("--timeout", type=float, default=1.0, help="barrier bound (s)")
    parser.add_argument("--cases-from", choices=("generators", "standin"), default="generators")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reuse", action="store_true", help="reuse connections of valid cases")
    parser.add_argument("--memory", action="store_true", help="print the memory oracle's figures")
    parser.add_argument("--divergence", action="store_true",
                        help="one list of MQTT 3.1.1 cases on every broker, endings compared")
    args = parser.parse_args(argv)
    try:
        configs = [tuple(int(n) for n in c.split("x")) for c in args.configs.split(",")]
        if any(len(c) != 2 or min(c) < 1 for c in configs):
            raise ValueError
    except ValueError:
        print(f"error: --configs wants WORKERSxCONCURRENCY, e.g. 1x256, not {args.configs!r}",
              file=sys.stderr)
        return 2
    print(f"fuzz engine benchmark: {os.cpu_count()} CPUs, {args.cases} cases or "
          f"{args.seconds:g} s per run, barrier timeout {args.timeout:g} s, cases from "
          f"{args.cases_from}" + (", connection reuse" if args.reuse else ""))
    runs: dict[str, list[tuple[FuzzCase, Observation]]] = {}
    versions: dict[str, str] = {}
    common = (make_cases(args.cases_from, args.cases, (4,), args.seed)
              if args.divergence else [])
    for name in [b.strip() for b in args.brokers.split(",") if b.strip()]:
        try:
            levels = LEVELS.get(name, (3, 4, 5))
            cases: list[FuzzCase] = []
            for workers, concurrency in configs:  # a fresh broker for each run
                with started(name) as broker:
                    if not cases:
                        print(f"{name}: {broker.version}")
                        cases = make_cases(args.cases_from, args.cases, levels, args.seed)
                    run_one(broker, cases, workers, concurrency, args)
            if args.divergence:
                workers, concurrency = configs[0]
                with started(name) as broker:
                    print(f"  divergence list (MQTT 3.1.1), {workers} worker(s) x {concurrency}:")
                    oracles = run_one(broker, common, workers, concurrency, args)
                    runs[name], versions[name] = oracles.seen, broker.version
        except (BrokerUnavailable, BrokerFailed) as exc:
            print(f"{name}: skipped: {exc}")
    if args.divergence and len(runs) >= 2:
        table = divergence_table(runs)
        print("divergence (MQTT 3.1.1 cases, endings per class and broker):")
        print(table.render())
        for f in divergence_findings(table, versions):
            print(f"  {f.summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["Ending", "main"]
