"""The whole suite against the reference broker: every case PASS, NOT APPLICABLE or INFO
(anything else is a bug in one of the two); the outcome counts are written to results/ and
shown by CI.  Other brokers are held to their baselines by the gate (interop/gate.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from conformance.case import Outcome, Result
from conformance.discover import discover
from conformance.embedded import aimed_at, start_reference
from conformance.runner import (
    broker_record,
    load_cases,
    plan,
    results_document,
    run_plan,
    summarise,
)
from conformance.target import Target

ROOT = Path(__file__).resolve().parents[2]
ACCEPTED = {Outcome.PASS, Outcome.NOT_APPLICABLE, Outcome.INFO}


def run_suite(target: Target) -> tuple[Target, list[Result]]:
    target = discover(target).target
    work = plan(load_cases().values(), (3, 4, 5))
    return target, run_plan(target, work, jobs=16)


def describe(results: list[Result]) -> str:
    return "\n\n".join(r.render() for r in results)


def record(name: str, version: str, target: Target, results: list[Result],
           started: float) -> list[str]:
    """results/<name>.json and results/<name>-summary.txt (CI prints the summary)."""
    document = results_document(target, results, started, broker_record(name, version))
    out = ROOT / "results"
    out.mkdir(exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(document, indent=1), encoding="utf-8")
    lines = [f"{name} ({version}): {len(results)} runs in {time.time() - started:.1f} s",
             *summarise(document["results"]),
             *(f"  {r.line()}" for r in results if r.outcome in (Outcome.FAIL, Outcome.ERROR))]
    (out / f"{name}-summary.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lines


def test_reference_broker_passes_the_whole_suite() -> None:
    started = time.time()
    broker = start_reference()
    try:
        target, results = run_suite(aimed_at(broker, Target()))
    finally:
        broker.stop()
    record("reference", "embedded", target, results, started)
    bad = [r for r in results if r.outcome not in ACCEPTED]
    assert not bad, describe(bad[:10])
    assert len(results) >= 1500


def test_reference_broker_with_an_acl_passes_the_authorisation_cases() -> None:
    from conformance.faults.authz import DENIED_ACL, DENIED_TOPIC

    broker = start_reference(acl_file=DENIED_ACL)
    try:
        target = discover(aimed_at(broker, Target(denied_topic=DENIED_TOPIC))).target
        results = run_plan(target, plan(load_cases().values(), (3, 4, 5), ["authz.*"]))
    finally:
        broker.stop()
    assert len(results) == 4
    assert {r.outcome for r in results} == {Outcome.PASS}, describe(results)
