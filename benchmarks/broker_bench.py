"""Broker throughput and idle-connection memory, side by side: the reference broker, amqtt and
Mosquitto in one run, against the targets of issue 3 (>= 10x amqtt's msgs/s at QoS 0 and 1,
<= 10 KB per idle connection).

Strategy: each broker runs as its own subprocess on 127.0.0.1 and an OS-chosen port (so its
CPU and resident memory are its own), is driven by loadgen.py's raw-socket clients, one process
each, and is always stopped (terminate, then kill).  Four loads per broker: fan-in (N
publishers -> 1 subscriber) and fan-out (1 publisher -> N subscribers), at QoS 0 and QoS 1;
"delivered" is PUBLISH counted at the subscribers, "sent" is PUBLISH written (QoS 0) or
PUBACKed (QoS 1) at the publishers, both over the same window after a warm-up.  Publishers
keep at most --backlog messages not yet received by every subscriber: unbounded, amqtt
delivers next to nothing and QoS 1 fan-in overflows the brokers' per-session queues, which then
drop acknowledged messages, so the figure would measure collapse rather than throughput.
The broker's CPU use over the window shows whether it, and not the generator, was the limit;
the same loads against a broker that does nothing (loadgen.trivial_server) give the
generator's ceiling.
Idle memory: a fresh broker, VmRSS from /proc/PID/status before and after N more idle MQTT
connections.  Everything is bounded in time; a broker that is not installed is reported as
such and the run goes on.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import platform
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata, util
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))
import loadgen  # noqa: E402  (beside this script)
from loadgen import Job  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
BROKERS = ("reference", "amqtt", "mosquitto")
INSTALL = {"reference": "run from the project checkout (python -m reference_broker)",
           "amqtt": "pip install amqtt",
           "mosquitto": "apt-get install -y mosquitto"}
TARGET_RATIO, TARGET_KB = 10.0, 10.0
WARMUP = 0.5
CTX = mp.get_context("fork")
T = TypeVar("T")


class BenchError(Exception):
    """One line for the user: a broker that would not start, a phase that failed."""


# -- brokers -------------------------------------------------------------------------------------

@dataclass
class Running:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    logs: list[Path] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None)


def availability(name: str) -> str | None:
    """None when the broker can run here, else why not."""
    if name == "amqtt" and util.find_spec("amqtt") is None:
        return "not installed"
    if name == "mosquitto" and mosquitto_binary() is None:
        return "not installed"
    return None


def version(name: str) -> str:
    try:
        if name == "reference":
            return "mqtt-conformance-lab " + metadata.version("mqtt-conformance-lab")
        if name == "amqtt":
            return "amqtt " + metadata.version("amqtt")
        binary = mosquitto_binary() or "mosquitto"
        out = subprocess.run([binary, "-h"], capture_output=True, text=True, timeout=10).stdout
        found = re.search(r"mosquitto version (\S+)", out)
        return "mosquitto " + (found.group(1) if found else "(version unknown)")
    except (metadata.PackageNotFoundError, OSError, subprocess.SubprocessError):
        return f"{name} (version unknown)"


def start_broker(name: str, tmp: Path, max_connections: int) -> Running:
    out, err = tmp / f"{name}.out", tmp / f"{name}.err"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    port = 0
    if name == "reference":
        cmd = [sys.executable, "-m", "reference_broker", "--host", HOST, "--port", "0",
               "--max-connections", str(max_connections)]
    elif name == "amqtt":
        port = free_port()
        config = tmp / "amqtt.yaml"
        config.write_text(
            "listeners:\n  default:\n    type: tcp\n"
            f"    bind: {HOST}:{port}\n    max_connections: 0\n"
            "plugins:\n  amqtt.plugins.authentication.AnonymousAuthPlugin:\n"
            "    allow_anonymous: true\n")
        cmd = [sys.executable, "-c", "from amqtt.scripts.broker_script import main; main()",
               "-c", str(config)]
    else:
        port = free_port()
        config = tmp / "mosquitto.conf"
        config.write_text(f"listener {port} {HOST}\nallow_anonymous true\npersistence false\n"
                          "log_dest stderr\n")
        cmd = [mosquitto_binary() or "mosquitto", "-c", str(config)]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
                                cwd=ROOT, env=env)
    running = Running(name, proc, port, [out, err])
    try:
        deadline = time.monotonic() + 30
        while not running.port:  # the reference broker prints the port it was given
            found = re.search(rf"listening on {re.escape(HOST)}:(\d+)", out.read_text())
            if found:
                running.port = int(found.group(1))
            _check_alive(running, deadline)
            time.sleep(0.05)
        while True:  # ready when it answers CONNECT
            try:
                loadgen.mqtt_connect(HOST, running.port, f"bench-probe-{name}", 2.0).close()
                return running
            except OSError:
                _check_alive(running, deadline)
                time.sleep(0.1)
    except BaseException:
        stop_broker(running)
        raise


def _check_alive(running: Running, deadline: float) -> None:
    if running.proc.poll() is not None:
        lines = running.logs[1].read_text(errors="replace").strip().splitlines()
        raise BenchError(f"{running.name} exited with {running.proc.returncode}: "
                         f"{lines[-1] if lines else 'no message'}")
    if time.monotonic() > deadline:
        raise BenchError(f"{running.name} did not accept MQTT connections within 30 s")


def stop_broker(running: Running) -> None:
    proc = running.proc
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def busy_seconds() -> float:
    """CPU time the whole machine spent busy (all CPUs), from /proc/stat."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError(f"no VmRSS for process {pid}")


def settle(pid: int, limit: float = 15.0) -> None:
    """Wait (at most `limit` s) until the broker has worked off what the last phase left."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(0.2)
        if cpu_seconds(pid) - before < 0.01:
            return


# -- one load ------------------------------------------------------------------------------------

@dataclass
class Load:
    shape: str  # "fan-in" | "fan-out"
    qos: int
    publishers: int
    subscribers: int

    @property
    def label(self) -> str:
        return (f"{self.shape} {self.publishers}->{self.subscribers} QoS {self.qos}")


@dataclass
class Figures:
    sent: float  # msgs/s written (QoS 0) or acknowledged (QoS 1) by the publishers
    delivered: float  # msgs/s counted at the subscribers, all added up
    broker_cpu: float | None  # share of one core over the window
    gen_cpu: float  # load generator processes, added up (can exceed 1 on 2+ cores)
    other_cpu: float  # the rest of the machine's busy time: other programs, the kernel


def run_load(load: Load, port: int, tag: str, args: argparse.Namespace,
             broker_pid: int | None) -> Figures:
    topic = f"bench/{tag}/{load.shape}/q{load.qos}"
    base = dict(host=HOST, port=port, topic=topic, qos=load.qos, payload=args.payload,
                window=args.window)
    subs = [Job("subscriber", client_id=f"{tag}-sub{i}", **base) for i in range(load.subscribers)]
    pubs = [Job("publisher", client_id=f"{tag}-pub{i}", **base) for i in range(load.publishers)]
    flow = loadgen.Flow(len(pubs), len(subs), args.backlog)
    workers: list[tuple[mp.process.BaseProcess, mp.connection.Connection]] = []
    try:
        for group in (subs, pubs):  # subscribers are subscribed before anything is published
            started = [_spawn(loadgen.run_client, job, flow, i) for i, job in enumerate(group)]
            workers += started
            for _, pipe in started:
                _expect(pipe, "ready", 20)
        t0 = time.monotonic() + 0.1
        t_measure, t_end = t0 + WARMUP, t0 + WARMUP + args.seconds
        for _, pipe in workers:
            pipe.send(("go", t0, t_measure, t_end))
        time.sleep(max(0.0, t_measure - time.monotonic()))
        cpu0 = cpu_seconds(broker_pid) if broker_pid is not None else 0.0
        busy0 = busy_seconds()
        time.sleep(max(0.0, t_end - time.monotonic()))
        cpu1 = cpu_seconds(broker_pid) if broker_pid is not None else 0.0
        busy1 = busy_seconds()
        results = [_expect(pipe, "done", t_end - time.monotonic() + 20) for _, pipe in workers]
    finally:
        for proc, pipe in workers:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
            pipe.close()
    rates = [r["count"] / r["seconds"] if r["seconds"] else 0.0 for r in results]
    gen_cpu = sum(r["cpu"] for r in results) / args.seconds
    broker_cpu = (cpu1 - cpu0) / args.seconds
    return Figures(sent=sum(rates[len(subs):]), delivered=sum(rates[:len(subs)]),
                   broker_cpu=broker_cpu if broker_pid is not None else None, gen_cpu=gen_cpu,
                   other_cpu=max(0.0, (busy1 - busy0) / args.seconds - broker_cpu - gen_cpu))


def best_of(load: Load, port: int, tag: str, args: argparse.Namespace,
            broker_pid: int | None) -> Figures:
    """The run with the most messages delivered, of --repeat runs (each on its own topic)."""
    runs = []
    for i in range(args.repeat):
        runs.append(run_load(load, port, f"{tag}{i}", args, broker_pid))
        if broker_pid is not None:
            settle(broker_pid)
    return max(runs, key=lambda f: f.delivered)


def _spawn(target: Callable[..., None], *args: object
           ) -> tuple[mp.process.BaseProcess, mp.connection.Connection]:
    mine, theirs = CTX.Pipe()
    proc = CTX.Process(target=target, args=(theirs, *args), daemon=True)
    proc.start()
    theirs.close()
    return proc, mine


def _expect(pipe: mp.connection.Connection, what: str, timeout: float) -> Any:
    if not pipe.poll(max(0.1, timeout)):
        raise BenchError(f"a load-generator process did not report '{what}' in time")
    try:
        kind, info = pipe.recv()
    except EOFError:
        raise BenchError("a load-generator process died") from None
    if kind != what:
        raise BenchError(str(info))
    return info


# -- idle connections ----------------------------------------------------------------------------

def idle_memory(pid: int, port: int, count: int, tag: str) -> tuple[int, int, int]:
    """(RSS before kB, RSS after kB, connections held) for `count` more idle connections."""
    per_process = max(100, min(4000, resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 64))
    warm = [_spawn(loadgen.hold_idle, Job("idle", HOST, port, f"{tag}-warm", count=10))]
    holders: list[tuple[mp.process.BaseProcess, mp.connection.Connection]] = []
    try:
        _expect(warm[0][1], "ready", 30)
        settle(pid, 5)
        before = rss_kb(pid)
        for start in range(0, count, per_process):
            n = min(per_process, count - start)
            holders.append(_spawn(loadgen.hold_idle,
                                  Job("idle", HOST, port, f"{tag}-idle{start}", count=n)))
        held = 0
        for _, pipe in holders:
            held += int(_expect(pipe, "ready", 60 + count / 100))
        settle(pid, 10)
        time.sleep(0.5)
        return before, rss_kb(pid), held
    finally:
        for proc, pipe in warm + holders:
            with contextlib.suppress(OSError):
                pipe.send("close")
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
            pipe.close()


# -- the run --------------------------------------------------------------------------------------

def raise_nofile(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard == resource.RLIM_INFINITY else max(soft, min(hard, wanted))
    if target != soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def loads(args: argparse.Namespace) -> list[Load]:
    return [Load("fan-in", qos, args.publishers, 1) for qos in (0, 1)] + \
           [Load("fan-out", qos, 1, args.subscribers) for qos in (0, 1)]


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    nofile = raise_nofile(args.idle + 1024)
    print(f"MQTT broker benchmark: python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"MQTT 3.1.1, payload {args.payload} B, {args.seconds:g} s a load (best of "
          f"{args.repeat}) after {WARMUP:g} s warm-up, QoS 1 window {args.window}, backlog "
          f"{args.backlog or 'unlimited'}, RLIMIT_NOFILE {nofile}, load average "
          f"{Path('/proc/loadavg').read_text().split()[0]} at start")
    results: dict[str, dict[str, Figures | str] | str] = {}
    memory: dict[str, tuple[int, int, int] | str] = {}
    versions: dict[str, str] = {}

    server, pipe = _spawn(loadgen.trivial_server, args.payload, 60 * (args.seconds + 10))
    ceiling: dict[str, Figures | str] = {}
    try:
        port = int(_expect_value(pipe, 10))
        for load in loads(args):
            ceiling[load.label] = _guard(best_of, load, port, "ceiling", args, None)
    finally:
        server.terminate()
        server.join(5)
        if server.is_alive():
            server.kill()
            server.join(5)
    results["generator ceiling"] = ceiling

    with tempfile.TemporaryDirectory(prefix="broker_bench-") as tmpdir:
        tmp = Path(tmpdir)
        for name in args.brokers:
            missing = availability(name)
            if missing is not None:
                results[name] = memory[name] = f"not available: {INSTALL[name]}"
                continue
            versions[name] = version(name)
            results[name] = _throughput(name, tmp, args, nofile)
            memory[name] = _guard(_memory, name, tmp, args, nofile)
    report(args, results, memory, versions)
    print(f"(run took {time.monotonic() - started:.0f} s)")
    return 0


def _expect_value(pipe: mp.connection.Connection, timeout: float) -> Any:
    if not pipe.poll(timeout):
        raise BenchError("the trivial server did not start")
    return pipe.recv()


def _guard(fn: Callable[..., T], *args: object) -> T | str:
    """fn(*args), or one line saying why it failed."""
    try:
        return fn(*args)
    except (BenchError, OSError) as exc:
        return f"failed: {exc}"


def _throughput(name: str, tmp: Path, args: argparse.Namespace, nofile: int
                ) -> dict[str, Figures | str]:
    try:
        running = start_broker(name, tmp, max(nofile, 10_000))
    except (BenchError, OSError) as exc:
        return {load.label: f"failed: {exc}" for load in loads(args)}
    out: dict[str, Figures | str] = {}
    try:
        for load in loads(args):
            out[load.label] = _guard(best_of, load, running.port, name, args, running.proc.pid)
            if running.proc.poll() is not None:
                raise BenchError(f"{name} exited during {load.label}")
    except BenchError as exc:
        for load in loads(args):
            out.setdefault(load.label, f"failed: {exc}")
    finally:
        stop_broker(running)
    return out


def _memory(name: str, tmp: Path, args: argparse.Namespace, nofile: int
            ) -> tuple[int, int, int]:
    running = start_broker(name, tmp, max(nofile, args.idle + 1024))
    try:
        return idle_memory(running.proc.pid, running.port, args.idle, f"{name}-mem")
    finally:
        stop_broker(running)


# -- the report -----------------------------------------------------------------------------------

def report(args: argparse.Namespace, results: dict[str, dict[str, Figures | str] | str],
           memory: dict[str, tuple[int, int, int] | str], versions: dict[str, str]) -> None:
    print("versions: " + ", ".join(versions[n] for n in args.brokers if n in versions))
    print("\nsent: PUBLISH written (QoS 0) or PUBACKed (QoS 1) at the publishers; delivered: "
          "PUBLISH counted at the subscribers, all added up;\nCPU as a share of one core over "
          "the window: the broker, the load generator, everything else on the machine")
    print(f"{'load':<22} {'broker':<18} {'sent msg/s':>11} {'delivered msg/s':>16} "
          f"{'broker CPU':>10} {'gen CPU':>8} {'other CPU':>9}")
    for load in loads(args):
        for name, rows in results.items():
            row = rows.get(load.label) if isinstance(rows, dict) else rows
            if isinstance(row, Figures):
                cpu = f"{row.broker_cpu:.0%}" if row.broker_cpu is not None else "-"
                print(f"{load.label:<22} {name:<18} {row.sent:>11,.0f} {row.delivered:>16,.0f} "
                      f"{cpu:>10} {row.gen_cpu:>8.0%} {row.other_cpu:>9.0%}")
            else:
                print(f"{load.label:<22} {name:<18} {row}")
    print("\nreference / other, delivered msgs/s (target: >= 10x amqtt at QoS 0 and QoS 1)")
    ref = results.get("reference")
    for other in ("amqtt", "mosquitto"):
        if other not in results or not isinstance(ref, dict):
            continue
        for load in loads(args):
            mine, rows = ref.get(load.label), results[other]
            theirs = rows.get(load.label) if isinstance(rows, dict) else rows
            if not (isinstance(mine, Figures) and isinstance(theirs, Figures)):
                print(f"  reference / {other:<9} {load.label:<22} n/a")
                continue
            ratio = mine.delivered / theirs.delivered if theirs.delivered else float("inf")
            verdict = ("met" if ratio >= TARGET_RATIO else "NOT MET") if other == "amqtt" else \
                "(no target)"
            print(f"  reference / {other:<9} {load.label:<22} {ratio:>8.2f}x  {verdict}")
    print(f"\nmemory per idle connection ({args.idle:,} idle MQTT connections, Keep Alive 0; "
          f"target for the reference broker: <= {TARGET_KB:g} KB)")
    print(f"  {'broker':<10} {'RSS before':>11} {'RSS after':>11} {'held':>7} {'KB/conn':>8}")
    for name in args.brokers:
        mem = memory.get(name)
        if not isinstance(mem, tuple):
            print(f"  {name:<10} {mem}")
            continue
        before, after, held = mem
        per = (after - before) / held if held else float("nan")
        verdict = ("met" if per <= TARGET_KB else "NOT MET") if name == "reference" else ""
        print(f"  {name:<10} {before / 1024:>8.1f} MB {after / 1024:>8.1f} MB {held:>7,} "
              f"{per:>8.1f}  {verdict}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--brokers", default=",".join(BROKERS),
                        help="comma-separated, from reference,amqtt,mosquitto (default: all)")
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="measured seconds per load (default 3)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each load, the best kept (default 1)")
    parser.add_argument("--idle", type=int, default=1000,
                        help="idle connections for the memory figure (default 1000)")
    parser.add_argument("--publishers", type=int, default=4, help="fan-in publishers (default 4)")
    parser.add_argument("--subscribers", type=int, default=4,
                        help="fan-out subscribers (default 4)")
    parser.add_argument("--payload", type=int, default=64, help="payload bytes (default 64)")
    parser.add_argument("--window", type=int, default=100,
                        help="QoS 1 PUBLISH awaiting PUBACK per publisher (default 100)")
    parser.add_argument("--backlog", type=int, default=1000,
                        help="messages published but not yet received by every subscriber, "
                             "all publishers together (default 1000; 0: no limit)")
    args = parser.parse_args(argv)
    args.brokers = [b.strip() for b in args.brokers.split(",") if b.strip()]
    bad = [b for b in args.brokers if b not in BROKERS]
    if bad or not args.brokers:
        parser.error(f"unknown broker(s) {', '.join(bad) or '(none)'}; choose from "
                     f"{', '.join(BROKERS)}")
    for name in ("seconds", "repeat", "idle", "publishers", "subscribers", "window"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name} must be positive")
    if not 0 <= args.payload <= 65536 or args.window > 30000 or args.backlog < 0:
        parser.error("--payload must be 0..65536, --window at most 30000, --backlog >= 0")
    try:
        return run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
