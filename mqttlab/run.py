"""`mqttlab run`: the conformance suite against a broker (default: the embedded reference one).

Strategy: build the target from options or a profile, start the embedded reference broker on
127.0.0.1 and a port the OS picks when no --broker is given, probe what the broker accepts,
then run every (case, version) on a thread pool with a live progress line.  At the end: the
outcomes per version and spec chapter, the suite's coverage of the catalogue, and the results
as JSON (and JUnit XML on request).  Exit 0 when nothing FAILed or ERRORed, 1 otherwise, 2 for
a user mistake (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

from conformance.case import Outcome, Result
from conformance.coverage import coverage_lines
from conformance.discover import discover
from conformance.junit import junit_xml
from conformance.runner import (
    broker_record,
    load_cases,
    plan,
    results_document,
    run_plan,
    summarise,
)
from conformance.target import VERSION_OF_LEVEL, Target, TargetError, target_from_options

DEFAULT_RESULTS = "results/conformance.json"


def add_parser(sub: Any) -> None:
    run = sub.add_parser("run", help="run the conformance suite (default: against the "
                         "embedded reference broker)")
    run.add_argument("--broker", metavar="HOST:PORT",
                     help="broker to test (loopback only; default: the embedded reference "
                          "broker)")
    run.add_argument("--profile", metavar="FILE", help="JSON target profile (versions, "
                     "capabilities, TLS, credentials)")
    run.add_argument("--versions", metavar="LIST", help="e.g. 3.1.1,5.0 (default: 3.1, "
                     "3.1.1 and 5.0, as far as the broker accepts them)")
    run.add_argument("--tls", action="store_true", help="connect with TLS")
    run.add_argument("--cafile", help="CA certificates for --tls")
    run.add_argument("--denied-topic", metavar="TOPIC",
                     help="a topic the broker does not let the suite publish to (its ACL), "
                          "for the authorisation cases")
    run.add_argument("--username")
    run.add_argument("--password")
    run.add_argument("--websocket-port", type=int, metavar="PORT",
                     help="the broker's MQTT over WebSocket listener (same host; without "
                          "it the WebSocket cases are NOT APPLICABLE)")
    run.add_argument("--websocket-path", metavar="PATH",
                     help="HTTP path of the WebSocket handshake (default /mqtt)")
    run.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                     help="bound on each wait for the broker (default 2)")
    run.add_argument("--cases", action="append", default=[], metavar="GLOB",
                     help="only cases whose ID matches (repeatable), e.g. 'publish.*'")
    run.add_argument("--jobs", type=int, default=16, help="cases run at once (default 16)")
    run.add_argument("--results", default=DEFAULT_RESULTS, metavar="FILE",
                     help=f"JSON results with wire logs (default {DEFAULT_RESULTS})")
    run.add_argument("--junit", metavar="FILE", help="also write JUnit XML")
    run.add_argument("--coverage", action="store_true",
                     help="print coverage per chapter too")
    run.add_argument("--quiet", action="store_true", help="no progress line")
    run.set_defaults(run=main)


def build_target(args: argparse.Namespace) -> Target:
    fields = {name: getattr(args, name) for name in (
        "cafile", "username", "password", "timeout", "denied_topic", "websocket_port",
        "websocket_path")}
    return target_from_options(profile=args.profile, broker=args.broker,
                               versions=args.versions, tls=args.tls, **fields)


def main(args: argparse.Namespace) -> int:
    try:
        target = build_target(args)
    except TargetError as exc:
        print(f"mqttlab run: {exc}", file=sys.stderr)
        return 2
    if args.broker:
        return run_against(target, args, "broker " + args.broker,
                           broker_record(args.broker, "version not known"))
    import reference_broker
    from conformance.embedded import aimed_at, start_reference

    broker = start_reference()
    try:
        return run_against(aimed_at(broker, target), args, "embedded reference broker",
                           broker_record("reference", reference_broker.version()))
    finally:
        broker.stop()


def run_against(target: Target, args: argparse.Namespace, name: str,
                broker: dict[str, Any]) -> int:
    out = sys.stdout
    try:
        found = discover(target)
    except TargetError as exc:
        print(f"mqttlab run: {exc}", file=sys.stderr)
        return 2
    target = found.target
    cases = load_cases()
    work = plan(cases.values(), (3, 4, 5), args.cases)
    if not work:
        print(f"mqttlab run: no case matches {args.cases}", file=sys.stderr)
        return 2
    versions = ", ".join(VERSION_OF_LEVEL[lv] for lv in target.levels)
    print(f"MQTT conformance suite: {len(work)} runs of {len(cases)} cases against the {name} "
          f"(versions {versions or 'none'})", file=out)
    for version, why in found.refused.items():
        print(f"  MQTT {version} not tested: {why}", file=out)
    progress = Progress(len(work), out, quiet=args.quiet)
    started = time.time()
    results = run_plan(target, work, jobs=args.jobs, on_result=progress.add)
    progress.done()
    broker["refused"] = found.refused
    document = results_document(target, results, started, broker)
    rows = document["results"]
    for line in summarise(rows):
        print(line, file=out)
    for line in coverage_lines(cases.values(), per_chapter=args.coverage):
        print(line, file=out)
    show_problems(results, out)
    write(Path(args.results), json.dumps(document, indent=1).encode())
    print(f"results: {args.results}", file=out)
    if args.junit:
        write(Path(args.junit), junit_xml(rows))
        print(f"JUnit XML: {args.junit}", file=out)
    bad = sum(r.outcome in (Outcome.FAIL, Outcome.ERROR) for r in results)
    return 1 if bad else 0


def show_problems(results: list[Result], out: TextIO, limit: int = 20) -> None:
    """The first FAIL / ERROR results, one line each (the JSON has their wire logs)."""
    problems = [r for r in results if r.outcome in (Outcome.FAIL, Outcome.ERROR)]
    for r in problems[:limit]:
        print(f"  {r.line()}", file=out)
    if len(problems) > limit:
        print(f"  ... and {len(problems) - limit} more in the results file", file=out)


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


class Progress:
    """One line, rewritten in place on a terminal; a line per 10% otherwise."""

    def __init__(self, total: int, out: TextIO, quiet: bool = False, label: str = "") -> None:
        self.total, self.out, self.quiet, self.label = total, out, quiet, label
        self.counts: Counter[str] = Counter()
        self.started = time.monotonic()
        self.tty = out.isatty()
        self._next_mark = 0.1

    def add(self, r: Result) -> None:
        self.counts[r.outcome.value] += 1
        done = sum(self.counts.values())
        if self.quiet:
            return
        if self.tty:
            print(f"\r{self.line(done)}", end="", file=self.out, flush=True)
        elif done / self.total >= self._next_mark or done == self.total:
            self._next_mark += 0.1
            print(self.line(done), file=self.out, flush=True)

    def line(self, done: int) -> str:
        rate = done / max(1e-6, time.monotonic() - self.started)
        counts = " ".join(f"{o.value} {self.counts[o.value]}" for o in Outcome
                          if self.counts[o.value])
        percent = 100 * done // self.total
        return (f"{self.label}[{done:5}/{self.total}] {percent:3}%  {counts}  "
                f"{rate:.0f} cases/s")

    def done(self) -> None:
        seconds = time.monotonic() - self.started
        if self.tty and not self.quiet:
            print(file=self.out)
        print(f"{self.label}{self.total} runs in {seconds:.1f} s "
              f"({self.total / max(seconds, 1e-6):.0f} cases/s)", file=self.out)



