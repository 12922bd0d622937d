"""`python -m reference_broker`: run the reference broker until SIGINT or SIGTERM.

Strategy: every configuration option is also a command-line option (`--maximum-qos 1`,
`--retain-available false`, `--maximum-packet-size none`), applied over the `--config` file
(JSON or TOML).  The effective configuration and the bound addresses are printed at start-up
(TLS / WebSocket listeners first, the plain TCP "listening on" line last);
a bad option or an unusable address is one line on stderr and a non-zero exit.  With
`--trace FILE` the statement trace is written on shutdown and on SIGUSR1.
`python -m reference_broker passwd FILE USER` adds or changes a user of a password file
(passwords.py); the password and ACL files are read, and refused in one line, before start.
`python -m reference_broker trace-report FILE...` prints how much of the spec traces exercised.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence

from reference_broker.auth import Security
from reference_broker.config import BrokerConfig, ConfigError, load_config, option_help, parse_value
from reference_broker.listeners import ListenerError
from reference_broker.server import Broker


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m reference_broker",
        description="A deliberately simple MQTT 3.1 / 3.1.1 / 5.0 broker written from the spec.")
    parser.add_argument("--config", metavar="FILE", help="options file (.json or .toml)")
    parser.add_argument("--trace", metavar="FILE",
                        help="write the statement trace here on shutdown and on SIGUSR1")
    for name, text in option_help().items():
        parser.add_argument("--" + name.replace("_", "-"), dest=name, metavar="VALUE",
                            help=text)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> tuple[BrokerConfig, str | None]:
    args = _parser().parse_args(argv)
    overrides = {name: parse_value(name, getattr(args, name))
                 for name in option_help() if getattr(args, name) is not None}
    return load_config(args.config, overrides), args.trace


async def serve(config: BrokerConfig, trace: str | None) -> int:
    broker = Broker(config, trace_file=trace)
    try:
        await broker.start()
    except ListenerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if trace is not None and hasattr(signal, "SIGUSR1"):
        loop.add_signal_handler(signal.SIGUSR1, broker.write_trace)
    print("reference broker configuration:")
    for line in config.describe():
        print(f"  {line}")
    for name, port in broker.ports.items():
        if name != "tcp":
            print(f"{name} listener on {config.host}:{port}")
    print(f"listening on {config.host}:{broker.port}", flush=True)  # ready for signals
    try:
        await stop.wait()
    finally:
        await broker.stop()
    print("stopped", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["passwd"]:
        from reference_broker.passwords import passwd_main
        return passwd_main(args[1:])
    if args[:1] == ["trace-report"]:
        from reference_broker.trace import report_main
        return report_main(args[1:])
    try:
        config, trace = parse_args(args)
        security = Security.from_config(config)  # password and ACL files usable?
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for warning in security.warnings(config.host):
        print(f"warning: {warning}", file=sys.stderr)
    return asyncio.run(serve(config, trace))


if __name__ == "__main__":
    sys.exit(main())
