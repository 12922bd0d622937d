"""Fuzz case generation speed: cases/s of the default mix, of each family and of each class,
measured in this process (the network engine's target is >= 2,000 cases/s against Mosquitto, so
generating a case must cost well under 0.1 ms on average).  Each figure is the best of a few
timed passes over the same seeds, after a warm-up pass."""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from itertools import islice
from pathlib import Path

try:
    import fuzz.generators as gen
except ImportError:  # a checkout that is not installed: run from its root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import fuzz.generators as gen

TARGET_US = 100.0  # per case, on average: the ceiling; "well under" is the aim


def best_rate(run: Callable[[], int], seconds: float, passes: int = 3) -> float:
    """Cases per second: the best pass (each at least `seconds` long)."""
    run()  # warm-up (first use builds nothing lazily, but caches and branch paths settle)
    best = 0.0
    for _ in range(passes):
        done, start = 0, time.perf_counter()
        while True:
            done += run()
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        best = max(best, done / elapsed)
    return best


def mix_run(seed: int, count: int, mix: dict[str, float] | None = None) -> Callable[[], int]:
    def run() -> int:
        for _ in islice(gen.generate(seed, mix=mix), count):
            pass
        return count
    return run


def class_run(name: str, seed: int, count: int) -> Callable[[], int]:
    levels = gen.CLASS_LEVELS[name]

    def run() -> int:
        for i in range(count):
            gen.make_case(gen.case_seed(seed, i), levels[i % len(levels)], name)
        return count
    return run


def row(label: str, rate: float) -> str:
    us = 1e6 / rate if rate else float("inf")
    return f"{label:<40} {rate:>10,.0f} {us:>9.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=0.3, help="per timed pass")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=500, help="cases per inner run")
    parser.add_argument("--no-classes", action="store_true", help="mix and families only")
    args = parser.parse_args(argv)
    print(f"fuzz case generation, Python {platform.python_version()} on {platform.machine()}")
    print(f"{'generator':<40} {'cases/s':>10} {'us/case':>9}")
    mix = best_rate(mix_run(args.seed, args.count), args.seconds)
    print(row(f"default mix {gen.DEFAULT_MIX}"[:40], mix))
    for family in gen.FAMILIES:
        print(row(f"  family {family}", best_rate(mix_run(args.seed, args.count,
                                                          {family: 1.0}), args.seconds)))
    if not args.no_classes:
        for name in gen.CLASSES:
            rate = best_rate(class_run(name, args.seed, max(50, args.count // 5)),
                             args.seconds / 3, passes=2)
            print(row(f"    {name}", rate))
    us = 1e6 / mix
    verdict = "met" if us < TARGET_US / 2 else "met, not by much" if us < TARGET_US else "NOT MET"
    print(f"target: well under {TARGET_US:.0f} us per case on the mix: {us:.1f} us ({verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
