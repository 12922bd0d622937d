"""Client interop with paho-mqtt (in-process) against the reference broker: every scenario and
version runs its checks and passes; the results document is what the report reader takes;
the command line's user mistakes are one line and exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.embedded import start_reference
from interop.brokers import RunningBroker
from interop.clients import (
    ADAPTERS,
    SCENARIOS,
    UnknownName,
    available_clients,
    clients_document,
    run_clients,
)
from interop.clients.__main__ import main
from interop.report.clients import load_clients

RECORD_KEYS = {"client", "broker", "version", "scenario", "title", "outcome", "observed",
               "duration", "log"}


@pytest.fixture(scope="module")
def reference() -> Iterator[RunningBroker]:
    broker = start_reference()
    yield RunningBroker("reference", "reference (test)", broker.port, stop_hook=broker.stop)
    broker.stop()


@pytest.fixture(scope="module")
def paho_results(reference: RunningBroker) -> list[dict[str, object]]:
    if ADAPTERS["paho-mqtt"].available():
        pytest.skip(str(ADAPTERS["paho-mqtt"].available()))
    return run_clients(reference, clients=["paho-mqtt"])


def test_paho_passes_every_scenario_and_version(paho_results: list[dict[str, object]]) -> None:
    expected = {(s.id, v) for s in SCENARIOS.values() for v in ("3.1", "3.1.1", "5.0")
                if s.id != "v5-properties" or v == "5.0"}
    assert {(r["scenario"], r["version"]) for r in paho_results} == expected
    failed = [f"{r['scenario']} {r['version']}: {r['outcome']} {r['observed']}"
              for r in paho_results if r["outcome"] != "PASS"]
    assert not failed, "\n".join(failed)


def test_records_keep_the_schema_and_say_what_was_checked(
        paho_results: list[dict[str, object]]) -> None:
    for record in paho_results:
        assert set(record) == RECORD_KEYS
        assert record["client"] == "paho-mqtt" and record["broker"] == "reference"
        assert isinstance(record["log"], list) and record["log"]
        assert record["observed"]
    by_id = {(r["scenario"], r["version"]): str(r["observed"]) for r in paho_results}
    assert "at QoS 2" in by_id["pubsub-qos2", "5.0"]
    assert "granted QoS 2" in by_id["pubsub-qos2", "5.0"]
    assert "RETAIN 1 (client)" in by_id["retained", "3.1.1"]
    assert "6 properties" in by_id["v5-properties", "5.0"]


def test_the_document_reads_back_through_the_report_reader(
        paho_results: list[dict[str, object]], tmp_path: Path) -> None:
    document = clients_document({"reference": ("reference 0", "ran", "", paho_results),
                                 "absent": ("absent", "not available", "not here", [])},
                                started=1_700_000_000.0, clients=["paho-mqtt"])
    assert document["schema"] == "mqttlab/clients-1"
    assert document["run"]["started"] == "2023-11-14T22:13:20Z"
    assert document["clients"]["paho-mqtt"]["status"] == "ran"
    path = tmp_path / "clients.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    matrix = load_clients(path)
    assert [b.name for b in matrix.not_run] == ["absent"]
    assert len(matrix.results) == len(paho_results)


def test_available_clients_says_how_to_install_what_is_missing() -> None:
    found = available_clients()
    assert set(found) == set(ADAPTERS)
    for why in found.values():
        assert why is None or "install" in why


def test_unknown_names_are_refused(reference: RunningBroker) -> None:
    with pytest.raises(UnknownName, match="unknown client 'nosuch'"):
        run_clients(reference, clients=["nosuch"])
    with pytest.raises(UnknownName, match="unknown scenario 'nosuch'"):
        run_clients(reference, scenarios=["nosuch"])


def test_a_broker_without_mqtt5_makes_v5_properties_not_applicable(
        reference: RunningBroker) -> None:
    v3_only = RunningBroker("v3-only", "v3", reference.port, levels=(4,))
    [record] = run_clients(v3_only, clients=["paho-mqtt"], scenarios=["v5-properties"])
    assert record["outcome"] == "NOT APPLICABLE"
    assert record["observed"] == "the broker does not speak MQTT 5.0"


@pytest.mark.parametrize(("args", "message"), [
    (["--broker", "nosuch"], "unknown broker 'nosuch'"),
    (["--broker", "reference", "--client", "nosuch"], "unknown client 'nosuch'"),
    (["--broker", "reference", "--scenario", "nosuch"], "unknown scenario 'nosuch'"),
    (["--broker", "reference", "--versions", "4.0"], "unknown MQTT version '4.0'"),
    ([], "the following arguments are required: --broker"),
    (["--broker", "127.0.0.1:1"], "nothing answers at 127.0.0.1:1"),
])
def test_user_mistakes_are_one_line(args: list[str], message: str,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_the_command_line_runs_prints_a_table_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "clients.json"
    done = subprocess.run(
        [sys.executable, "-m", "interop.clients", "--broker", "reference", "--client",
         "paho-mqtt", "--scenario", "connect", "--scenario", "will", "--out", str(out)],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line.split() for line in done.stdout.splitlines()]
    assert ["connect", "3.1.1", "PASS"] in rows and ["will", "5.0", "PASS"] in rows
    document = json.loads(out.read_text(encoding="utf-8"))
    assert {r["scenario"] for r in document["results"]} == {"connect", "will"}
    assert document["brokers"]["reference"]["status"] == "ran"
