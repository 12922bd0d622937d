"""The memory oracle: the verdict on synthetic curves, and on a process that leaks on purpose."""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Sequence
from pathlib import Path

from fuzz.engine import run_cases
from fuzz.memory import MIN_GROWTH, MemoryWatch, Sample, analyse, rss_bytes, slope
from interop.brokers import free_port, launch
from tests.fuzz.test_engine import valid

MIB = 1 << 20

# A tiny server speaking just enough MQTT for the engine (CONNACK, PINGRESP, close on anything
# else or EOF) that keeps LEAK bytes per connection it ever accepted.
LEAKER = '''
import asyncio, sys
LEAK = int(sys.argv[2])
kept = []
async def handle(reader, writer):
    if LEAK:
        kept.append(bytearray(LEAK))
    try:
        while True:
            first = (await reader.readexactly(1))[0]
            length = shift = 0
            while True:
                byte = (await reader.readexactly(1))[0]
                length |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
            await reader.readexactly(length)
            if first >> 4 == 1:
                writer.write(b"\\x20\\x02\\x00\\x00")
            elif first >> 4 == 12:
                writer.write(b"\\xd0\\x00")
            else:
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]), backlog=512)
    async with server:
        await server.serve_forever()
asyncio.run(main())
'''


def series(values: Sequence[float], per_sample: int = 1000) -> list[Sample]:
    return [Sample(i * 0.5, i * per_sample, int(v)) for i, v in enumerate(values)]


def test_slope_is_least_squares() -> None:
    assert slope([0, 1, 2, 3], [1, 3, 5, 7]) == 2.0
    assert slope([1, 1, 1], [1, 2, 3]) == 0.0 and slope([1], [5]) == 0.0


def test_flat_with_noise_is_no_leak() -> None:
    rng = random.Random(1)
    noisy = [30 * MIB + rng.uniform(-2, 2) * MIB for _ in range(60)]
    verdict = analyse(series(noisy))
    assert not verdict.leak and verdict.measured == 45


def test_steady_growth_is_a_leak() -> None:
    rng = random.Random(2)
    growing = [10 * MIB + i * 200_000 + rng.uniform(-0.5, 0.5) * MIB for i in range(60)]
    verdict = analyse(series(growing))  # 200 bytes per case, 1,000 cases per sample
    assert verdict.leak and 150 < verdict.late_per_case < 250 and verdict.growth > MIN_GROWTH


def test_growth_small_beside_a_large_heap_is_no_leak() -> None:
    expanding = [150 * MIB + i * 300_000 for i in range(60)]  # a runtime's heap settling in
    verdict = analyse(series(expanding))
    assert not verdict.leak and "of the warmed-up RSS" in verdict.reason


def test_a_sawtooth_is_no_leak() -> None:
    saw = [20 * MIB + (i % 10) * 3 * MIB + i * 200_000 for i in range(60)]  # a collector
    verdict = analyse(series(saw), growth_ratio=0)  # the scatter alone decides here
    assert not verdict.leak and "the noise around the fit" in verdict.reason


def test_a_step_that_flattens_is_no_leak() -> None:
    step = [30 * MIB if i < 30 else 50 * MIB for i in range(60)]
    verdict = analyse(series(step))
    assert not verdict.leak and "second-half slope" in verdict.reason
    assert verdict.growth == 20 * MIB  # it grew, but stopped growing


def test_slow_growth_below_the_minimum_is_no_leak() -> None:
    slow = [30 * MIB + i * 70 * 1000 for i in range(60)]  # 70 B/case, 2 MiB after warm-up
    verdict = analyse(series(slow))
    assert not verdict.leak and "growth" in verdict.reason


def test_too_few_samples_give_no_verdict() -> None:
    verdict = analyse(series([float(i * MIB) for i in range(6)]))
    assert not verdict.leak and "too few samples" in verdict.reason


def test_the_record_for_a_summary_says_whether_there_was_a_verdict() -> None:
    empty = MemoryWatch(pid=os.getpid()).record()
    assert empty["decided"] is False and empty["samples"] == 0 and not empty["leak"]
    watch = MemoryWatch(pid=os.getpid(), samples=series([float(i * MIB) for i in range(40)]))
    record = watch.record()
    assert record["decided"] and record["leak"] and record["samples"] == 40
    assert record["rss_last"] - record["rss_first"] == 39 * MIB


def test_rss_of_a_process() -> None:
    mine = rss_bytes(os.getpid())
    assert mine is not None and mine > MIB
    assert rss_bytes(2**22 + 12345) is None  # above the kernel's largest pid


def watch_leaker(tmp_path: Path, leak: int, cases: int) -> MemoryWatch:
    script = tmp_path / "leaker.py"
    script.write_text(LEAKER, encoding="utf-8")
    port = free_port()
    process = launch(f"leaker-{leak}", [sys.executable, str(script), str(port), str(leak)],
                     tmp_path, port)
    try:
        watch = MemoryWatch(process.popen.pid, interval=0.02)
        watch.sample(0)

        def tick(done: int) -> bool:
            watch.sample(done)
            return False  # never stops the run

        stats = run_cases("127.0.0.1", port, [valid(i) for i in range(cases)],
                          concurrency=64, tick=tick)
        assert stats.finished == cases
        watch.sample(stats.finished, now=watch.due)
    finally:
        process.stop()
    return watch


def test_a_process_that_keeps_memory_per_connection_is_found_leaking(tmp_path: Path) -> None:
    watch = watch_leaker(tmp_path, 16 * 1024, 4000)  # 16 KiB per connection, ~64 MiB in all
    finding = watch.finding("leaker", "leaker 1")
    assert finding is not None, watch.verdict()
    assert finding.oracle == "memory" and finding.signature == "memory|leak"
    assert finding.evidence["verdict"]["late_bytes_per_case"] > 8 * 1024
    assert len(finding.evidence["curve"]) == len(watch.samples) >= 8


def test_the_same_process_keeping_nothing_is_not(tmp_path: Path) -> None:
    watch = watch_leaker(tmp_path, 0, 4000)
    assert watch.finding("leaker", "leaker 1") is None, watch.verdict()
