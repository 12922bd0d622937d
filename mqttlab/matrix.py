"""`mqttlab matrix`, `mqttlab report` and `mqttlab gate`: the suite across brokers.

Strategy: thin command-line wrappers; the work is in interop/ (profiles, matrix runner, client
interop, reports, gate), imported only when a command runs, so `mqttlab run` keeps to the
standard library.  `matrix` runs the suite (and the client scenarios) on each chosen broker,
writes one results file per broker and renders the reports; `report` renders saved results;
`gate` compares a run with the baseline of each broker and exits 1 only on a regression.
User mistakes (unknown broker, a named broker that cannot run here, no baseline) are one line
on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

DEFAULT_BROKERS = ("reference", "mosquitto", "amqtt", "aedes", "rsmb")
RESULTS_DIR = "results/matrix"
REPORTS_DIR = "reports/matrix"
BASELINE_DIR = "interop/baselines"


def add_parsers(sub: Any) -> None:
    matrix = sub.add_parser("matrix", help="the suite and the client scenarios across brokers, "
                            "with reports")
    _broker_options(matrix, "brokers to run, in order (repeatable; default: "
                    + ", ".join(DEFAULT_BROKERS) + ")")
    matrix.add_argument("--parallel", type=int, default=1, metavar="N",
                        help="brokers run at once (default 1)")
    matrix.add_argument("--no-clients", action="store_true",
                        help="skip the client-library scenarios")
    matrix.add_argument("--reports", default=REPORTS_DIR, metavar="DIR",
                        help=f"where the reports are rendered (default {REPORTS_DIR})")
    matrix.add_argument("--logs", choices=("all", "problems"), default="all",
                        help="wire logs on detail pages: every cell, or only cells that are "
                             "not PASS and rows where brokers disagree (smaller)")
    matrix.set_defaults(run=run_matrix)

    report = sub.add_parser("report", help="render the reports from saved matrix results")
    report.add_argument("--results", default=RESULTS_DIR, metavar="DIR")
    report.add_argument("--reports", default=REPORTS_DIR, metavar="DIR")
    report.add_argument("--logs", choices=("all", "problems"), default="all")
    report.set_defaults(run=run_report)

    gate = sub.add_parser("gate", help="fail only where a broker got worse than its baseline")
    _broker_options(gate, "brokers to check (repeatable; default: reference)")
    gate.add_argument("--baselines", default=BASELINE_DIR, metavar="DIR",
                      help=f"one <broker>.json per broker (default {BASELINE_DIR})")
    gate.add_argument("--update", action="store_true",
                      help="write the baselines from this run instead of comparing")
    gate.add_argument("--summary", metavar="FILE",
                      help="append a Markdown summary (e.g. $GITHUB_STEP_SUMMARY)")
    gate.set_defaults(run=run_gate)


def _broker_options(parser: argparse.ArgumentParser, broker_help: str) -> None:
    parser.add_argument("--broker", action="append", default=[], metavar="NAME",
                        help=broker_help + "; [NAME=]HOST:PORT is a broker already running")
    parser.add_argument("--profile", metavar="FILE", help="JSON target profile for every "
                        "broker (e.g. MQTT 3.x capabilities, credentials)")
    parser.add_argument("--rsmb", metavar="PATH",
                        help="RSMB's broker binary (or set MQTTLAB_RSMB)")
    parser.add_argument("--versions", metavar="LIST", help="e.g. 3.1.1,5.0 (default: all)")
    parser.add_argument("--cases", action="append", default=[], metavar="GLOB",
                        help="only cases whose ID matches (repeatable)")
    parser.add_argument("--jobs", type=int, default=16, help="cases run at once per broker")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="bound on each wait for a broker (default 2)")
    parser.add_argument("--results", default=RESULTS_DIR, metavar="DIR",
                        help=f"one results JSON per broker (default {RESULTS_DIR})")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


class UsageError(Exception):
    """One line for the user; exit 2."""


def profiles_for(names: list[str], rsmb: str | None, required: list[str]) -> list[Any]:
    """The profiles of broker `names` (RSMB's binary from `rsmb` when given); UsageError for
    an unknown name, or for a broker in `required` that cannot run here."""
    from conformance.target import TargetError
    from interop.profiles import UnknownBroker, profile_for

    if rsmb:
        os.environ["MQTTLAB_RSMB"] = rsmb
    try:
        profiles = [profile_for(name) for name in names]
    except (UnknownBroker, TargetError) as exc:
        raise UsageError(str(exc)) from None
    for profile in profiles:
        why = profile.available()
        if why is not None and profile.name in required:
            raise UsageError(why)
    return profiles


def _setup(args: argparse.Namespace, default: tuple[str, ...]) -> tuple[list[Any], dict[str, Any]]:
    """(profiles, options for interop.matrix.run_broker) from the command line."""
    from conformance.runner import load_cases, plan
    from conformance.target import Target, TargetError, load_profile, parse_levels

    profiles = profiles_for(args.broker or list(default), args.rsmb, args.broker)
    try:
        levels = parse_levels(args.versions) if args.versions else (3, 4, 5)
        base = load_profile(args.profile) if args.profile else Target()
        if args.timeout:
            base = replace(base, timeout=args.timeout)
    except TargetError as exc:
        raise UsageError(str(exc)) from None
    if not plan(load_cases().values(), levels, args.cases):
        raise UsageError(f"no case matches {args.cases}")
    return profiles, {"levels": levels, "patterns": args.cases, "jobs": args.jobs,
                      "base": base}


def _progress(args: argparse.Namespace, options: dict[str, Any], parallel: int) -> Any:
    """A factory of per-broker progress lines (None when quiet)."""
    from conformance.runner import load_cases, plan
    from mqttlab.run import Progress

    total = len(plan(load_cases().values(), options["levels"], options["patterns"]))

    def make(name: str) -> Progress | None:
        if args.quiet:
            return None
        progress = Progress(total, sys.stdout, label=f"{name}: ")
        progress.tty = progress.tty and parallel == 1  # one line per broker otherwise
        return progress

    return make


def run_matrix(args: argparse.Namespace) -> int:
    from interop.clients import clients_document
    from interop.clients.fresh import clients_on_fresh_broker
    from interop.matrix import run_matrix as run_all
    from interop.report import render_reports

    try:
        profiles, options = _setup(args, DEFAULT_BROKERS)
    except UsageError as exc:
        print(f"mqttlab matrix: {exc}", file=sys.stderr)
        return 2
    started = time.time()
    runs = run_all(profiles, Path(args.results), parallel=args.parallel,
                   progress=_progress(args, options, args.parallel),
                   on_done=lambda run: print(_run_line(run), flush=True), **options)
    if not args.no_clients:
        per_broker = {}
        for profile in profiles:  # each on a fresh instance, free of the suite's leftovers
            run = clients_on_fresh_broker(profile, options["levels"], options["base"])
            per_broker[profile.name] = run.entry()
            counts = Counter(r["outcome"] for r in run.results)
            print(f"{profile.name} clients: " + (", ".join(
                f"{k} {v}" for k, v in sorted(counts.items())) or f"{run.status} {run.reason}"),
                flush=True)
        document = clients_document(per_broker, started)
        (Path(args.results) / "clients.json").write_text(json.dumps(document, indent=1),
                                                         encoding="utf-8")
    written = render_reports(Path(args.results), Path(args.reports), logs=args.logs)
    print(f"results: {args.results}/  reports: {args.reports}/index.html "
          f"({len(written)} files)")
    return 1 if any(run.status in ("failed to start", "died") for run in runs) else 0


def _run_line(run: Any) -> str:
    broker = run.document["run"]["broker"]
    if run.status == "ran":
        counts = ", ".join(f"{k} {v}" for k, v in sorted(run.counts().items()))
        refused = "".join(f"; MQTT {v} refused: {why}" for v, why in broker["refused"].items())
        return f"{run.name} ({broker['version']}): {counts}{refused}"
    return f"{run.name}: {run.status}: {broker['reason']}"


def run_report(args: argparse.Namespace) -> int:
    from interop.report import ResultsError, render_reports

    try:
        written = render_reports(Path(args.results), Path(args.reports), logs=args.logs)
    except ResultsError as exc:
        print(f"mqttlab report: {exc}", file=sys.stderr)
        return 2
    print(f"reports: {args.reports}/index.html ({len(written)} files)")
    return 0


def run_gate(args: argparse.Namespace) -> int:
    from interop import gate
    from interop.matrix import run_matrix as run_all

    try:
        profiles, options = _setup(args, ("reference",))
        baselines = {p.name: Path(args.baselines) / f"{p.name}.json" for p in profiles}
        known = {} if args.update else {name: gate.load_baseline(path)
                                        for name, path in baselines.items()}
    except (UsageError, gate.BaselineError) as exc:
        print(f"mqttlab gate: {exc}", file=sys.stderr)
        return 2
    comparisons: dict[str, gate.Comparison] = {}

    def check(broker: Any, target: Any, results: Any) -> None:
        if broker.name in known:
            found = gate.compare(known[broker.name], results)
            gate.confirm(found, known[broker.name], broker, target)
            comparisons[broker.name] = found

    runs = run_all(profiles, Path(args.results), while_running=[check],
                   progress=_progress(args, options, 1),
                   on_done=lambda run: print(_run_line(run), flush=True), **options)
    lines: list[str] = []
    failed = False
    for run in runs:
        if run.status != "ran":
            failed = True
            lines.append(f"{run.name}: {run.status}: "
                         f"{run.document['run']['broker']['reason']}")
        elif args.update:
            gate.write_baseline(baselines[run.name], run.document)
            lines.append(f"{run.name}: baseline written to {baselines[run.name]}")
        else:
            found = comparisons[run.name]
            failed |= bool(found.regressions)
            lines += gate.report_lines(run.name, found)
    print("\n".join(lines))
    if args.summary:
        with open(args.summary, "a", encoding="utf-8") as summary:
            summary.write("## MQTT conformance gate\n\n```\n" + "\n".join(
                line for line in lines if not line.startswith("    ")) + "\n```\n")
    return 1 if failed else 0
