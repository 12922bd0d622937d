"""`mqttlab fuzz`: fuzz brokers over the network, replay a finding, stateful and in-process modes.

Strategy: thin wrappers over fuzz/ (imported when a command runs).  `mqttlab fuzz run` starts
each chosen broker through its profile, runs a seeded, bounded campaign with a live progress
line (cases/s, findings by oracle), stops the broker whatever happens, writes one file per
finding and a summary; `replay FILE` re-sends a finding's bytes to a fresh broker and says
whether it still reproduces (exit 1 if it does); `minimise FILE` reduces a crash finding's
reproducer; `classes` lists the generators.  User mistakes are one line on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mqttlab.matrix import UsageError

FINDINGS_DIR = "results/fuzz"


def add_parser(sub: Any) -> None:
    fuzz = sub.add_parser("fuzz", help="fuzz brokers (network, stateful, in-process)")
    modes = fuzz.add_subparsers(dest="mode", required=True)

    run = modes.add_parser("run", help="generated cases against brokers, with every oracle")
    run.add_argument("--broker", action="append", default=[], metavar="NAME",
                     help="broker profile or [NAME=]HOST:PORT (repeatable; several: the "
                          "divergence between them too; default: reference)")
    run.add_argument("--rsmb", metavar="PATH", help="RSMB's broker binary")
    run.add_argument("--seconds", type=float, default=None, help="per broker (default 30)")
    run.add_argument("--count", type=int, default=None, help="cases per broker")
    run.add_argument("--seed", type=int, default=None, help="default: from the clock")
    run.add_argument("--versions", metavar="LIST", help="e.g. 3.1.1,5.0 (default: all)")
    run.add_argument("--workers", type=int, default=1, help="engine processes (default 1)")
    run.add_argument("--concurrency", type=int, default=128,
                     help="connections in flight per process (default 128)")
    run.add_argument("--timeout", type=float, default=1.0, help="seconds for one wait")
    run.add_argument("--no-memory", action="store_true", help="no memory sampling")
    run.add_argument("--findings", default=FINDINGS_DIR, metavar="DIR",
                     help=f"one file per finding, and summary.md (default {FINDINGS_DIR})")
    run.set_defaults(run=run_fuzz)

    replay = modes.add_parser("replay", help="re-send a finding to a fresh broker")
    replay.add_argument("file", type=Path)
    replay.add_argument("--broker", metavar="NAME", help="default: the finding's broker")
    replay.add_argument("--rsmb", metavar="PATH")
    replay.set_defaults(run=run_replay)

    shrink = modes.add_parser("minimise", help="reduce a crash finding's reproducer "
                              "(restarting the broker per try) and rewrite its file")
    shrink.add_argument("file", type=Path)
    shrink.add_argument("--broker", metavar="NAME", help="default: the finding's broker")
    shrink.add_argument("--rsmb", metavar="PATH")
    shrink.add_argument("--seconds", type=float, default=120.0, help="time bound (default 120)")
    shrink.set_defaults(run=run_minimise)

    classes = modes.add_parser("classes", help="list the case generators")
    classes.set_defaults(run=run_classes)


def _profiles(names: list[str], rsmb: str | None) -> list[Any]:
    """Every broker named must be able to run here."""
    from mqttlab.matrix import profiles_for

    return profiles_for(names, rsmb, names)


def run_fuzz(args: argparse.Namespace) -> int:
    from conformance.target import TargetError, parse_levels
    from fuzz.campaign import Settings, run_campaign, summary_json, summary_markdown

    try:
        profiles = _profiles(args.broker or ["reference"], args.rsmb)
        levels = parse_levels(args.versions) if args.versions else (3, 4, 5)
        if args.count is not None and args.count < 1 or args.seconds is not None and \
                args.seconds <= 0:
            raise UsageError("--count and --seconds must be positive")
    except (UsageError, TargetError) as exc:
        print(f"mqttlab fuzz: {exc}", file=sys.stderr)
        return 2
    seconds = args.seconds if args.seconds is not None or args.count else 30.0
    settings = Settings(seed=args.seed if args.seed is not None else int(time.time()),
                        count=args.count, seconds=seconds, levels=levels,
                        workers=args.workers, concurrency=args.concurrency,
                        timeout=args.timeout, memory=not args.no_memory)
    print(f"fuzzing {', '.join(p.name for p in profiles)}: seed {settings.seed}, "
          f"{_bound(settings)} per broker")
    line = ProgressLine()
    findings_dir = Path(args.findings)
    runs, divergent = run_campaign(profiles, settings, findings_dir, progress=line.show)
    line.end()
    summary = summary_markdown(runs, divergent, settings, findings_dir)
    (findings_dir / "summary.md").write_text(summary, encoding="utf-8")
    (findings_dir / "summary.json").write_text(summary_json(runs, settings), encoding="utf-8")
    for r in runs:
        print(f"{r.name} ({r.version or r.status}): {r.cases} cases in {r.seconds:.1f} s "
              f"({r.rate:.0f}/s), {len(r.findings)} findings {r.reason}".rstrip())
    print(f"findings: {findings_dir}/ (summary.md)")
    return 1 if any(r.findings for r in runs) or divergent else 0


def _bound(settings: Any) -> str:
    parts = []
    if settings.count:
        parts.append(f"{settings.count} cases")
    if settings.seconds:
        parts.append(f"{settings.seconds:g} s")
    return " or ".join(parts)


class ProgressLine:
    """One line per broker, rewritten at most twice a second on a terminal (every 5 s
    otherwise): cases done, cases/s, findings by oracle."""

    def __init__(self) -> None:
        self.tty = sys.stdout.isatty()
        self.started: dict[str, float] = {}
        self.shown = 0.0

    def show(self, broker: str, stats: Any, counts: dict[str, int]) -> None:
        now = time.monotonic()
        begun = self.started.setdefault(broker, now)
        if stats is None and now - self.shown < (0.5 if self.tty else 5.0):
            return
        self.shown = now
        cases = counts.pop("cases", stats.finished if stats is not None else 0)
        elapsed = now - begun  # the clock starts at the first report: too soon for a rate
        rate = f"{cases / elapsed:.0f}/s" if elapsed >= 0.5 else "starting"
        found = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no findings"
        text = f"{broker}: {cases} cases, {rate}, {found}"
        print(f"\r{text:<100}" if self.tty else text, end="" if self.tty else "\n",
              flush=True)

    def end(self) -> None:
        if self.tty:
            print()


def run_replay(args: argparse.Namespace) -> int:
    from fuzz.campaign import replay_case
    from fuzz.findings import load_finding
    from fuzz.oracles import reaction

    try:
        finding, _ = load_finding(args.file)
        [profile] = _profiles([args.broker or finding.broker], args.rsmb)
    except (ValueError, UsageError) as exc:
        print(f"mqttlab fuzz replay: {exc}", file=sys.stderr)
        return 2
    suspects = [finding.case] if finding.case is not None else []
    if finding.oracle == "crash":  # the minimised reproducer, else every suspect in order
        from fuzz.case import FuzzCase

        cases = finding.evidence.get("reproducer") or [
            s["case"] for s in reversed(finding.evidence.get("suspects", []))]
        suspects = [FuzzCase.from_json(c) for c in cases] or suspects
    if not suspects:
        print(f"mqttlab fuzz replay: a {finding.oracle} finding has no case to replay; "
              "re-run its campaign with the seed in its evidence", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="mqttlab-replay-") as tmp:
        Path(tmp).chmod(0o755)
        broker = profile.start(Path(tmp))
        try:
            observations = [replay_case(broker, case) for case in suspects]
            died = broker.death()
        finally:
            broker.stop()
    last = observations[-1]
    print(f"{finding.oracle}: {finding.summary}")
    print(f"replayed {len(suspects)} case(s) on {broker.name} ({broker.version}): "
          f"{last.ending.value} {last.detail}".rstrip())
    if finding.oracle == "crash":
        reproduced = died is not None
        print(died or "the broker survived")
    elif finding.oracle == "reaction" and finding.case is not None:
        again = reaction(finding.case, last)
        reproduced = again is not None and again.signature == finding.signature
    else:
        reproduced = last.ending.name in finding.signature
    print("reproduced" if reproduced else "not reproduced")
    return 1 if reproduced else 0


def run_minimise(args: argparse.Namespace) -> int:
    import json

    from fuzz.campaign import minimised_crash
    from fuzz.findings import load_finding

    try:
        finding, record = load_finding(args.file)
        [profile] = _profiles([args.broker or finding.broker], args.rsmb)
        if finding.oracle != "crash":
            raise UsageError(f"only crash findings are minimised here (this one: "
                             f"{finding.oracle}; the campaign minimises reaction findings)")
    except (ValueError, UsageError) as exc:
        print(f"mqttlab fuzz minimise: {exc}", file=sys.stderr)
        return 2
    finding = minimised_crash(finding, profile, max_runs=200, seconds=args.seconds)
    if not finding.evidence.get("minimised"):
        print("the suspects no longer crash a fresh broker: file left as it was")
        return 1
    record["finding"], record["minimised"] = finding.to_json(), True
    args.file.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    reproducer = finding.evidence["reproducer"]
    print(f"{len(reproducer)} case(s) crash {profile.name}; the last: "
          f"{' | '.join(bytes.fromhex(f).hex(' ') for f in reproducer[-1]['frames'])}")
    return 0


def run_classes(args: argparse.Namespace) -> int:
    from fuzz.generators import CLASSES

    for name, (description, _) in sorted(CLASSES.items()):
        print(f"{name:40} {description}")
    return 0
