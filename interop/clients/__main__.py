"""python -m interop.clients --broker NAME|HOST:PORT [--client NAME] [--scenario ID] [--out FILE]

Strategy: names are checked before anything starts, so a mistake costs one line and exit status
2 (as do a broker that cannot run here and a HOST:PORT where nothing answers).  The broker is
started through its profile in a temporary work directory and stopped by us whatever happens;
the MQTT versions it accepts and (from an MQTT 5 CONNACK) the features it offers are probed
first, as the matrix does, and the clients run on those; the results are printed as a scenario x
client table, with one line per FAIL / ERROR, and written as the "mqttlab/clients-1" JSON
document.  Exit status 1 when a run failed or errored, 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from conformance.target import TargetError, parse_levels
from interop.clients.fresh import clients_on_fresh_broker
from interop.clients.runner import ADAPTERS, UnknownName, clients_document, pick
from interop.clients.scenarios import SCENARIOS
from interop.profiles import UnknownBroker, profile_for

PROG = "python -m interop.clients"
SHORT = {"PASS": "PASS", "FAIL": "FAIL", "NOT APPLICABLE": "n/a", "ERROR": "ERROR"}


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description="Run real MQTT client libraries against a broker.")
    p.add_argument("--broker", required=True, metavar="NAME|HOST:PORT",
                   help="a broker profile (reference, mosquitto, ...) or a running broker")
    p.add_argument("--client", action="append", metavar="NAME",
                   help=f"only this client (repeatable): {', '.join(ADAPTERS)}")
    p.add_argument("--scenario", action="append", metavar="ID",
                   help=f"only this scenario (repeatable): {', '.join(SCENARIOS)}")
    p.add_argument("--versions", metavar="LIST", help="MQTT versions, e.g. 3.1.1,5.0")
    p.add_argument("--out", default="clients.json", metavar="FILE",
                   help="the JSON results (default: clients.json)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds for one wait")
    p.add_argument("--jobs", type=int, default=8, help="scenario runs at once")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
        clients = pick(args.client, list(ADAPTERS), "client")
        pick(args.scenario, list(SCENARIOS), "scenario")
        levels = parse_levels(args.versions) if args.versions else None
        profile = profile_for(args.broker)
        missing = profile.available()
        if missing:
            raise UsageError(missing)
    except (UsageError, UnknownName, UnknownBroker, TargetError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    for name in clients:
        if why := ADAPTERS[name].available():
            print(f"{name}: not available: {why}")
    started = time.time()
    wanted = [s for s in args.scenario or SCENARIOS  # versions not asked for: left out
              if levels is None or set(SCENARIOS[s].levels) & set(levels)]
    run = clients_on_fresh_broker(profile, levels, clients=clients, scenarios=wanted,
                                  timeout=args.timeout, jobs=args.jobs)
    if run.status != "ran":
        print(f"{PROG}: {run.reason}", file=sys.stderr)
        return 2 if run.status == "not available" else 1
    for version, why in run.refused.items():
        print(f"MQTT {version} not run: {why}")
    results = run.results
    document = clients_document({profile.name: run.entry()}, started, clients)
    Path(args.out).write_text(json.dumps(document, indent=1), encoding="utf-8")
    print(table(document))
    print(f"{len(results)} runs in {time.time() - started:.1f} s; results: {args.out}")
    return 1 if any(r["outcome"] in ("FAIL", "ERROR") for r in results) else 0


def table(document: dict[str, Any]) -> str:
    results = document["results"]
    clients = [c for c, entry in document["clients"].items() if entry["status"] == "ran"]
    cells = {(r["scenario"], r["version"], r["client"]): r["outcome"] for r in results}
    rows = sorted({(r["scenario"], r["version"]) for r in results},
                  key=lambda row: (list(SCENARIOS).index(row[0]), row[1]))
    width = max([len("scenario"), *(len(s) for s, _ in rows)])
    header = "  ".join(f"{c:>{max(8, len(c))}}" for c in clients)
    lines = [f"{'scenario':{width}}  version  {header}"]
    for scenario, version in rows:
        marks = [SHORT.get(cells.get((scenario, version, c), ""), "-") for c in clients]
        lines.append(f"{scenario:{width}}  {version:7}  "
                     + "  ".join(f"{m:>{max(8, len(c))}}" for m, c in zip(marks, clients,
                                                                            strict=True)))
    for r in results:
        if r["outcome"] in ("FAIL", "ERROR"):
            lines.append(f"{r['outcome']} {r['client']} {r['scenario']} MQTT {r['version']}: "
                         f"{r['observed']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
