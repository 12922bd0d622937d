"""python -m fuzz.stateful --broker NAME|HOST:PORT --seconds N --seed S: a stateful run.

Strategy: the broker is started through its interop profile in a fresh work directory directly
under /tmp (mode 0755: Mosquitto drops its privileges when started as root and must still read
its files there) and stopped at the end; HOST:PORT aims at a broker already running on the
loopback, left as it is.  A summary is printed; `--json` writes the whole report (its action
list replays with `--replay`, and `--minimise SIGNATURE` shrinks it), `--findings DIR` one file
per finding signature.  A user mistake (unknown broker, bad option, broker missing or
unreachable) is one line and exit status 2; findings give exit status 1.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from fuzz.stateful.actions import Action
from fuzz.stateful.report import StatefulReport
from fuzz.stateful.run import BrokerUnreachable, replay_actions, run_stateful
from interop.brokers import sigterm_as_interrupt


class UserError(Exception):
    """A mistake of the user's: one line, exit status 2."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m fuzz.stateful", description=__doc__.split(
        "\n")[0])
    p.add_argument("--broker", required=True, help="a broker profile name (reference, "
                   "mosquitto, amqtt, aedes, rsmb) or HOST:PORT of a running broker")
    p.add_argument("--seconds", type=float, default=30.0, help="length of the run")
    p.add_argument("--seed", type=int, default=None, help="seed (default: a random one, "
                   "printed)")
    p.add_argument("--clients", type=int, default=4, help="clients at once (>= 2)")
    p.add_argument("--levels", default="4,5", help="protocol levels: 4 (3.1.1), 5 (5.0)")
    p.add_argument("--actions", type=int, default=None, help="stop after this many actions")
    p.add_argument("--replay", type=Path, default=None, help="re-drive the actions of a "
                   "report written with --json (or of a JSON list of actions)")
    p.add_argument("--minimise", metavar="SIGNATURE", default=None, help="with --replay: "
                   "shrink the action list to one that still gives this finding signature, "
                   "and write it (JSON) to --json")
    p.add_argument("--json", type=Path, default=None, help="write the report here")
    p.add_argument("--findings", type=Path, default=None, help="one file per finding here")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p.parse_args(argv)


def _levels(text: str) -> tuple[int, ...]:
    try:
        levels = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise UserError(f"--levels: expected numbers like 4,5, got {text!r}") from None
    if not levels or any(lv not in (4, 5) for lv in levels):
        raise UserError(f"--levels: only 4 (MQTT 3.1.1) and 5 (MQTT 5.0), got {text!r}")
    return levels


def _load_actions(path: Path) -> list[Action]:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        items = data["actions"] if isinstance(data, dict) else data
        return [Action.from_json(item) for item in items]
    except FileNotFoundError:
        raise UserError(f"--replay: no file {path}") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"--replay: {path} holds no action list: {exc}") from None


def _progress(report: StatefulReport) -> None:
    if int(report.seconds) % 5 == 0:
        print(f"  {report.seconds:5.0f} s  {report.actions_done} actions "
              f"({report.rate:.0f}/s), {report.delivered} delivered, "
              f"{len(report.findings)} findings", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from interop.brokers import BrokerFailed, BrokerUnavailable
    from interop.profiles import UnknownBroker, profile_for

    levels = _levels(args.levels)
    if args.clients < 2:
        raise UserError("--clients: at least 2")
    if args.seconds <= 0:
        raise UserError("--seconds: must be positive")
    actions = _load_actions(args.replay) if args.replay else None
    if args.minimise and (actions is None or args.json is None):
        raise UserError("--minimise needs --replay FILE and --json OUT")
    seed = args.seed if args.seed is not None else random.randrange(1, 2**31)
    try:
        profile = profile_for(args.broker)
    except (UnknownBroker, ValueError) as exc:
        raise UserError(str(exc)) from None
    workdir = Path(tempfile.mkdtemp(prefix="mqttlab-stateful-", dir="/tmp"))
    workdir.chmod(0o755)
    try:
        try:
            running = profile.start(workdir)
        except (BrokerUnavailable, BrokerFailed) as exc:
            raise UserError(str(exc)) from None
        try:
            progress = None if args.quiet else _progress
            common: dict[str, Any] = {"broker": running.name, "death": running.death,
                                      "broker_version": running.version,
                                      "on_progress": progress}
            try:
                if actions is not None and args.minimise:
                    return _minimise(running.host, running.port, actions, args)
                if actions is not None:
                    report = replay_actions(running.host, running.port, actions, seed=None,
                                            **common)
                else:
                    if not args.quiet:
                        print(f"seed {seed}", file=sys.stderr)
                    report = run_stateful(running.host, running.port, seed=seed,
                                          seconds=args.seconds, clients=args.clients,
                                          levels=levels, max_actions=args.actions, **common)
            except (BrokerUnreachable, ValueError) as exc:
                raise UserError(str(exc)) from None
        finally:
            running.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("\n".join(report.summary()))
    if args.json is not None:
        args.json.write_text(json.dumps(report.to_json(), indent=1) + "\n", encoding="utf-8")
    if args.findings is not None and report.findings:
        from fuzz.findings import FindingStore

        store = FindingStore(args.findings, replay_hint="python -m fuzz.stateful --replay")
        for finding in report.findings:
            store.add(finding)
    return 1 if report.findings else 0


def _minimise(host: str, port: int, actions: list[Action], args: argparse.Namespace) -> int:
    from fuzz.stateful.minimise import minimise_actions

    def step(size: int, failed: int) -> None:
        if not args.quiet:
            print(f"  {size} actions: {'still fails' if failed else 'passes'}", file=sys.stderr)

    smaller = minimise_actions(host, port, actions, args.minimise, on_step=step)
    args.json.write_text(json.dumps([a.to_json() for a in smaller], indent=1) + "\n",
                         encoding="utf-8")
    print(f"{len(actions)} -> {len(smaller)} actions:")
    print("\n".join(f"  {a.describe()}" for a in smaller))
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        with sigterm_as_interrupt():  # the broker it started is stopped either way
            return run(parse_args(argv))
    except UserError as exc:
        print(f"python -m fuzz.stateful: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
