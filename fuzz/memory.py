"""The memory oracle: resident memory of a broker process over a run, and whether it leaks.

Strategy: VmRSS from /proc/PID/status (one small read, no dependency), sampled every
`interval` seconds by the run's watch, with the number of cases finished so far.  The first
`warmup` fraction of the samples is dropped (allocator arenas, caches, pools, connection
tables and a garbage-collected runtime's heap fill up first).  Least-squares lines of RSS
against cases (bytes per case) and against time (bytes per second) are fitted on what is left,
and again on its second half.  The verdict is "leak" only when all of these hold:
  - the slope over the second half is at least `slope_threshold` bytes per case: a leak keeps
    growing to the end, whereas a step (a cache filling, an arena added) flattens out;
  - the growth over the measured window (median of its last quarter minus median of its first
    quarter: single spikes do not count) is at least `min_growth` bytes,
  - and at least `growth_ratio` of the RSS the window started from (a runtime whose heap is
    still expanding towards its working size grows by megabytes without leaking),
  - and at least `noise_factor` times the scatter of the samples around the fitted line (a
    garbage collector's sawtooth is scatter, a leak is a line).
The thresholds and the measurements behind them are beside the constants below; a broker
that grows only a little per case needs a longer run to be caught (e.g. 64 B/case reaches
4 MiB after ~65,000 cases past warm-up).  Memory held on purpose (retained messages, sessions
kept for later) grows like a leak: a finding says that the broker's memory grows with the
cases, and which traffic makes it grow is for the person who reads it.  The curve is kept as
the finding's evidence.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from fuzz.case import Finding

# Measured on 2 cores with benchmarks/fuzz_bench.py --memory (20,000-150,000 generated or
# stand-in cases per run, samples every 0.25-0.5 s, warm-up 25 %), second-half slope / growth
# after warm-up / scatter:
#   Mosquitto 2.0.11, stand-in cases (100,000):   0 B/case, <= 4 KiB
#   Mosquitto, generated cases (20,000-40,000):   90-134 B/case, 1.5-3.2 MiB, scatter 40-100 KiB
#     (retained messages set then cleared on fresh topics: mosquitto keeps ~1.6 KiB per topic)
#   reference broker, python -m reference_broker: 10-85 B/case, 0.5-1.5 MiB (40,000 cases);
#     -1 B/case, 0.3 MiB over 200,000 cases (a warm-up step, then flat)
#   aedes 1.2 (Node.js): -980 to +1,120 B/case, 5-22 MiB on a 150-190 MiB RSS, scatter 1-11 MiB:
#     the V8 heap grows for ~100,000 cases, then the collector gives 50 MiB back
#   a Python asyncio server keeping nothing: 58-160 B/case, 0.35-1.9 MiB
#   leaks: that server keeping 1 KiB per connection: 1,090 B/case, 27-30 MiB (40,000 cases);
#     RSMB 1.3.0.2 (second CONNECT): 1,717 B/case, 70 MiB; amqtt 0.12.1: 8-72 KiB/case, 26-90 MiB
SLOPE_THRESHOLD = 64.0  # bytes per case, over the second half of the measured samples
MIN_GROWTH = 4 << 20  # bytes, median of the last quarter minus median of the first quarter
GROWTH_RATIO = 0.25  # ... and at least this share of the RSS after warm-up (aedes: <= 15 %)
NOISE_FACTOR = 3.0  # ... and this many times the scatter of the samples around the fit
WARMUP = 0.25  # fraction of the samples dropped before fitting
MIN_SAMPLES = 8  # fewer measured samples than this: no verdict


def rss_bytes(pid: int) -> int | None:
    """Resident memory of process `pid` (VmRSS), None when it is gone or not readable."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


@dataclass(frozen=True, slots=True)
class Sample:
    seconds: float  # since the sampler started
    cases: int  # finished by then
    rss: int  # bytes


def slope(xs: list[float], ys: list[float]) -> float:
    """The least-squares slope of ys against xs (0 when xs do not vary)."""
    if len(xs) < 2:
        return 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def residual(xs: list[float], ys: list[float], fitted: float) -> float:
    """The standard deviation of ys around the least-squares line of slope `fitted`."""
    if len(xs) < 3:
        return 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return statistics.pstdev([y - my - fitted * (x - mx) for x, y in zip(xs, ys, strict=True)])


@dataclass(frozen=True, slots=True)
class MemoryVerdict:
    leak: bool
    reason: str
    per_case: float = 0.0  # bytes per case over the measured window
    per_second: float = 0.0
    late_per_case: float = 0.0  # over its second half
    growth: int = 0  # bytes (medians of the last and first quarters)
    noise: int = 0  # bytes: standard deviation of the samples around the fitted line
    measured: int = 0  # samples after the warm-up

    def to_json(self) -> dict[str, Any]:
        return {"leak": self.leak, "reason": self.reason,
                "bytes_per_case": round(self.per_case, 2),
                "bytes_per_second": round(self.per_second, 1),
                "late_bytes_per_case": round(self.late_per_case, 2), "growth": self.growth,
                "noise": self.noise,
                "measured_samples": self.measured}


def analyse(samples: list[Sample], *, warmup: float = WARMUP,
            slope_threshold: float = SLOPE_THRESHOLD, min_growth: int = MIN_GROWTH,
            noise_factor: float = NOISE_FACTOR, growth_ratio: float = GROWTH_RATIO,
            min_samples: int = MIN_SAMPLES) -> MemoryVerdict:
    """The verdict on a run's samples (see the module's docstring)."""
    measured = samples[int(len(samples) * warmup):]
    if len(measured) < min_samples:
        return MemoryVerdict(False, f"too few samples after warm-up ({len(measured)} < "
                                    f"{min_samples})", measured=len(measured))
    cases = [float(s.cases) for s in measured]
    times = [s.seconds for s in measured]
    rss = [float(s.rss) for s in measured]
    late = len(measured) // 2
    per_case, per_second = slope(cases, rss), slope(times, rss)
    late_per_case = slope(cases[late:], rss[late:])
    quarter = max(1, len(measured) // 4)
    base = statistics.median(rss[:quarter])
    growth = int(statistics.median(rss[-quarter:]) - base)
    noise = residual(cases, rss, per_case)

    def verdict(leak: bool, reason: str) -> MemoryVerdict:
        return MemoryVerdict(leak, reason, per_case, per_second, late_per_case, growth,
                             int(noise), len(measured))

    if late_per_case < slope_threshold:
        return verdict(False, f"second-half slope {late_per_case:.1f} B/case < "
                              f"{slope_threshold:g}")
    if growth < min_growth:
        return verdict(False, f"growth {growth} B < {min_growth} B")
    if growth < growth_ratio * base:
        return verdict(False, f"growth {growth} B < {growth_ratio:.0%} of the warmed-up RSS "
                              f"({int(base)} B)")
    if growth < noise_factor * noise:
        return verdict(False, f"growth {growth} B < {noise_factor:g} x the noise around the "
                              f"fit ({int(noise)} B)")
    return verdict(True, f"{late_per_case:.0f} B/case to the end, {growth >> 10} KiB after "
                         "warm-up")


@dataclass
class MemoryWatch:
    """Samples a process's RSS every `interval` seconds; `sample(cases)` is cheap to call
    often (it reads /proc only when a sample is due)."""

    pid: int
    interval: float = 0.5
    samples: list[Sample] = field(default_factory=list)
    t0: float = field(default_factory=time.monotonic)
    due: float = 0.0

    def sample(self, cases: int, now: float | None = None) -> Sample | None:
        now = time.monotonic() if now is None else now
        if now < self.due:
            return None
        self.due = now + self.interval
        rss = rss_bytes(self.pid)
        if rss is None:
            return None
        taken = Sample(now - self.t0, cases, rss)
        self.samples.append(taken)
        return taken

    def verdict(self, **thresholds: Any) -> MemoryVerdict:
        return analyse(self.samples, **thresholds)

    def record(self, **thresholds: Any) -> dict[str, Any]:
        """The verdict with the RSS the run started and ended at, for the run's summary
        (whether or not it is a leak)."""
        first, last = (self.samples[0].rss, self.samples[-1].rss) if self.samples else (0, 0)
        verdict = self.verdict(**thresholds)
        decided = verdict.measured >= thresholds.get("min_samples", MIN_SAMPLES)
        return {**verdict.to_json(), "decided": decided, "samples": len(self.samples),
                "rss_first": first, "rss_last": last}

    def finding(self, broker: str, version: str, **thresholds: Any) -> Finding | None:
        """A "memory" finding when the verdict is a leak, with the curve as evidence."""
        verdict = self.verdict(**thresholds)
        if not verdict.leak:
            return None
        return Finding(oracle="memory", signature="memory|leak", case=None, broker=broker,
                       broker_version=version,
                       summary=f"resident memory keeps growing: {verdict.reason}",
                       evidence={"verdict": verdict.to_json(), "pid": self.pid,
                                 "curve": [[round(s.seconds, 2), s.cases, s.rss]
                                           for s in self.samples]})
