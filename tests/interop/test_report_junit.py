"""junit/<broker>.xml: conformance/junit.py's JUnit for every broker that ran."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from interop.report import render_reports
from tests.interop.report_support import SCRIPT, write_sample


def test_one_junit_file_per_broker_that_ran(tmp_path: Path) -> None:
    render_reports(write_sample(tmp_path / "results"), tmp_path / "out")
    junit = tmp_path / "out" / "junit"
    assert sorted(p.name for p in junit.iterdir()) == ["alpha.xml", "beta.xml"]
    root = ET.parse(junit / "beta.xml").getroot()
    assert root.get("name") == "mqtt-conformance beta"
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    v311 = suites["mqtt-conformance beta MQTT 3.1.1"]
    v5 = suites["mqtt-conformance beta MQTT 5.0"]
    assert (v311.get("tests"), v311.get("failures"), v311.get("errors")) == ("4", "1", "1")
    assert (v5.get("tests"), v5.get("failures"), v5.get("skipped")) == ("3", "1", "1")
    [failure] = [case for case in v5.iter("testcase") if case.find("failure") is not None]
    assert failure.get("name") == "publish.delivered"
    system_out = failure.findtext("system-out") or ""
    assert SCRIPT in system_out and "broker-violation" in system_out  # escaped by the XML writer
