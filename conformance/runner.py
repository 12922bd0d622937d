"""Running the suite outside pytest: load the cases, run them in parallel, summarise.

Strategy: cases are independent (unique client IDs and topic roots, retained messages
cleared), so (case, version) runs go to a thread pool; results come back as they finish, for
live progress.  The same functions serve `mqttlab run` (the suite against a broker), the
proof runner (conformance/canfail.py) and the pytest plugin's summary.  The summary counts
outcomes per MQTT version and spec chapter (the chapter of a case is that of its first
statement); `results_document` is the JSON every report is rendered from.
"""

from __future__ import annotations

import fnmatch
import importlib
import pkgutil
import platform
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from conformance import cases as cases_package
from conformance.case import REGISTRY, Case, Outcome, Result, result_json, run_case
from conformance.target import LEVEL_OF_VERSION, VERSION_OF_LEVEL, Target


def load_cases() -> dict[str, Case]:
    """Import every module under conformance/cases/ and return the registry."""
    for info in pkgutil.iter_modules(cases_package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{cases_package.__name__}.{info.name}")
    return REGISTRY


def plan(cases: Iterable[Case], levels: Iterable[int],
         patterns: Iterable[str] = ()) -> list[tuple[Case, int]]:
    """Every (case, level) to run: the case's levels among those asked for, and, when
    patterns are given, only cases whose ID matches one (shell-style, e.g. 'connect.*')."""
    wanted = set(levels)
    chosen = list(patterns)
    return [(c, lv) for c in cases for lv in c.levels
            if lv in wanted and (not chosen or any(fnmatch.fnmatchcase(c.id, p)
                                                   for p in chosen))]


def run_plan(target: Target, work: list[tuple[Case, int]], jobs: int = 8,
             on_result: Callable[[Result], None] | None = None,
             runner: Callable[[Case, Target, int], Result] = run_case) -> list[Result]:
    """Run every (case, level), `jobs` at a time; results in plan order.  `runner` runs one
    (the matrix wraps it to notice a broker that dies mid-run)."""
    results: dict[int, Result] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(runner, c, target, lv): i for i, (c, lv) in enumerate(work)}
        for future in as_completed(futures):
            result = future.result()
            results[futures[future]] = result
            if on_result is not None:
                on_result(result)
    return [results[i] for i in range(len(work))]


def chapter_of(statements: Iterable[str]) -> str:
    """'MQTT-3.1.2-3' -> '3.1' (the first statement's chapter), '?' for none."""
    for s in statements:
        section = s.split("-")[1]
        return ".".join(section.split(".")[:2]).removesuffix(".0")
    return "?"


def summarise(results: Iterable[dict[str, Any]]) -> Iterator[str]:
    """Lines: totals per outcome, then per version and chapter."""
    rows = list(results)
    totals = Counter(r["outcome"] for r in rows)
    yield "  ".join(f"{o.value}: {totals.get(o.value, 0)}" for o in Outcome)
    per: dict[tuple[str, str], Counter[str]] = {}
    for r in rows:
        per.setdefault((r["version"], chapter_of(r["statements"])), Counter())[r["outcome"]] += 1
    for (version, chapter), counts in sorted(per.items(), key=_chapter_key):
        shown = ", ".join(f"{o.value} {counts[o.value]}" for o in Outcome if counts[o.value])
        yield f"  MQTT {version:5} chapter {chapter:5} {shown}"


def _chapter_key(item: tuple[tuple[str, str], Any]) -> tuple[int, list[int]]:
    (version, chapter), _ = item
    return LEVEL_OF_VERSION.get(version, 0), [int(x) if x.isdigit() else 0
                                           for x in chapter.split(".")]


RESULTS_SCHEMA = "mqttlab/results-1"


def broker_record(name: str, version: str, status: str = "ran", reason: str = "",
                  log_tail: Iterable[str] = (), refused: dict[str, str] | None = None
                  ) -> dict[str, Any]:
    """What a results document says of the broker: status is "ran", "not available",
    "failed to start" or "died" (the reason and its log's last lines say why); `refused`
    maps the MQTT versions it did not accept to why."""
    return {"name": name, "version": version, "status": status, "reason": reason,
            "log_tail": list(log_tail), "refused": dict(refused or {})}


def results_document(target: Target | None, results: list[Result], started: float,
                     broker: dict[str, Any]) -> dict[str, Any]:
    """The JSON document of one run (one schema for every broker and run): metadata, the
    broker (see `broker_record`) and every result with its wire log."""
    return {
        "schema": RESULTS_SCHEMA,
        "run": {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
                "duration": round(time.time() - started, 2),
                "python": platform.python_version(),
                "target": None if target is None else {
                    "host": target.host, "port": target.port, "tls": target.tls,
                    "versions": [VERSION_OF_LEVEL[lv] for lv in target.levels],
                    "capabilities": _capabilities(target)},
                "broker": broker},
        "results": [result_json(r) for r in results],
    }


def _capabilities(target: Target) -> dict[str, Any]:
    caps = target.capabilities
    return {name: getattr(caps, name) for name in caps.__slots__}
