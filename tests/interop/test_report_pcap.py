"""Packet captures rebuilt from wire logs: read back with scapy (and tshark when installed)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from interop.report import render_reports
from interop.report.model import load_matrix
from interop.report.pcap import MQTT_PORT, MSS, write_captures
from tests.interop.report_support import (
    CONNACK_5,
    CONNECT_5,
    PUBLISH_5,
    document,
    event,
    result,
    write_json,
    write_sample,
)

rdpcap = pytest.importorskip("scapy.utils").rdpcap
TCP = pytest.importorskip("scapy.layers.inet").TCP

BIG_PUBLISH = "30 8e 27 00 03 61 2f 62 00 " + " ".join(["5a"] * 5000)  # remaining length 5006
STARTED = datetime.fromisoformat("2026-11-24T17:34:33Z").timestamp()


def conversation() -> list[dict[str, Any]]:
    return [
        event(0.001, "c1", "sent", "Connect", CONNECT_5),
        event(0.002, "c1", "received", "Connack", CONNACK_5),
        event(0.003, "c2", "sent", "Connect", CONNECT_5),
        event(0.004, "c1", "sent", "Publish", PUBLISH_5),
        event(0.005, "c2", "received", "Connack", CONNACK_5),
        event(0.005, "case", "note", "no bytes here"),
        event(0.006, "c1", "closed-by-us", "shutdown(SHUT_WR)"),
        event(0.007, "c1", "broker-violation", "Publish, badly", BIG_PUBLISH),
        event(0.008, "c1", "closed-by-broker", "EOF"),
        event(0.009, "c1", "sent", "Connect again", CONNECT_5),
        event(0.010, "c2", "timeout", "nothing came"),
    ]


def capture_of(tmp_path: Path, log: list[dict[str, Any]], outcome: str = "FAIL") -> list[Any]:
    write_json(tmp_path / "b.json", document("b", [
        result("case.one", "5.0", outcome, ("MQTT-3.1.0-1",), wire_log=log)]))
    captures = write_captures(load_matrix(tmp_path), tmp_path / "out")
    assert captures.note is None
    [path] = captures.paths.values()
    return list(rdpcap(str(tmp_path / "out" / path)))


def by_connection(packets: list[Any]) -> dict[int, list[Any]]:
    connections: dict[int, list[Any]] = {}
    for packet in packets:
        tcp = packet[TCP]
        assert MQTT_PORT in (tcp.sport, tcp.dport)
        client_port = tcp.dport if tcp.sport == MQTT_PORT else tcp.sport
        connections.setdefault(client_port, []).append(packet)
    return connections


def check_tcp(packets: list[Any]) -> tuple[bytes, bytes, list[str]]:
    """Follow one connection's sequence numbers; the bytes each way and who sent a FIN."""
    assert [str(p[TCP].flags) for p in packets[:3]] == ["S", "SA", "A"]
    next_seq = {True: packets[0][TCP].seq, False: packets[1][TCP].seq}
    data = {True: b"", False: b""}
    fins = []
    for packet in packets:
        tcp = packet[TCP]
        from_client = tcp.dport == MQTT_PORT
        assert tcp.seq == next_seq[from_client]
        if "A" in str(tcp.flags):
            assert tcp.ack == next_seq[not from_client]
        payload = bytes(tcp.payload)
        assert len(payload) <= MSS
        data[from_client] += payload
        next_seq[from_client] += len(payload) + ("S" in str(tcp.flags)) + ("F" in str(tcp.flags))
        if "F" in str(tcp.flags):
            fins.append("client" if from_client else "broker")
    return data[True], data[False], fins


def test_each_client_gets_a_connection_whose_bytes_reassemble(tmp_path: Path) -> None:
    packets = capture_of(tmp_path, conversation())
    connections = by_connection(packets)
    assert sorted(connections) == [49152, 49153, 49154]  # c1, c2, then c1 reconnecting
    first, second, again = (check_tcp(connections[port]) for port in sorted(connections))
    hexed = bytes.fromhex
    assert first == (hexed(CONNECT_5 + PUBLISH_5), hexed(CONNACK_5 + BIG_PUBLISH),
                     ["client", "broker"])
    assert second == (hexed(CONNECT_5), hexed(CONNACK_5), [])
    assert again == (hexed(CONNECT_5), b"", [])
    big = [p for p in connections[49152] if len(bytes(p[TCP].payload)) == MSS]
    assert len(big) == 3  # 5009 bytes: three full segments and a short one


def test_times_follow_the_wire_log(tmp_path: Path) -> None:
    packets = capture_of(tmp_path, conversation())
    times = [float(p.time) for p in packets]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert times[0] == pytest.approx(STARTED + 0.001, abs=1e-5)
    assert times[-1] == pytest.approx(STARTED + 0.009, abs=1e-4)
    assert all(p["IP"].src == p["IP"].dst == "127.0.0.1" for p in packets)


@pytest.mark.parametrize(("outcome", "with_bytes", "wanted"), [
    ("FAIL", True, True), ("ERROR", True, True), ("FAIL", False, False),
    ("PASS", True, False), ("NON-STRICT", True, False),
])
def test_only_failing_cells_with_bytes_get_a_capture(
        tmp_path: Path, outcome: str, with_bytes: bool, wanted: bool) -> None:
    log = conversation() if with_bytes else [event(0.1, "c1", "timeout", "nothing")]
    write_json(tmp_path / "b.json", document("b", [
        result("case.one", "5.0", outcome, ("MQTT-3.1.0-1",), wire_log=log)]))
    captures = write_captures(load_matrix(tmp_path), tmp_path / "out")
    assert bool(captures.paths) is wanted
    assert (tmp_path / "out" / "pcap" / "b" / "case.one--5.0.pcap").exists() is wanted


def test_without_scapy_the_report_says_so_and_carries_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "scapy.utils", None)  # import fails as if absent
    out = tmp_path / "out"
    render_reports(write_sample(tmp_path / "results"), out)
    assert not (out / "pcap").exists()
    note = "Packet captures of 1 failing cells not written: scapy is not installed"
    assert note in (out / "index.html").read_text(encoding="utf-8")
    assert note in (out / "summary.md").read_text(encoding="utf-8")
    assert ".pcap" not in (out / "cases" / "publish.delivered.html").read_text(encoding="utf-8")


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_dissects_mqtt_from_the_capture(tmp_path: Path) -> None:
    out = tmp_path / "out"
    render_reports(write_sample(tmp_path / "results"), out)
    done = subprocess.run(
        ["tshark", "-n", "-r", str(out / "pcap" / "beta" / "publish.delivered--5.0.pcap"),
         "-Y", "mqtt", "-T", "fields", "-e", "mqtt.msgtype"],
        capture_output=True, text=True, timeout=60, check=True)
    types = [int(t) for line in done.stdout.split() for t in line.split(",")]
    assert types == [1, 2, 3]  # CONNECT, CONNACK, PUBLISH
