"""The subprocess clients (mosquitto_pub / mosquitto_sub, the Paho C samples, MQTT.js under
Node.js) against the reference broker: every scenario passes at MQTT 3.1.1 and 5.0, or is
NOT APPLICABLE for the reason the adapter declares; and what the client prints is really read
(a QoS or a Correlation Data changed on the way makes the scenario fail).  Each client is
skipped, with the line that installs it, when it is absent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.embedded import start_reference
from interop.brokers import RunningBroker
from interop.clients import ADAPTERS, SCENARIOS, run_clients, run_one
from tests.interop.test_clients_canfail import faulty_reference, named, qos1_sent_as_qos0

SUBPROCESS_CLIENTS = ["mosquitto-clients", "paho-c", "mqtt.js"]


@pytest.fixture(scope="module")
def reference() -> Iterator[RunningBroker]:
    broker = start_reference()
    yield RunningBroker("reference", "reference (test)", broker.port, stop_hook=broker.stop)
    broker.stop()


def installed(name: str) -> None:
    why = ADAPTERS[name].available()
    if why:
        pytest.skip(why)


@pytest.mark.parametrize("name", SUBPROCESS_CLIENTS)
def test_every_scenario_passes_or_is_declared_not_applicable(
        name: str, reference: RunningBroker) -> None:
    installed(name)
    adapter = ADAPTERS[name]
    results = run_clients(reference, levels=(4, 5), clients=[name])
    assert {r["scenario"] for r in results} == set(SCENARIOS)
    problems = []
    for r in results:
        if r["outcome"] == "NOT APPLICABLE":
            assert r["scenario"] == "session-resume"
            assert r["observed"] == adapter.no_persistent_session
        elif r["outcome"] != "PASS":
            problems.append(f"{r['scenario']} {r['version']}: {r['outcome']} {r['observed']}")
    assert not problems, "\n".join(problems)


def test_the_version_is_the_library_s_own() -> None:
    for name, prefix in (("mosquitto-clients", "mosquitto_pub/sub "),
                         ("paho-c", "paho.mqtt.c "), ("mqtt.js", "MQTT.js ")):
        if ADAPTERS[name].available() is None:
            assert ADAPTERS[name].version().startswith(prefix)


@pytest.mark.parametrize("name", SUBPROCESS_CLIENTS)
def test_the_qos_the_client_reports_is_checked(name: str) -> None:
    installed(name)
    with faulty_reference(qos1_sent_as_qos0) as broker:
        record = run_one(ADAPTERS[name], SCENARIOS["pubsub-qos1"], 4, broker, timeout=2.0)
    assert record["outcome"] == "FAIL"
    assert "delivered at QoS 0" in str(record["observed"])


@pytest.mark.parametrize("name", SUBPROCESS_CLIENTS)
def test_the_properties_the_client_reports_are_checked(name: str) -> None:
    installed(name)
    with faulty_reference(named("properties.alters-correlation-data")) as broker:
        record = run_one(ADAPTERS[name], SCENARIOS["v5-properties"], 5, broker, timeout=2.0)
    assert record["outcome"] == "FAIL"
    assert "observer -> client: Correlation Data" in str(record["observed"])
