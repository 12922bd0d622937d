"""`mqttlab`: the project's command line.  One subcommand per capability.

Strategy: argparse with a subparser per job; each job is a small function returning the exit
code.  User mistakes (bad hex, unknown statement ID) print one line on stderr and exit 2;
a packet that breaks the spec exits 1 with the violation.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mqttspec import Decoder, ProtocolViolation


def _decode(args: argparse.Namespace) -> int:
    try:
        data = bytes.fromhex("".join(args.hex))
    except ValueError as exc:
        print(f"mqttlab decode: not hexadecimal: {exc}", file=sys.stderr)
        return 2
    level = args.level
    if level is None and data and data[0] >> 4 != 1:
        level = 4  # no CONNECT to learn the level from
    decoder = Decoder(level, args.peer, args.max_packet_size)
    decoder.feed(data)
    try:
        for packet in decoder:
            print(packet)
    except ProtocolViolation as exc:
        print(f"violation: {exc}")
        return 1
    if decoder.buffered:
        print(f"incomplete: {decoder.buffered} bytes wait for the rest of a packet")
    return 0


def _statements(args: argparse.Namespace) -> int:
    from mqttspec.catalogue import load_catalogue

    catalogue = load_catalogue()
    if args.id:
        versions = (args.version,) if args.version else ("3.1.1", "5.0")
        found = [s for v in versions for s in catalogue.for_version(v) if s.id == args.id]
        if not found:
            print(f"mqttlab statements: no statement {args.id!r}", file=sys.stderr)
            return 2
        for s in found:
            print(f"{s.id} (MQTT {s.version}, section {s.section} {s.title})\n  {s.level}, "
                  f"binds {s.applies_to}: {s.summary}\n  {s.url}")
        return 0
    chosen = catalogue.for_version(args.version) if args.version else catalogue
    if args.server:
        chosen = chosen.binding_server()
    for s in chosen:
        print(f"{s.id:16} {s.version:5} {s.level:10} {s.applies_to:6} {s.summary}")
    print(f"{len(chosen)} statements", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mqttlab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    dec = sub.add_parser("decode", help="decode MQTT packets given in hex")
    dec.add_argument("hex", nargs="+", help="packet bytes in hex (spaces allowed)")
    dec.add_argument("--level", type=int, choices=(3, 4, 5), default=None,
                     help="protocol level (default: from a leading CONNECT, else 4)")
    dec.add_argument("--peer", choices=("client", "server"), default=None,
                     help="who sent the bytes (enables direction checks)")
    dec.add_argument("--max-packet-size", type=int, default=None)
    dec.set_defaults(run=_decode)

    st = sub.add_parser("statements", help="list the normative statements of MQTT 3.1.1 / 5.0")
    st.add_argument("id", nargs="?", help="show one statement")
    st.add_argument("--version", choices=("3.1.1", "5.0"))
    st.add_argument("--server", action="store_true", help="only statements binding the server")
    st.set_defaults(run=_statements)

    from mqttlab import fuzz, matrix, run

    run.add_parser(sub)
    matrix.add_parsers(sub)
    fuzz.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from interop.brokers import sigterm_as_interrupt

    args = build_parser().parse_args(argv)
    try:
        with sigterm_as_interrupt():  # the brokers a job started are stopped either way
            code: int = args.run(args)
    except KeyboardInterrupt:
        print(f"mqttlab {args.command}: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    raise SystemExit(main())
