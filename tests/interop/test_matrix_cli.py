"""`mqttlab matrix` end to end on a few cases, and its one-line answers to user mistakes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mqttlab.cli import main


def matrix(tmp_path: Path, *extra: str) -> int:
    return main(["matrix", "--quiet", "--results", str(tmp_path / "results"),
                 "--reports", str(tmp_path / "reports"), *extra])


def test_matrix_writes_results_and_reports(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code = matrix(tmp_path, "--broker", "reference", "--cases", "connect.first-*",
                  "--no-clients")
    out = capsys.readouterr().out
    assert code == 0, out
    assert "reference (mqtt-conformance-lab" in out and "PASS 3" in out
    document = json.loads((tmp_path / "results" / "reference.json").read_text())
    assert document["run"]["broker"]["status"] == "ran"
    index = (tmp_path / "reports" / "index.html").read_text()
    assert "connect.first-packet-must-be-connect" in index
    assert (tmp_path / "reports" / "summary.md").exists()


def test_matrix_runs_the_client_scenarios_too(tmp_path: Path) -> None:
    assert matrix(tmp_path, "--broker", "reference", "--cases", "connect.first-*",
                  "--versions", "5.0") == 0
    clients = json.loads((tmp_path / "results" / "clients.json").read_text())
    ran = [r for r in clients["results"] if r["client"] == "paho-mqtt"]
    assert ran and {r["outcome"] for r in ran} == {"PASS"}
    assert (tmp_path / "reports" / "clients.html").exists()


@pytest.mark.parametrize(("args", "says"), [
    (["--broker", "nope"], "unknown broker 'nope'"),
    (["--broker", "10.1.2.3:1883"], "not a loopback address"),
    (["--broker", "reference", "--versions", "4.0"], "unknown MQTT version"),
    (["--broker", "reference", "--cases", "no-such-case"], "no case matches"),
])
def test_user_mistakes_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    args: list[str], says: str) -> None:
    assert matrix(tmp_path, *args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err


def test_a_named_broker_that_cannot_run_here_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MQTTLAB_RSMB", raising=False)
    assert matrix(tmp_path, "--broker", "rsmb") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--rsmb PATH" in err[0]
