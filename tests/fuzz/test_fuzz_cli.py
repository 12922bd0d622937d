"""`mqttlab fuzz`: a bounded campaign that stops by itself and leaves its summary, a memory
verdict for a broker process it started, a finding replayed against a broker that has the
defect and one that has not, and SIGTERM stopping the run with its broker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
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
    # 300 cases take well under the 8 samples after warm-up a verdict needs
    assert memory["decided"] is False
    assert ("- **reference-process** memory: no verdict (too few samples"
            in (tmp_path / "summary.md").read_text())


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


def _children(pid: int) -> list[int]:
    """Direct child processes of `pid`, from /proc."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        if f"\nPPid:\t{pid}\n" in text:
            found.append(int(status.parent.name))
    return found


def test_sigterm_stops_the_run_and_the_broker_it_started(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mqttlab", "fuzz", "run", "--broker", "reference-process",
         "--seconds", "60", "--seed", "5", "--findings", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        assert "fuzzing reference-process" in proc.stdout.readline()
        deadline = time.monotonic() + 20
        brokers: list[int] = []
        while not brokers and time.monotonic() < deadline:  # the broker process it launched
            brokers = [pid for pid in _children(proc.pid) if b"reference_broker" in
                       Path(f"/proc/{pid}/cmdline").read_bytes()]
            time.sleep(0.1)
        assert brokers
        os.kill(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out
    assert "mqttlab fuzz: interrupted" in out and "Traceback" not in out
    for pid in brokers:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(
            f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
