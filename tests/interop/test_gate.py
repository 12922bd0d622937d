"""The CI gate: only a (case, version) that got worse than its baseline fails the run, and it
is listed with its wire log; better outcomes and one-off slips are reported, not fatal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.case import Outcome, Result
from conformance.faults import load_faults
from conformance.faults.base import Patcher
from conformance.wirelog import WireLog
from interop import gate
from interop.profiles import profile_for
from mqttlab.cli import main

CASE = "connect.first-packet-must-be-connect"


def result(case: str, version: str, outcome: str) -> Result:
    return Result(case, "a case", version, ("MQTT-3.1.0-1",), "MUST", Outcome(outcome), "x",
                  "y", WireLog(), 0.0)


def test_compare_ranks_outcomes() -> None:
    baseline = {"a@5.0": "PASS", "b@5.0": "FAIL", "c@5.0": "NON-STRICT", "d@5.0": "PASS",
                "gone@5.0": "PASS", "e@5.0": "NOT APPLICABLE"}
    found = gate.compare(baseline, [
        result("a", "5.0", "FAIL"),  # worse
        result("b", "5.0", "PASS"),  # better
        result("c", "5.0", "NOT APPLICABLE"),  # same rank
        result("d", "5.0", "ERROR"),  # worse
        result("e", "5.0", "INFO"),  # better
        result("new-fail", "5.0", "FAIL"),  # not in the baseline, fails
        result("new-pass", "5.0", "PASS"),  # not in the baseline, fine
    ])
    assert [c.line() for c in found.regressions] == [
        "a [MQTT 5.0]: PASS -> FAIL", "d [MQTT 5.0]: PASS -> ERROR",
        "new-fail [MQTT 5.0]: not in the baseline -> FAIL"]
    assert [(c.case, c.after) for c in found.improvements] == [("b", "PASS"), ("e", "INFO")]
    assert found.gone == ["gone@5.0"]


def test_a_regression_that_passes_when_run_again_is_unstable(tmp_path: Path) -> None:
    broker = profile_for("reference").start(tmp_path)
    try:
        found = gate.compare({f"{CASE}@3.1.1": "PASS"}, [result(CASE, "3.1.1", "FAIL")])
        gate.confirm(found, {f"{CASE}@3.1.1": "PASS"}, broker, broker.target())
    finally:
        broker.stop()
    assert found.regressions == []
    assert [(c.case, c.reruns) for c in found.unstable] == [(CASE, ["PASS"])]


def baseline_for(tmp_path: Path, outcome: str) -> Path:
    folder = tmp_path / "baselines"
    folder.mkdir()
    (folder / "reference.json").write_text(json.dumps({
        "schema": gate.BASELINE_SCHEMA, "broker": "reference", "version": "x", "made": "y",
        "outcomes": {f"{CASE}@{v}": outcome for v in ("3.1", "3.1.1", "5.0")}}))
    return folder


def run_gate(tmp_path: Path, baselines: Path, *extra: str) -> int:
    return main(["gate", "--broker", "reference", "--cases", CASE, "--quiet", "--baselines",
                 str(baselines), "--results", str(tmp_path / "results"), *extra])


def test_gate_passes_a_broker_as_good_as_its_baseline(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_gate(tmp_path, baseline_for(tmp_path, "PASS")) == 0
    assert "reference: 0 regressions" in capsys.readouterr().out


def test_gate_fails_on_a_regression_and_shows_its_wire_log(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    patcher = Patcher()
    load_faults()["connect.serves-before-connect"].install(patcher)
    summary = tmp_path / "summary.md"
    try:
        code = run_gate(tmp_path, baseline_for(tmp_path, "PASS"), "--summary", str(summary),
                        "--timeout", "0.3")
    finally:
        patcher.undo()
    out = capsys.readouterr().out
    assert code == 1
    assert "reference: 3 regressions" in out
    assert f"REGRESSION {CASE} [MQTT 3.1.1]: PASS -> FAIL (re-runs: FAIL, FAIL)" in out
    assert "wire log:" in out and "Publish(" in out
    assert "3 regressions" in summary.read_text()


def test_gate_update_writes_the_baseline(tmp_path: Path) -> None:
    folder = tmp_path / "baselines"
    assert run_gate(tmp_path, folder, "--update") == 0
    written = json.loads((folder / "reference.json").read_text())
    assert written["schema"] == gate.BASELINE_SCHEMA
    assert written["outcomes"] == {f"{CASE}@{v}": "PASS" for v in ("3.1", "3.1.1", "5.0")}
    assert run_gate(tmp_path, folder) == 0


def test_gate_without_a_baseline_says_how_to_make_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_gate(tmp_path, tmp_path / "nowhere") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "mqttlab gate --update" in err[0]
