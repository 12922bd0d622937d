"""summary.md: totals, disagreements, who did not run, FAILs; escaped and small."""

from __future__ import annotations

from pathlib import Path

from interop.report import render_reports
from interop.report.clients import load_clients
from interop.report.markdown import FAIL_ROWS, escape, summary_markdown
from interop.report.model import load_matrix
from tests.interop.report_support import document, result, write_json, write_sample


def test_summary_of_the_sample(tmp_path: Path) -> None:
    results = write_sample(tmp_path / "results")
    render_reports(results, tmp_path / "out")
    summary = (tmp_path / "out" / "summary.md").read_text(encoding="utf-8")
    assert "| Broker | Broker version | MQTT | PASS | FAIL | NON-STRICT | NOT APPLICABLE | INFO "\
           "| ERROR |" in summary
    assert "| alpha | alpha 1.0 | 3.1.1 | 3 | 0 | 1 | 0 | 0 | 0 |" in summary
    beta_version = "beta \\<script\\>alert\\('broker'\\)\\</script\\>"
    assert f"| beta | {beta_version} | 5.0 | 1 | 1 | 0 | 1 | 0 | 0 |" in summary
    assert "**2** rows (case, MQTT version) where brokers disagree (alpha / beta: 2)" in summary
    assert "- **gamma** (not available): gamma is not built here" in summary
    assert "Client interop: 2 results over 2 client/broker pairs (PASS 1, FAIL 1)" in summary
    assert "## FAIL: beta (2)" in summary and "## FAIL: alpha" not in summary
    assert "- `publish.delivered` MQTT 5.0 MQTT-3.3.1-1: the broker answered \\<script\\>" \
           in summary
    assert "- malformed input (1), by class: reserved-flags 1" in summary
    assert "<script>" not in summary
    assert "2026-11-24T17:34:33Z" in summary and "Python 3.11.7" in summary


def test_summary_stays_small_however_many_fails(tmp_path: Path) -> None:
    fails = [result(f"case.{i:04d}", "5.0", "FAIL", ("MQTT-3.1.0-1",), observed="x" * 10_000)
             for i in range(500)]
    fails += [result(f"malformed.connect.kind{i}-0x0{i % 10}", "5.0", "FAIL", ("MQTT-2.1.3-1",))
              for i in range(300)]
    write_json(tmp_path / "big.json", document("big", fails))
    summary = summary_markdown(load_matrix(tmp_path), None)
    assert len(summary.encode()) < 20_000
    assert summary.count("- `case.") == FAIL_ROWS
    assert f"- and {500 - FAIL_ROWS} more" in summary
    assert "malformed input (300), by class:" in summary and "and 280 more classes" in summary


def test_escape_keeps_one_short_inert_line() -> None:
    assert escape("a | b\nc") == "a \\| b c"
    assert escape("[link](javascript:x) *bold* <b>") == \
        "\\[link\\]\\(javascript:x\\) \\*bold\\* \\<b\\>"
    assert escape("y" * 500, limit=10) == "y" * 10 + "…"


def test_clients_line_only_with_clients(tmp_path: Path) -> None:
    write_sample(tmp_path, clients=True)
    matrix = load_matrix(tmp_path)
    assert "Client interop" not in summary_markdown(matrix, None)
    clients = load_clients(tmp_path / "clients.json")
    assert "Client interop: 2 results" in summary_markdown(matrix, clients)
