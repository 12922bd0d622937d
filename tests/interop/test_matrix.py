"""The matrix runner: one results document per broker in the one schema, whatever happens to
the broker (ran, not available, failed to start, died mid-run)."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from conformance.case import Outcome, Result
from conformance.runner import RESULTS_SCHEMA
from interop.brokers import BrokerFailed, RunningBroker, free_port, launch
from interop.matrix import run_broker, run_matrix
from interop.profiles import profile_for

ROOT = Path(__file__).resolve().parents[2]


class SubprocessReference:
    """The reference broker as a process we can kill, to play a broker that dies."""

    name = "dying"
    description = "a reference broker in a subprocess"

    def available(self) -> str | None:
        return None

    def version(self) -> str:
        return "dying 1.0"

    def start(self, workdir: Path) -> RunningBroker:
        port = free_port()
        command = [sys.executable, "-m", "reference_broker", "--host", "127.0.0.1",
                   "--port", str(port)]
        process = launch(self.name, command, workdir, port,
                         env={"PYTHONPATH": str(ROOT)}, cwd=ROOT)
        self.pid = process.popen.pid
        return RunningBroker(self.name, self.version(), port, process=process)


class Unavailable:
    name = "absent"
    description = "a broker that is not installed"

    def available(self) -> str | None:
        return "absent is not installed: apt-get install -y absent"

    def version(self) -> str:
        raise AssertionError("the version of an absent broker is not asked for")

    def start(self, workdir: Path) -> RunningBroker:
        raise AssertionError("an absent broker is not started")


class FailsToStart(Unavailable):
    name = "broken"

    def available(self) -> str | None:
        return None

    def version(self) -> str:
        return "broken 0.1"

    def start(self, workdir: Path) -> RunningBroker:
        raise BrokerFailed("broken exited (exit code 3): cannot read its config")


def test_reference_run_writes_one_document_in_the_results_schema(tmp_path: Path) -> None:
    runs = run_matrix([profile_for("reference")], tmp_path, patterns=["connect.first-*"])
    document = json.loads((tmp_path / "reference.json").read_text())
    assert document["schema"] == RESULTS_SCHEMA
    broker = document["run"]["broker"]
    assert (broker["name"], broker["status"]) == ("reference", "ran")
    assert broker["version"].startswith("mqtt-conformance-lab")
    assert {r["version"] for r in document["results"]} == {"3.1", "3.1.1", "5.0"}
    assert all(r["outcome"] == "PASS" and r["wire_log"] for r in document["results"])
    assert runs[0].counts() == {"PASS": 3}


def test_brokers_that_cannot_run_are_a_status_not_a_crash(tmp_path: Path) -> None:
    runs = run_matrix([Unavailable(), FailsToStart()], tmp_path)
    assert [(r.status, r.document["results"]) for r in runs] == [
        ("not available", []), ("failed to start", [])]
    absent = json.loads((tmp_path / "absent.json").read_text())["run"]["broker"]
    assert absent["reason"] == "absent is not installed: apt-get install -y absent"
    assert "cannot read its config" in runs[1].document["run"]["broker"]["reason"]


def test_a_broker_that_dies_mid_run_leaves_the_rest_error(tmp_path: Path) -> None:
    profile = SubprocessReference()
    seen: list[Result] = []
    killed: list[int] = []

    def kill_after_some(result: Result) -> None:
        seen.append(result)
        if len(seen) == 5 and not killed:
            killed.append(1)
            os.kill(profile.pid, signal.SIGKILL)

    run = run_broker(profile, tmp_path, patterns=["connect.*"], jobs=1,
                     on_result=kill_after_some)
    broker = run.document["run"]["broker"]
    assert broker["status"] == "died"
    assert "killed by SIGKILL" in broker["reason"]
    outcomes = [r["outcome"] for r in run.document["results"]]
    assert outcomes[:5] == ["PASS"] * 5
    assert set(outcomes[6:]) == {"ERROR"}
    assert all("not run: dying stopped during the run (killed by SIGKILL)" in r["observed"]
               for r in run.document["results"][7:])
    assert run.results[6].outcome is Outcome.ERROR
