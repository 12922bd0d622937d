"""In-process fuzzing of the wire package's decoder and the reference broker's engine.

Strategy: two targets, each a pure check of one input that raises on a finding.
- "decoder": `mqttspec.Decoder` under a level (or none) and a peer, fed bytes in one chunk,
  one byte at a time and in random pieces.  Only `ProtocolViolation` may escape, every way of
  feeding must give the same packets and the same refusal, and every packet decoded must be
  written back by the strict encoder (which reads its output back).
- "session": the reference broker's sans-IO engine (a `Core` and one `Connection`, as the
  I/O layer drives them) fed a valid CONNECT then the input: no exception escapes, a refused
  packet closes the connection, every byte the broker writes decodes as a server's packet,
  and the core counts no connection once it is lost.
Inputs are random bytes and the fuzzer's own generated cases (fuzz.generators), mutated.
Hypothesis drives the checks by default (batches of examples until the time is spent; a
finding is shrunk, the smallest input seen for each signature is kept, then minimised byte
by byte as below).  With atheris
(coverage-guided libFuzzer), a child process instruments mqttspec and reference_broker,
runs for the time given and writes each finding as it comes; the parent then minimises the
inputs by deleting bytes while the same signature reproduces.  Every run stops by itself.

    python -m fuzz.inprocess --target decoder|session --seconds N [--seed S] [--atheris]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from fuzz.generators import FAMILIES, make_case
from mqttspec import Connect, Decoder, Packet, ProtocolViolation, Will, encode

TARGETS = ("decoder", "session")
_PEERS = (None, "client", "server")
_LIMITS = (None, 64, 1024)


class InvariantBroken(AssertionError):
    """The target broke a promise other than "no exception": `kind` names which."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Input:
    data: bytes
    level: int | None = None  # decoder: None = learnt from CONNECT; session: 3, 4 or 5
    peer: str | None = None  # decoder only
    limit: int | None = None  # decoder: max_packet_size; session: a small-limits config
    cuts: tuple[int, ...] = ()  # where the bytes are split into pieces

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "data": self.data.hex(), "cuts": list(self.cuts)}


def _pieces(data: bytes, cuts: tuple[int, ...]) -> list[bytes]:
    edges = [0, *sorted(c for c in set(cuts) if 0 < c < len(data)), len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:], strict=False)]


def _decode_all(inp: Input, chunks: list[bytes]) -> tuple[list[Packet], str | None]:
    decoder = Decoder(inp.level, inp.peer, inp.limit)
    packets: list[Packet] = []
    try:
        for chunk in chunks:
            decoder.feed(chunk)
            packets.extend(decoder)
    except ProtocolViolation as exc:
        if not isinstance(exc.statements, tuple) or not 0x80 <= exc.reason_code <= 0xA2:
            raise InvariantBroken("violation", f"malformed ProtocolViolation {exc!r}") from None
        return packets, repr(exc)
    return packets, None


def check_decoder(inp: Input) -> None:
    whole = _decode_all(inp, [inp.data])
    if _decode_all(inp, [inp.data[i:i + 1] for i in range(len(inp.data))]) != whole:
        raise InvariantBroken("chunking", "one byte at a time differs from one chunk")
    if inp.cuts and _decode_all(inp, _pieces(inp.data, inp.cuts)) != whole:
        raise InvariantBroken("chunking", f"pieces cut at {inp.cuts} differ from one chunk")
    for packet in whole[0]:
        encode(packet)  # EncodeError: a packet the decoder took cannot be written back


def check_session(inp: Input) -> None:
    from reference_broker.config import BrokerConfig
    from reference_broker.connection import Connection
    from reference_broker.core import Core

    level = inp.level if inp.level in (3, 4, 5) else 4
    config = (BrokerConfig(receive_maximum=2, maximum_packet_size=512, topic_alias_maximum=2,
                           max_inflight=2, max_queued=5) if inp.limit else BrokerConfig())
    core = Core(config)
    conn = Connection(core, 0.0)
    inbound = Decoder(peer="client", max_packet_size=config.maximum_packet_size)
    outbound = Decoder(level, "server")
    will = Will(topic="fz/will", payload=b"w") if inp.limit else None
    now = 0.0
    for chunk in [encode(Connect(client_id="fz", keep_alive=len(inp.cuts), will=will,
                                 protocol_level=level)), *_pieces(inp.data, inp.cuts)]:
        if conn.closed:
            break
        now += 0.75
        inbound.feed(chunk)
        try:
            for packet in inbound:
                conn.receive(packet, now)
                if conn.closed:
                    break
        except ProtocolViolation as exc:
            conn.violation(exc, now)
            if not conn.closed:  # MQTT-4.8.0-1 / MQTT-4.13.1-1
                raise InvariantBroken("open-after-violation", str(exc)) from None
        core.tick(now)
        conn.check_keep_alive(now)
        for data in conn.take_output():
            outbound.feed(data)
            try:
                list(outbound)
            except ProtocolViolation as exc:
                raise InvariantBroken("bad-output", str(exc)) from None
    conn.connection_lost(now + 1)
    core.tick(now + 100_000)
    if core.open_connections:
        raise InvariantBroken("leak", f"{core.open_connections} connections still counted")


CHECKS: dict[str, Callable[[Input], None]] = {"decoder": check_decoder,
                                               "session": check_session}


# -- inputs ------------------------------------------------------------------------------------

def _case_bytes(seed: int, family: str, level: int, opened: bool) -> bytes:
    case = make_case(seed, level, family)
    head = encode(Connect(client_id="fz", protocol_level=level)) if opened else b""
    return head + b"".join(case.frames)


@st.composite
def _mutated(draw: st.DrawFn, level: int, opened: bool) -> bytes:
    data = bytearray(_case_bytes(draw(st.integers(0, 2**64 - 1)), draw(st.sampled_from(
        FAMILIES)), level, opened))
    for _ in range(draw(st.integers(0, 3))):
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        kind = draw(st.sampled_from(("flip", "set", "insert", "delete", "cut")))
        if kind == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            data[pos] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=4))
        elif kind == "delete" and data:
            del data[pos]
        elif kind == "cut":
            del data[pos:]
    return bytes(data)


@st.composite
def _inputs(draw: st.DrawFn, target: str) -> Input:
    if target == "decoder":
        level = draw(st.sampled_from((None, 3, 4, 5)))
        peer = draw(st.sampled_from(_PEERS))
        limit = draw(st.sampled_from(_LIMITS))
        opened = level is None
    else:
        level, peer, opened = draw(st.sampled_from((3, 4, 5))), "client", False
        limit = draw(st.sampled_from((None, 1)))
    case_level = level or draw(st.sampled_from((3, 4, 5)))
    data = draw(st.one_of(st.binary(max_size=160), _mutated(case_level, opened)))
    cuts = tuple(draw(st.lists(st.integers(0, len(data)), max_size=5)))
    return Input(data, level, peer, limit, cuts)


def input_from_bytes(target: str, raw: bytes) -> Input:
    """An input from a libFuzzer byte string: a configuration byte, up to 4 cut positions
    (one byte each, counted by the second byte), then the data."""
    config = raw[0] if raw else 0
    ncuts = (raw[1] & 3) if len(raw) > 1 else 0
    cuts = tuple(raw[2:2 + ncuts])
    data = raw[2 + ncuts:]
    if target == "decoder":
        return Input(data, (None, 3, 4, 5)[config & 3], _PEERS[(config >> 2 & 3) % 3],
                     _LIMITS[(config >> 4 & 3) % 3], cuts)
    return Input(data, 3 + (config & 3) % 3, "client", (config >> 2) & 1 or None, cuts)


# -- findings and the report ---------------------------------------------------------------

@dataclass(slots=True)
class Found:
    signature: str  # the exception type and where it was raised (or the invariant broken)
    error: str
    traceback: str
    input: Input
    hits: int = 1

    def to_json(self) -> dict[str, Any]:
        return {"signature": self.signature, "error": self.error,
                "traceback": self.traceback, "input": self.input.to_json(), "hits": self.hits}


@dataclass(slots=True)
class InprocessReport:
    target: str
    engine: str  # "hypothesis" or "atheris"
    seed: int
    seconds: float
    inputs: int
    findings: list[Found] = field(default_factory=list)

    @property
    def inputs_per_second(self) -> float:
        return self.inputs / self.seconds if self.seconds else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "engine": self.engine, "seed": self.seed,
                "seconds": round(self.seconds, 3), "inputs": self.inputs,
                "findings": [f.to_json() for f in self.findings]}


def signature(exc: BaseException) -> str:
    if isinstance(exc, InvariantBroken):
        return f"invariant {exc.kind}"
    frames = traceback.extract_tb(exc.__traceback__)
    here = frames[-1] if frames else None
    where = f" at {Path(here.filename).name}:{here.lineno} in {here.name}" if here else ""
    return f"{type(exc).__name__}{where}"


def _smaller(a: Input, b: Input) -> bool:
    return (len(a.data), len(a.cuts)) < (len(b.data), len(b.cuts))


def record(found: dict[str, Found], exc: BaseException, inp: Input) -> None:
    sig = signature(exc)
    old = found.get(sig)
    if old is None or _smaller(inp, old.input):
        tb = "".join(traceback.format_exception(exc)[-12:])
        found[sig] = Found(sig, f"{type(exc).__name__}: {exc}", tb, inp,
                           1 + (old.hits if old else 0))
    else:
        old.hits += 1


def replay(target: str, inp: Input) -> str | None:
    """The signature `inp` produces on the target now (None: nothing found)."""
    try:
        CHECKS[target](inp)
    except Exception as exc:
        return signature(exc)
    return None


def minimise(target: str, found: Found, budget: float = 3.0) -> Found:
    """Drop the cuts, then the longest head and tail (a stream of packets mostly loses whole
    packets), then delete slices of halving size, while the signature stays."""
    inp, stop = found.input, time.monotonic() + budget
    if inp.cuts and replay(target, replace(inp, cuts=())) == found.signature:
        inp = replace(inp, cuts=())
    for tail in (True, False):
        for k in range(len(inp.data) - 1, 0, -1):
            if time.monotonic() > stop:
                break
            shorter = replace(inp, data=inp.data[k:] if tail else inp.data[:len(inp.data) - k])
            if replay(target, shorter) == found.signature:
                inp = shorter
                break
    size = max(1, len(inp.data) // 2)
    while size >= 1 and time.monotonic() < stop:
        at = 0
        while at < len(inp.data) and time.monotonic() < stop:
            shorter = replace(inp, data=inp.data[:at] + inp.data[at + size:])
            if replay(target, shorter) == found.signature:
                inp = shorter
            else:
                at += size
        size //= 2
    return replace(found, input=inp)


# -- engines -----------------------------------------------------------------------------------

class _OutOfTime(BaseException):
    """Stops Hypothesis mid-batch (a BaseException: it does not count as a failure)."""


def _run_hypothesis(target: str, seconds: float, seed: int) -> InprocessReport:
    check = CHECKS[target]
    found: dict[str, Found] = {}
    tried = 0
    start = time.monotonic()
    end = start + seconds
    hard_end = end + max(1.0, seconds * 0.2)  # time to finish shrinking a finding

    def body(inp: Input) -> None:
        nonlocal tried
        if time.monotonic() > hard_end:
            raise _OutOfTime
        tried += 1
        try:
            check(inp)
        except Exception as exc:
            record(found, exc, inp)
            raise

    batch = 0
    while time.monotonic() < end:
        test = settings(max_examples=100, deadline=None, database=None, derandomize=False,
                        report_multiple_bugs=False, verbosity=Verbosity.quiet,
                        print_blob=False, phases=(Phase.generate, Phase.shrink),
                        suppress_health_check=list(HealthCheck))(given(_inputs(target))(body))
        try:
            hypothesis_seed(seed * 1_000_003 + batch)(test)()
        except _OutOfTime:
            break
        except Exception:  # a finding: `body` recorded it
            pass
        batch += 1
    findings = [minimise(target, f, max(0.2, min(2.0, hard_end - time.monotonic())))
                for f in found.values()]
    return InprocessReport(target, "hypothesis", seed, time.monotonic() - start, tried,
                           findings)


_WORKER = """
import sys, atheris
with atheris.instrument_imports(include=["mqttspec", "reference_broker"]):
    import mqttspec, mqttspec.decoder, mqttspec.encoder
    import reference_broker.connection, reference_broker.core, reference_broker.config
from fuzz.inprocess import atheris_worker
atheris_worker(sys.argv[1:])
"""


def atheris_worker(argv: list[str]) -> None:
    """The child's side: run libFuzzer on the target, append findings to a JSON-lines file."""
    import atheris  # type: ignore[import-untyped,import-not-found,unused-ignore]  # optional

    target, seconds, seed, out, corpus = argv[0], int(argv[1]), int(argv[2]), argv[3], argv[4]
    check = CHECKS[target]
    found: dict[str, Found] = {}

    def one_input(raw: bytes) -> None:
        inp = input_from_bytes(target, raw)
        try:
            check(inp)
        except Exception as exc:
            before = found.get(signature(exc))
            record(found, exc, inp)
            now = found[signature(exc)]
            if before is None or now.input is inp:
                with open(out, "a", encoding="utf-8") as f:
                    f.write(json.dumps(now.to_json()) + "\n")

    atheris.Setup([sys.argv[0], f"-max_total_time={seconds}", f"-seed={seed}", "-timeout=10",
                   "-rss_limit_mb=4096", "-print_final_stats=1", corpus], one_input)
    atheris.Fuzz()


def _atheris_corpus(target: str, directory: Path, seed: int) -> None:
    for i in range(48):
        level = 3 + i % 3
        data = _case_bytes(seed + i, FAMILIES[i % len(FAMILIES)], level, target == "decoder")
        config = level - 2 if target == "decoder" else level - 3
        (directory / f"seed{i}").write_bytes(bytes((config, 0)) + data)


def _run_atheris(target: str, seconds: float, seed: int) -> InprocessReport:
    with tempfile.TemporaryDirectory(prefix="fuzz-inprocess-") as tmp:
        corpus, out = Path(tmp, "corpus"), Path(tmp, "found.jsonl")
        corpus.mkdir()
        _atheris_corpus(target, corpus, seed)
        root = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (root, os.environ.get("PYTHONPATH", "")) if p)}
        start = time.monotonic()
        try:
            proc = subprocess.run(
                [sys.executable, "-c", _WORKER, target, str(max(1, round(seconds))),
                 str(1 + seed % 0x7FFF_FFFE), str(out), str(corpus)],
                capture_output=True, text=True, timeout=seconds + 120, env=env, check=False)
        except subprocess.TimeoutExpired:
            raise RuntimeError("the atheris worker did not stop in time") from None
        elapsed = time.monotonic() - start
        runs = re.findall(r"Done (\d+) runs in (\d+) second", proc.stderr)
        if not runs and proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-3:]
            raise RuntimeError("the atheris worker failed: " + " / ".join(tail))
        found: dict[str, Found] = {}
        lines = out.read_text(encoding="utf-8").splitlines() if out.exists() else []
        for line in lines:
            d = json.loads(line)
            i = d["input"]
            inp = Input(bytes.fromhex(i["data"]), i["level"], i["peer"], i["limit"],
                        tuple(i["cuts"]))
            old = found.get(d["signature"])
            if old is None or _smaller(inp, old.input):
                found[d["signature"]] = Found(d["signature"], d["error"], d["traceback"], inp,
                                              d["hits"])
    findings = [minimise(target, f) for f in found.values()]
    done, fuzzing = (int(runs[-1][0]), float(runs[-1][1])) if runs else (0, elapsed)
    # seconds: libFuzzer's own time, without the start-up spent instrumenting the imports
    return InprocessReport(target, "atheris", seed, fuzzing or elapsed, done, findings)


def atheris_available() -> bool:
    return importlib.util.find_spec("atheris") is not None


def run_inprocess(target: str, seconds: float, seed: int, *, atheris: bool = False
                  ) -> InprocessReport:
    """Fuzz `target` ("decoder" or "session") for about `seconds`, deterministically from
    `seed` under Hypothesis (libFuzzer's own scheduling under atheris)."""
    if target not in CHECKS:
        raise ValueError(f"unknown target {target!r} (choose from {', '.join(TARGETS)})")
    if seconds <= 0:
        raise ValueError("seconds must be positive")
    if atheris:
        return _run_atheris(target, seconds, seed)
    return _run_hypothesis(target, seconds, seed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz.inprocess", description=__doc__
                                     .split("\n\n")[0])
    parser.add_argument("--target", choices=TARGETS, required=True)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--atheris", action="store_true", help="coverage-guided (libFuzzer)")
    parser.add_argument("--json", metavar="PATH", help="write the report as JSON")
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    if args.atheris and not atheris_available():
        print("atheris is not installed (pip install atheris)", file=sys.stderr)
        return 2
    try:
        report = run_inprocess(args.target, args.seconds, args.seed, atheris=args.atheris)
    except RuntimeError as exc:
        print(f"fuzz.inprocess: {exc}", file=sys.stderr)
        return 2
    print(f"{report.target} ({report.engine}, seed {report.seed}): {report.inputs} inputs in "
          f"{report.seconds:.1f} s ({report.inputs_per_second:.0f}/s), "
          f"{len(report.findings)} finding(s)")
    for f in report.findings:
        print(f"- {f.signature} ({f.hits} hits): {f.error}\n  input: "
              f"{json.dumps(f.input.to_json())}")
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_json(), indent=1), encoding="utf-8")
    return 1 if report.findings else 0


if __name__ == "__main__":
    sys.exit(main())
