"""`mqttlab fuzz`: a bounded campaign that stops by itself and leaves its summary, and a
finding replayed against a broker that has the defect and one that has not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fuzz.case import Expect, Finding, FuzzCase
from fuzz.findings import FindingStore
from interop.profiles import profile_for
from mqttlab.cli import main


def test_a_bounded_campaign_on_the_reference_broker_is_clean(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["fuzz", "run", "--count", "400", "--seed", "3", "--workers", "1",
                 "--no-memory", "--findings", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    summary = json.loads((tmp_path / "summary.json").read_text())
    [run] = summary["runs"]
    assert run["broker"] == "reference" and run["cases"] >= 400 and run["findings"] == []
    assert "| reference |" in (tmp_path / "summary.md").read_text()


def test_a_broker_in_its_own_process_gets_a_memory_verdict(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["fuzz", "run", "--broker", "reference-process", "--count", "300", "--seed",
                 "4", "--findings", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    [run] = json.loads((tmp_path / "summary.json").read_text())["runs"]
    assert run["broker"] == "reference-process" and run["findings"] == []
    memory = run["memory"]
    assert memory["leak"] is False and memory["samples"] >= 1 and memory["rss_first"] > 0
    assert "- **reference-process** memory: no leak (" in (tmp_path / "summary.md").read_text()


def reserved_flags_finding(broker: str) -> Finding:
    """A PUBACK with reserved flags 1011 (MQTT-2.2.2-2), which a broker must refuse."""
    case = FuzzCase(seed=1, level=4, frames=(bytes.fromhex("4b 02 8c 37"),),
                    generator="malformed:reserved_flags", malformation="reserved_flags",
                    statements=("MQTT-2.2.2-2",), expect=Expect.CLOSE)
    return Finding("reaction", "reaction|reserved_flags|close->BARRIER", case, broker, "x",
                   "accepted a PUBACK with reserved flags")


def test_replay_says_whether_the_finding_reproduces(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = FindingStore(tmp_path).add(reserved_flags_finding("reference"))
    assert main(["fuzz", "replay", str(path)]) == 0  # the reference broker closes
    assert "not reproduced" in capsys.readouterr().out
    if profile_for("mosquitto").available() is None:  # Mosquitto 2.0.11 ignores them
        code = main(["fuzz", "replay", str(path), "--broker", "mosquitto"])
        out = capsys.readouterr().out
        assert code == 1 and out.rstrip().endswith("reproduced")
        assert "not reproduced" not in out


@pytest.mark.parametrize(("args", "says"), [
    (["run", "--broker", "nope"], "unknown broker 'nope'"),
    (["run", "--count", "0"], "must be positive"),
    (["run", "--versions", "9"], "unknown MQTT version"),
    (["replay", "/nonexistent.json"], "no finding file"),
])
def test_user_mistakes_are_one_line(capsys: pytest.CaptureFixture[str], args: list[str],
                                    says: str) -> None:
    assert main(["fuzz", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err
