"""The HTML report: what each page shows, escaping, wire-log modes and caps, offline links."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from markupsafe import escape

from interop.report import render_reports
from interop.report.html import environment
from mqttspec.catalogue import load_catalogue
from tests.interop.report_support import (
    CONNECT_5,
    SCRIPT,
    PageLinks,
    alpha_results,
    document,
    event,
    result,
    write_json,
    write_sample,
)

ESCAPED_SCRIPT = "&lt;script&gt;alert("


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    base = tmp_path_factory.mktemp("html")
    out = base / "report"
    return out, render_reports(write_sample(base / "results"), out)


def esc(value: str) -> str:
    """`value` as the templates print it."""
    return str(escape(value))


def text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_every_part_is_written_and_returned(report: tuple[Path, list[Path]]) -> None:
    out, written = report
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert {p.relative_to(out).as_posix() for p in written} == on_disk
    assert {"index.html", "disagreements.html", "clients.html", "report.css", "summary.md",
            "junit/alpha.xml", "junit/beta.xml", "cases/publish.delivered.html",
            "cases/malformed.connect.reserved-flags-0001.html",
            "pcap/beta/publish.delivered--5.0.pcap"} <= on_disk
    # a capture only for a FAIL/ERROR whose log has bytes; no JUnit for a broker that never ran
    captures = [p for p in on_disk if p.startswith("pcap/")]
    assert captures == ["pcap/beta/publish.delivered--5.0.pcap"]
    assert "junit/gamma.xml" not in on_disk


def test_templates_autoescape() -> None:
    assert environment().autoescape is True


def test_what_a_broker_sent_comes_out_escaped(report: tuple[Path, list[Path]]) -> None:
    out, _ = report
    for page in out.rglob("*.html"):
        assert "<script>alert" not in text(page), page
    case = text(out / "cases" / "publish.delivered.html")
    assert f"the broker answered {esc(SCRIPT)}" in case  # observed
    assert f"sent back {esc(SCRIPT)}" in case  # wire-log summary
    assert ESCAPED_SCRIPT in text(out / "index.html")  # the broker's version string
    assert ESCAPED_SCRIPT in text(out / "clients.html")


def test_index_groups_rows_by_chapter_then_statement(report: tuple[Path, list[Path]]) -> None:
    page = text(report[0] / "index.html")
    chapters = re.findall(r"Chapter ([\d.]+)", page)
    assert chapters == ["3.1", "4.6", "3.1", "3.3"]  # the 3.1/3.1.1 table, then the 5.0 one
    assert "Chapter 3.1 CONNECT" in page and "Chapter 3.3 PUBLISH" in page
    statement = load_catalogue().get("MQTT-3.3.1-1", version="5.0")
    assert f'<a class="sid" href="{statement.url}">MQTT-3.3.1-1</a>' in page
    assert esc(statement.summary) in page
    assert re.search(r'<td class="o-fail"><a href="cases/publish\.delivered\.html#beta--5\.0"',
                     page)
    assert '<td class="o-non-strict"><a href="cases/qos.ordering.html#alpha--3.1.1"' in page


def test_index_header_says_who_ran_when_and_who_did_not(report: tuple[Path, list[Path]]) -> None:
    page = text(report[0] / "index.html")
    assert "refused: CONNACK return code 0x01" in page
    banner = page[page.index('id="not-run"'):page.index('id="totals"')]
    assert "gamma" in banner and "give its binary with --gamma PATH" in banner
    assert "2026-11-24T17:34:33Z" in page and "3.11.7" in page
    assert "mqtt-conformance-lab" in page
    assert "<strong>2</strong> rows (case, MQTT version) where brokers disagree" in page
    assert 'href="clients.html"' in page


def test_rows_carry_the_filter_flags(report: tuple[Path, list[Path]]) -> None:
    page = text(report[0] / "index.html")
    assert re.search(r'id="row--publish\.delivered--5\.0" data-disagree data-problem>', page)
    assert re.search(r'id="row--connect\.first-packet--3\.1\.1">', page)
    assert re.search(r'id="row--qos\.ordering--3\.1\.1" data-problem>', page)  # ERROR only


def test_malformed_rows_are_grouped_by_class_with_counts(report: tuple[Path, list[Path]]) -> None:
    page = text(report[0] / "index.html")
    start = page.index('<details class="group" id="malformed--3.1.1--reserved-flags"')
    group = page[start:page.index("</details>", start)]
    assert "data-disagree data-problem" in group
    assert group.count('<tr class="case"') == 2
    assert re.search(r'beta 3\.1\.1: <span class="chip o-pass">1 PASS</span> '
                     r'<span class="chip o-fail">1 FAIL</span>', group)
    assert 'id="malformed--5.0--reason-code"' in page
    assert "malformed.connect.reserved-flags-0001" not in page[:start]  # not in the chapters


def test_disagreements_page(report: tuple[Path, list[Path]]) -> None:
    page = text(report[0] / "disagreements.html")
    assert "publish.delivered" in page and "malformed.connect.reserved-flags-0001" in page
    assert "connect.first-packet" not in page and "qos.ordering" not in page
    assert re.search(r"<td>alpha</td><td>beta</td><td>2</td>", page)


def test_case_page_sections(report: tuple[Path, list[Path]]) -> None:
    out = report[0]
    page = text(out / "cases" / "publish.delivered.html")
    links = PageLinks(out / "cases" / "publish.delivered.html")
    assert {"mqtt-5.0", "alpha--5.0", "beta--5.0"} <= links.ids
    block = page[page.index('id="mqtt-5.0"'):page.index('id="alpha--5.0"')]
    summary = load_catalogue().get("MQTT-3.3.1-1", version="5.0").summary
    assert page.count(esc(summary)) == 1 and esc(summary) in block  # once per version
    assert 'href="../index.html#row--publish.delivered--5.0"' in block
    assert "brokers disagree" in block
    beta = page[page.index('id="beta--5.0"'):]
    alpha = page[page.index('id="alpha--5.0"'):page.index('id="beta--5.0"')]
    assert 'href="../pcap/beta/publish.delivered--5.0.pcap"' in beta
    assert ".pcap" not in alpha
    assert "the broker keeps to the statement" in beta  # expected
    assert CONNECT_5 in beta and "broker-violation" in beta and "closed-by-broker" in beta
    assert "0.0125 s" in beta


def test_mqtt_31_statements_come_from_the_311_catalogue(report: tuple[Path, list[Path]]) -> None:
    page = text(report[0] / "cases" / "connect.first-packet.html")
    section = page[page.index('id="mqtt-3.1"'):page.index('id="mqtt-3.1.1"')]
    statement = load_catalogue().get("MQTT-3.1.0-1", version="3.1.1")
    assert statement.url in section and esc(statement.summary) in section


def test_problems_mode_keeps_logs_only_where_someone_looks(tmp_path: Path) -> None:
    results = write_sample(tmp_path / "results")
    out = tmp_path / "out"
    render_reports(results, out, logs="problems")
    agreeing = text(out / "cases" / "connect.first-packet.html")
    assert agreeing.count("Wire log in the JSON results.") == 5  # every section PASS, agreed
    assert '<table class="wire">' not in agreeing
    disputed = text(out / "cases" / "publish.delivered.html")
    assert disputed.count('<table class="wire">') == 2  # the PASS of a disagreement too
    render_reports(results, out, logs="all")
    assert text(out / "cases" / "connect.first-packet.html").count('<table class="wire">') == 5
    with pytest.raises(ValueError, match="logs must be one of"):
        render_reports(results, out, logs="some")


def test_long_logs_summaries_and_hex_are_cut(tmp_path: Path) -> None:
    log = [event(i / 1000, "c1", "note", f"event-{i:03d}") for i in range(100)]
    log[0] = event(0.0, "c1", "sent", "S" * 1000, " ".join(["ab"] * 200))
    write_json(tmp_path / "x.json", document("x", [result("long.log", "5.0", "FAIL",
                                                          ("MQTT-3.1.0-1",), wire_log=log)]))
    render_reports(tmp_path, tmp_path / "out")
    page = text(tmp_path / "out" / "cases" / "long.log.html")
    shown = set(re.findall(r"event-(\d{3})", page))
    assert shown == {f"{i:03d}" for i in [*range(1, 40), *range(90, 100)]}
    assert "50 events left out here" in page
    assert "S" * 300 + "…" in page and "S" * 301 not in page
    assert " ".join(["ab"] * 96) + " … (200 bytes)" in page


def test_every_link_resolves_offline(report: tuple[Path, list[Path]]) -> None:
    out = report[0]
    pages = {page: PageLinks(page) for page in out.rglob("*.html")}
    checked = 0
    for page, links in pages.items():
        for href in links.hrefs:
            parts = urlsplit(href)
            if parts.scheme:
                assert href.startswith("https://docs.oasis-open.org/mqtt/"), href
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            assert target.is_file(), f"{page.name}: {href}"
            if parts.fragment and target.suffix == ".html":
                assert unquote(parts.fragment) in pages[target].ids, f"{page.name}: {href}"
            checked += 1
    assert checked > 50


def test_stale_pages_of_an_earlier_render_are_removed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for stale in ("cases/gone.html", "pcap/old/gone--5.0.pcap", "junit/old.xml", "clients.html"):
        (out / stale).parent.mkdir(parents=True, exist_ok=True)
        (out / stale).write_text("old", encoding="utf-8")
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    render_reports(write_sample(tmp_path / "results", clients=False), out)
    assert not (out / "cases" / "gone.html").exists()
    assert not (out / "pcap" / "old").exists() and not (out / "junit" / "old.xml").exists()
    assert not (out / "clients.html").exists()
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert 'href="clients.html"' not in text(out / "index.html")


def test_no_broker_ran(tmp_path: Path) -> None:
    write_json(tmp_path / "gamma.json", document("gamma", [], status="failed to start",
                                                 reason="port in use",
                                                 log_tail=("bind: address in use",)))
    written = render_reports(tmp_path, tmp_path / "out")
    page = text(tmp_path / "out" / "index.html")
    assert "gamma</strong> (failed to start): port in use" in page
    assert "bind: address in use" in page and 'class="matrix"' not in page
    assert {p.name for p in written} == {"report.css", "index.html", "disagreements.html",
                                        "summary.md"}


def test_a_broker_that_died_is_flagged_in_the_header(tmp_path: Path) -> None:
    write_json(tmp_path / "d.json", document("d", alpha_results(), status="died",
                                             reason="exited with signal 11"))
    render_reports(tmp_path, tmp_path / "out")
    page = text(tmp_path / "out" / "index.html")
    assert '<div class="warn">died: exited with signal 11</div>' in page
    assert "<strong>d</strong> (died): exited with signal 11" in page
