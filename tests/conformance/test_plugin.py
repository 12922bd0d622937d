"""The pytest plugin end to end: `pytest conformance` against the embedded reference broker,
against a broker that lacks the behaviour (FAIL), one that is not there (ERROR), and with a
capability declared absent (NOT APPLICABLE); the JSON results carry the wire logs."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conformance import fake_brokers

ROOT = Path(__file__).resolve().parents[2]


TWO_CASES = ("connect.first-packet-must-be-connect",
             "connect.second-connect-is-a-protocol-violation")


def run_suite(*args: str) -> subprocess.CompletedProcess[str]:
    """Two cases of connect.py under the three versions (six items)."""
    items = [f"conformance/cases/connect.py::{c}[{v}]" for c in TWO_CASES
             for v in ("3.1", "3.1.1", "5.0")]
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *items, "-q", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def lenient_broker() -> Iterator[int]:
    """Answers every CONNECT with a CONNACK and never closes anything: it lacks the
    behaviour the connect cases check."""
    with fake_brokers.lenient_broker() as port:
        yield port


def test_embedded_reference_broker_passes(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    result = run_suite("--results", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS: 6" in result.stdout
    results = json.loads(out.read_text())["results"]
    assert {r["outcome"] for r in results} == {"PASS"}
    assert all(r["wire_log"] for r in results)


def test_lenient_broker_fails_with_wire_log(lenient_broker: int, tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    result = run_suite("--broker", f"127.0.0.1:{lenient_broker}", "--wait-timeout", "0.3",
                       "--results", str(out))
    assert result.returncode == 1
    assert "FAIL: 6" in result.stdout
    assert "expected: the broker closes the connection" in result.stdout
    assert "closed-by-us" in result.stdout  # the wire log is shown
    failed = json.loads(out.read_text())["results"]
    assert {r["outcome"] for r in failed} == {"FAIL"}
    assert failed[0]["statements"] and failed[0]["expected"] and failed[0]["observed"]


def test_absent_broker_is_one_line_not_a_run_of_failures() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    result = run_suite("--broker", f"127.0.0.1:{port}", "--mqtt-versions", "3.1.1")
    assert result.returncode == 4  # pytest's usage error
    assert f"cannot reach the broker at 127.0.0.1:{port}" in result.stdout, result.stdout
    assert "FAIL" not in result.stdout and "Traceback" not in result.stdout + result.stderr


def test_versions_not_tested_are_not_applicable() -> None:
    result = run_suite("--mqtt-versions", "5.0", "-rs")
    assert "PASS: 2" in result.stdout and "NOT APPLICABLE: 4" in result.stdout
    assert "NOT APPLICABLE: MQTT 3.1.1 is not tested" in result.stdout


def test_bad_target_is_one_line() -> None:
    result = run_suite("--broker", "203.0.113.5:1883")
    assert result.returncode != 0
    assert "not a loopback address" in result.stdout + result.stderr


def test_xdist_and_junit_carry_the_outcomes(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    result = run_suite("-n", "2", "--junitxml", str(junit))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS: 6" in result.stdout  # the summary gathers the workers' results
    assert "server statements have cases" in result.stdout
    cases = ET.parse(junit).getroot().findall(".//testcase")
    assert len(cases) == 6
    outcomes = [json.loads(p.get("value", "{}"))["outcome"] for c in cases
                for p in c.iter("property") if p.get("name") == "mqtt_result"]
    assert outcomes == ["PASS"] * 6
