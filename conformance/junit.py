"""JUnit XML from conformance results, for CI systems that render it.

Strategy: one <testsuite> per MQTT version, one <testcase> per (case, version) named by its
stable case ID; FAIL is a <failure>, ERROR an <error>, NOT APPLICABLE <skipped>; NON-STRICT and
INFO pass with their observation in <system-out>.  The wire log of every non-PASS result goes
in <system-out>.  Built with ElementTree, which escapes whatever the broker sent.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any


def junit_xml(results: Iterable[dict[str, Any]], name: str = "mqtt-conformance") -> bytes:
    suites = ET.Element("testsuites", name=name)
    by_version: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        by_version.setdefault(r["version"], []).append(r)
    for version, rows in sorted(by_version.items()):
        suite = ET.SubElement(suites, "testsuite", name=f"{name} MQTT {version}",
                              tests=str(len(rows)),
                              failures=str(sum(r["outcome"] == "FAIL" for r in rows)),
                              errors=str(sum(r["outcome"] == "ERROR" for r in rows)),
                              skipped=str(sum(r["outcome"] == "NOT APPLICABLE" for r in rows)),
                              time=f"{sum(r['duration'] for r in rows):.3f}")
        for r in rows:
            case = ET.SubElement(suite, "testcase", classname=f"MQTT {version}",
                                 name=r["case"], time=f"{r['duration']:.3f}")
            text = (f"{r['outcome']}: {r['title']}\nstatements: {', '.join(r['statements'])}"
                    f"\nexpected: {r['expected']}\nobserved: {r['observed']}")
            if r["outcome"] == "FAIL":
                ET.SubElement(case, "failure", message=r["observed"][:200]).text = text
            elif r["outcome"] == "ERROR":
                ET.SubElement(case, "error", message=r["observed"][:200]).text = text
            elif r["outcome"] == "NOT APPLICABLE":
                ET.SubElement(case, "skipped", message=r["observed"][:200])
            if r["outcome"] != "PASS":
                ET.SubElement(case, "system-out").text = text + "\n" + _log(r)
    data: bytes = ET.tostring(suites, encoding="utf-8", xml_declaration=True)
    return data


def _log(r: dict[str, Any]) -> str:
    return "\n".join(f"{e['at']:8.3f}s {e['client']:>8} {e['kind']:16} {e['summary']}"
                     + (f"\n{'':28}{e['hex']}" if e["hex"] else "") for e in r["wire_log"])
