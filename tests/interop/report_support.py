"""Small synthetic results for the report tests (never the full-suite samples).

`write_sample(dir)` writes three brokers: alpha and beta ran (beta refused MQTT 3.1 and
sends a `<script>` back), gamma was not available; the cases cover two spec chapters, a
malformed-input class, a disagreement, a FAIL whose wire log has real MQTT bytes (so it gets a
capture), and a clients.json.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

SCRIPT = "<script>alert('broker')</script>"
CONNECT_311 = "10 10 00 04 4d 51 54 54 04 02 00 3c 00 04 74 65 73 74"
CONNACK_311 = "20 02 00 00"
CONNECT_5 = "10 11 00 04 4d 51 54 54 05 02 00 3c 00 00 04 74 65 73 74"
CONNACK_5 = "20 03 00 00 00"
PUBLISH_5 = "30 08 00 03 61 2f 62 00 68 69"  # topic 'a/b', no properties, payload 'hi'


def event(at: float, client: str, kind: str, summary: str = "", hex_: str = "",
          statements: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"at": at, "client": client, "kind": kind, "summary": summary or kind, "hex": hex_,
            "statements": list(statements)}


def result(case: str, version: str, outcome: str, statements: tuple[str, ...],
           *, observed: str = "", wire_log: list[dict[str, Any]] | None = None,
           title: str = "") -> dict[str, Any]:
    return {"case": case, "title": title or f"title of {case}", "version": version,
            "statements": list(statements), "level": "MUST", "outcome": outcome,
            "expected": "the broker keeps to the statement", "observed": observed or outcome,
            "duration": 0.0125, "wire_log": wire_log if wire_log is not None else []}


def document(name: str, results: list[dict[str, Any]], *, status: str = "ran",
             version: str = "", reason: str = "", refused: dict[str, str] | None = None,
             log_tail: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"schema": "mqttlab/results-1",
            "run": {"started": "2026-11-24T17:34:33Z", "duration": 12.5, "python": "3.11.7",
                    "target": None,
                    "broker": {"name": name, "version": version or f"{name} 1.0",
                               "status": status, "reason": reason,
                               "log_tail": list(log_tail), "refused": refused or {}}},
            "results": results}


def handshake(version: str) -> list[dict[str, Any]]:
    connect, connack = (CONNECT_5, CONNACK_5) if version == "5.0" else (CONNECT_311, CONNACK_311)
    return [event(0.001, "c1", "sent", "Connect(...)", connect),
            event(0.002, "c1", "received", "Connack(...)", connack)]


def alpha_results() -> list[dict[str, Any]]:
    return [
        result("connect.first-packet", "3.1", "PASS", ("MQTT-3.1.0-1",),
               wire_log=handshake("3.1")),
        result("connect.first-packet", "3.1.1", "PASS", ("MQTT-3.1.0-1",),
               wire_log=handshake("3.1.1")),
        result("connect.first-packet", "5.0", "PASS", ("MQTT-3.1.0-1",),
               wire_log=handshake("5.0")),
        result("publish.delivered", "5.0", "PASS", ("MQTT-3.3.1-1",),
               wire_log=handshake("5.0")),
        result("qos.ordering", "3.1.1", "NON-STRICT", ("MQTT-4.6.0-1",)),
        result("malformed.connect.reserved-flags-0001", "3.1.1", "PASS", ("MQTT-2.2.2-1",)),
        result("malformed.connect.reserved-flags-0010", "3.1.1", "PASS", ("MQTT-2.2.2-1",)),
        result("malformed.publish.reason-code-0x02", "5.0", "PASS", ("MQTT-2.1.3-1",)),
    ]


def beta_results() -> list[dict[str, Any]]:
    failing_log = [*handshake("5.0"),
                   event(0.003, "c1", "sent", "Publish(topic='a/b')", PUBLISH_5),
                   event(0.004, "c1", "broker-violation", f"sent back {SCRIPT}",
                         statements=("MQTT-3.3.1-1",)),
                   event(0.005, "c1", "closed-by-broker", "EOF")]
    return [
        result("connect.first-packet", "3.1.1", "PASS", ("MQTT-3.1.0-1",),
               wire_log=handshake("3.1.1")),
        result("connect.first-packet", "5.0", "PASS", ("MQTT-3.1.0-1",),
               wire_log=handshake("5.0")),
        result("publish.delivered", "5.0", "FAIL", ("MQTT-3.3.1-1",),
               observed=f"the broker answered {SCRIPT}", wire_log=failing_log),
        result("qos.ordering", "3.1.1", "ERROR", ("MQTT-4.6.0-1",)),
        result("malformed.connect.reserved-flags-0001", "3.1.1", "FAIL", ("MQTT-2.2.2-1",),
               observed="the connection stayed open"),
        result("malformed.connect.reserved-flags-0010", "3.1.1", "PASS", ("MQTT-2.2.2-1",)),
        result("malformed.publish.reason-code-0x02", "5.0", "NOT APPLICABLE", ("MQTT-2.1.3-1",)),
    ]


def clients_document() -> dict[str, Any]:
    def run(client: str, broker: str, outcome: str) -> dict[str, Any]:
        return {"client": client, "broker": broker, "version": "5.0", "scenario": "pubsub-qos1",
                "title": "publish and receive at QoS 1", "outcome": outcome,
                "observed": f"observed {SCRIPT}" if outcome == "FAIL" else "delivered",
                "duration": 0.12, "log": ["connected", "published", f"got {SCRIPT}"]}

    return {"schema": "mqttlab/clients-1",
            "run": {"started": "2026-11-24T18:00:00Z", "duration": 3.5},
            "clients": {"paho-mqtt": {"version": "paho-mqtt 2.2.0", "status": "ran",
                                      "reason": ""},
                        "mqttjs": {"version": "", "status": "not available",
                                   "reason": "node is not installed"}},
            "brokers": {"alpha": {"version": "alpha 1.0", "status": "ran", "reason": ""},
                        "beta": {"version": "beta 2.0", "status": "ran", "reason": ""}},
            "results": [run("paho-mqtt", "alpha", "PASS"), run("paho-mqtt", "beta", "FAIL")]}


def write_json(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def write_sample(directory: Path, *, clients: bool = True) -> Path:
    """The synthetic results directory described in the module docstring."""
    directory.mkdir(parents=True, exist_ok=True)
    write_json(directory / "alpha.json", document("alpha", alpha_results()))
    write_json(directory / "beta.json", document(
        "beta", beta_results(), version=f"beta {SCRIPT}",
        refused={"3.1": "CONNACK return code 0x01"}))
    write_json(directory / "gamma.json", document(
        "gamma", [], status="not available", version="",
        reason="gamma is not built here: give its binary with --gamma PATH"))
    if clients:
        write_json(directory / "clients.json", clients_document())
    return directory


class PageLinks(HTMLParser):
    """The `<a href>` targets and element ids of one HTML page."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if tag == "a" and found.get("href"):
            self.hrefs.append(str(found["href"]))
