"""`mqttlab run`, discovery, coverage, JUnit and the proof runner, end to end on small
selections of cases (the full suite runs in test_full_suite.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conformance.canfail import cases_for, run_fault
from conformance.case import Case, CaseContext, Outcome, run_case
from conformance.client import WaitTimeout
from conformance.coverage import coverage, coverage_lines
from conformance.discover import discover
from conformance.faults import FAULTS, Fault, load_faults
from conformance.runner import chapter_of, load_cases, plan, summarise
from conformance.target import Target, TargetError
from mqttspec.catalogue import load_catalogue
from tests.conformance import fake_brokers

ROOT = Path(__file__).resolve().parents[2]


def mqttlab(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mqttlab", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300, check=False)


def test_run_on_the_embedded_broker_writes_json_and_junit(tmp_path: Path) -> None:
    result = mqttlab("run", "--cases", "connect.*", "--junit", "junit.xml", "--quiet",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "against the embedded reference broker" in result.stdout
    assert "FAIL: 0" in result.stdout and "ERROR: 0" in result.stdout
    assert "server statements have cases" in result.stdout
    document = json.loads((tmp_path / "results/conformance.json").read_text())
    assert document["run"]["target"]["versions"] == ["3.1", "3.1.1", "5.0"]
    assert document["results"] and all(r["wire_log"] for r in document["results"])
    suites = ET.parse(tmp_path / "junit.xml").getroot()
    assert {s.get("name") for s in suites} == {f"mqtt-conformance MQTT {v}"
                                               for v in ("3.1", "3.1.1", "5.0")}


def test_run_against_a_lenient_broker_fails(tmp_path: Path) -> None:
    with fake_brokers.lenient_broker() as port:
        result = mqttlab("run", "--broker", f"127.0.0.1:{port}", "--cases",
                         "connect.second-connect*", "--timeout", "0.3", cwd=tmp_path)
    assert result.returncode == 1
    assert "FAIL  connect.second-connect-is-a-protocol-violation [MQTT 3.1.1]" in result.stdout
    rows = json.loads((tmp_path / "results/conformance.json").read_text())["results"]
    assert {r["outcome"] for r in rows} == {"FAIL"}


@pytest.mark.parametrize("args, message", [
    (("--broker", "127.0.0.1:1"), "cannot reach the broker at 127.0.0.1:1"),
    (("--broker", "192.0.2.7:1883"), "is not a loopback address"),
    (("--versions", "4.0"), "unknown MQTT version"),
    (("--cases", "no-such-case*"), "no case matches"),
])
def test_user_mistakes_are_one_line(args: tuple[str, ...], message: str,
                                    tmp_path: Path) -> None:
    result = mqttlab("run", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_discovery_drops_refused_versions_and_reads_v5_capabilities() -> None:
    # CONNACK properties: Receive Maximum 10, Maximum QoS 1, Retain Available 0,
    # Shared Subscription Available 0
    props = b"\x21\x00\x0a\x24\x01\x25\x00\x2a\x00"
    connack = b"\x20" + bytes([3 + len(props)]) + b"\x00\x00" + bytes([len(props)]) + props
    with fake_brokers.lenient_broker(refuse_levels=(3,), v5_connack=connack) as port:
        found = discover(Target(port=port, timeout=1))
    assert found.target.levels == (4, 5)
    assert found.refused["3.1"] == "CONNACK return code 0x01"
    assert dict(found.target.untested)[3] == "CONNACK return code 0x01"
    caps = found.target.capabilities
    assert (caps.receive_maximum, caps.maximum_qos, caps.retain_available) == (10, 1, False)
    assert not caps.shared_subscriptions and caps.wildcard_subscriptions


def test_discovery_of_an_absent_broker_is_a_target_error() -> None:
    with fake_brokers.lenient_broker() as port:
        pass
    with pytest.raises(TargetError, match="cannot reach"):
        discover(Target(port=port, timeout=1))


def test_coverage_is_computed_from_the_catalogue() -> None:
    catalogue = load_catalogue()
    server_311 = [s for s in catalogue.binding_server() if s.version == "3.1.1"]
    one = Case("x", "x", {"3.1.1": (server_311[0].id,), "5.0": ()}, "MUST", (4,), (),
               lambda ctx: None, "m")
    chapters = coverage([one], catalogue)["3.1.1"]
    assert sum(c.total for c in chapters.values()) == len(server_311) == 106
    assert sum(c.with_cases for c in chapters.values()) == 1
    untestable = sum(1 for s in server_311 if s.coverage.untestable)
    assert sum(c.untestable for c in chapters.values()) == untestable
    assert next(coverage_lines([one], per_chapter=False)).startswith(
        "MQTT 3.1.1: 1/106 server statements have cases (0.9%)")


def test_plan_and_summary() -> None:
    cases = load_cases()
    work = plan(cases.values(), (4,), ["connect.*"])
    assert work and all(lv == 4 and c.id.startswith("connect.") for c, lv in work)
    assert chapter_of(["MQTT-3.1.2-3"]) == "3.1" and chapter_of(["MQTT-4.8.0-1"]) == "4.8"
    lines = list(summarise([{"outcome": "PASS", "version": "5.0",
                             "statements": ["MQTT-3.1.0-1"]}]))
    assert lines[0].startswith("PASS: 1") and "chapter 3.1" in lines[1]


def test_every_fault_names_statements_of_the_catalogue() -> None:
    ids = {(s.version, s.id) for s in load_catalogue()}
    for f in load_faults().values():
        assert f.v3 or f.v5 or f.cases, f.id
        for sid in f.v3:
            assert ("3.1.1", sid) in ids, (f.id, sid)
        for sid in f.v5:
            assert ("5.0", sid) in ids, (f.id, sid)


def test_a_fault_turns_its_cases_to_fail() -> None:
    run = run_fault("connect.accepts-second-connect", timeout=0.3)
    assert not run.error
    second_connect = {k: v for k, v in run.outcomes.items()
                      if k.startswith("connect.second-connect-is-a-protocol-violation")}
    assert len(second_connect) == 3 and set(second_connect.values()) == {Outcome.FAIL.value}


def test_a_fault_that_removes_nothing_is_caught_by_no_case() -> None:
    load_faults()
    FAULTS["test.nothing"] = Fault("test.nothing", "removes nothing", ("MQTT-3.1.0-2",),
                                   ("MQTT-3.1.0-2",), lambda p: None)
    try:
        assert cases_for(FAULTS["test.nothing"], list(load_cases().values()))
        run = run_fault("test.nothing", timeout=0.3)
    finally:
        del FAULTS["test.nothing"]
    assert not run.error and run.outcomes and not run.caught


def test_a_case_is_bounded_as_a_whole() -> None:
    def endless(ctx: CaseContext) -> None:
        c = ctx.connected()
        while True:  # each wait is short, but the case as a whole runs out
            try:
                c.recv(timeout=0.05)
            except WaitTimeout as exc:
                if "case's time limit" in str(exc):
                    raise

    endless_case = Case("test.endless", "endless", {"3.1.1": ("MQTT-3.1.0-1",), "5.0": ()},
                        "MUST", (4,), (), endless, "m")
    with fake_brokers.lenient_broker() as port:
        result = run_case(endless_case, Target(port=port, timeout=0.2, case_timeout=0.5), 4)
    assert result.outcome is Outcome.FAIL
    assert "time limit (0.5 s) ran out" in result.observed


def test_discovery_reads_a_3_1_1_connack_to_mqtt_5_as_no_mqtt_5() -> None:
    with fake_brokers.lenient_broker(refuse_levels=(5,)) as port:  # answers 20 02 00 01
        found = discover(Target(port=port, timeout=1))
    assert found.target.levels == (3, 4)
    assert found.refused["5.0"].endswith(
        "answered with an MQTT 3.1.1 CONNACK (return code 0x01): no MQTT 5.0")
