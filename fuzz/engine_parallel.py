"""The network engine on several worker processes, each with its own slice of the cases.

Strategy: case i goes to worker i % n (deterministic, so a run is reproducible), and each
worker runs `engine.run_cases` on its slice.  Workers are forked, so they inherit the cases:
a `Sequence` is sliced (`cases[k::n]`, no copy sent), any other iterable is walked by every
worker, each keeping its own items (`islice(cases, k, limit, n)`), which costs generating every
case n times: hand a list, or a cheap iterator, when that matters.  Workers send their results
back in batches (every 50 ms or 512 results) over a pipe; the parent calls `on_result` for
each and `tick(finished)` every 50 ms (the oracles' watch: a dead broker, memory samples),
and when `tick` returns True it sets the stop event every worker polls, so they abandon their
cases in flight and report them (for crash attribution).  Bounds: the workers stop by
themselves (count, `seconds`, the stop event); the parent waits for them at most `seconds` +
a grace period, then terminates any that are left.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from multiprocessing.connection import Connection, wait
from multiprocessing.synchronize import Event
from typing import Any

from fuzz.case import FuzzCase, Observation
from fuzz.engine import Engine, OnResult, RunStats, Tick, check_bounded, run_cases

BATCH = 512
FLUSH = 0.05  # seconds between batches from a worker and between `tick` calls
GRACE = 30.0  # seconds past the time bound before the parent terminates its workers


@dataclass(frozen=True)
class _Job:
    host: str
    port: int
    worker: int
    workers: int
    limit: int | None
    seconds: float | None
    options: dict[str, Any]


def _slice(cases: Iterable[FuzzCase], job: _Job) -> Iterable[FuzzCase]:
    if isinstance(cases, Sequence):
        bounded = cases if job.limit is None else cases[:job.limit]
        return bounded[job.worker::job.workers]
    return islice(cases, job.worker, job.limit, job.workers)


def _worker(job: _Job, cases: Iterable[FuzzCase], out: Connection, stop: Event) -> None:
    # the parent's SIGTERM handler (interop.brokers.sigterm_as_interrupt) is not for us:
    # terminate() from the parent ends a worker at once
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    indexed = isinstance(cases, Sequence)  # the parent holds the cases: send indexes only
    batch: list[tuple[int, FuzzCase | None, Observation]] = []
    sent = [time.monotonic()]

    def flush() -> None:
        if batch:
            out.send(("results", list(batch)))
            batch.clear()
        sent[0] = time.monotonic()

    def on_result(index: int, case: FuzzCase, obs: Observation) -> None:
        batch.append((index, None if indexed else case, obs))
        if len(batch) >= BATCH:
            flush()

    def tick(_finished: int) -> bool:
        if time.monotonic() - sent[0] >= FLUSH:
            flush()
        return stop.is_set()

    try:
        engine = Engine(job.host, job.port, on_result=on_result, **job.options)
        stats = engine.run(_slice(cases, job), limit=None, seconds=job.seconds, tick=tick,
                           first_index=job.worker, index_step=job.workers)
        flush()
        out.send(("done", stats))
    except (BrokenPipeError, EOFError):
        pass  # the parent has gone (interrupted): nobody is left to tell
    except BaseException:  # the parent reports it; a worker must not die silently
        out.send(("error", traceback.format_exc()))
    finally:
        out.close()


def run_parallel(host: str, port: int, cases: Iterable[FuzzCase], *, workers: int | None = None,
                 limit: int | None = None, seconds: float | None = None,
                 on_result: OnResult | None = None, tick: Tick | None = None,
                 **options: Any) -> RunStats:
    """`engine.run_cases` on `workers` forked processes (case i on worker i % workers; 0 runs
    them in this process, without a fork; default: half the CPUs, at least one);
    `options` are the Engine's (concurrency per worker, timeout, reuse, ...).  `on_result` and
    `tick` run in this process.  The merged RunStats' `in_flight` and `recent` span workers."""
    check_bounded(cases, limit, seconds)
    if workers is None:  # the broker and the kernel need the other half of the machine
        workers = max(1, (os.cpu_count() or 2) // 2)
    if workers < 1:
        return run_cases(host, port, cases, limit=limit, seconds=seconds, on_result=on_result,
                         tick=tick, **options)
    context = multiprocessing.get_context("fork")
    stop = context.Event()
    readers: dict[Connection, int] = {}
    procs = []
    for k in range(workers):
        reader, writer = context.Pipe(duplex=False)
        job = _Job(host, port, k, workers, limit, seconds, options)
        proc = context.Process(target=_worker, args=(job, cases, writer, stop), daemon=True,
                               name=f"fuzz-engine-{k}")
        proc.start()
        writer.close()
        readers[reader] = k
        procs.append(proc)
    lookup = cases if isinstance(cases, Sequence) else None
    merged = RunStats()
    errors: list[str] = []
    finished = 0
    t0 = time.monotonic()
    give_up = t0 + (seconds or 0.0) + GRACE + (0.0 if seconds else 3600.0)
    next_tick = t0
    try:
        while readers and time.monotonic() < give_up:
            for ready in wait(list(readers), timeout=FLUSH):
                assert isinstance(ready, Connection)
                try:
                    kind, payload = ready.recv()
                except EOFError:
                    errors.append(f"worker {readers.pop(ready)} ended without a report")
                    continue
                if kind == "results":
                    for index, case, obs in payload:
                        finished += 1
                        if on_result is not None:
                            whole = case if case is not None else _at(lookup, index)
                            on_result(whole, obs)
                elif kind == "done":
                    _merge(merged, payload)
                    readers.pop(ready)
                else:
                    errors.append(f"worker {readers.pop(ready)} failed:\n{payload}")
                    stop.set()
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + FLUSH
                if tick is not None and not stop.is_set() and tick(finished):
                    stop.set()
                    merged.stopped = "stopped by the watcher"
    except BaseException:  # interrupted: stop reading at once, so that a worker blocked
        for reader in readers:  # writing to us ends too
            reader.close()
        readers.clear()
        raise
    finally:
        stop.set()
        for proc in procs:
            proc.join(5.0)
            if proc.is_alive():
                proc.terminate()
                proc.join(5.0)
        for reader in readers:
            reader.close()
    if errors:
        raise RuntimeError("; ".join(errors))
    merged.elapsed = time.monotonic() - t0
    merged.in_flight.sort(key=lambda f: f.sent_at, reverse=True)
    merged.recent.sort(key=lambda done: done.ended)
    return merged


def _at(cases: Sequence[FuzzCase] | None, index: int) -> FuzzCase:
    assert cases is not None
    return cases[index]


def _merge(into: RunStats, part: RunStats) -> None:
    into.started += part.started
    into.finished += part.finished
    into.endings.update(part.endings)
    into.connections += part.connections
    into.in_flight.extend(part.in_flight)
    into.recent.extend(part.recent)
    if part.stopped and not into.stopped:
        into.stopped = part.stopped
