"""JUnit XML per broker that ran, for CI systems that render it.

Strategy: conformance/junit.py already turns results-schema rows into JUnit (a suite per MQTT
version; FAIL a <failure>, ERROR an <error>, NOT APPLICABLE <skipped>, the wire log of every
non-PASS result in <system-out>); this feeds it each broker's results back in their schema
shape and writes `junit/<broker>.xml`.
"""

from __future__ import annotations

from pathlib import Path

from conformance.junit import junit_xml
from interop.report.model import Matrix, safe_name


def write_junit(matrix: Matrix, out_dir: Path) -> list[Path]:
    written = []
    for run in matrix.ran:
        path = out_dir / "junit" / f"{safe_name(run.name)}.xml"
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = (result.to_json() for result in matrix.results_of(run.name))
        path.write_bytes(junit_xml(rows, name=f"mqtt-conformance {run.name}"))
        written.append(path)
    return written
