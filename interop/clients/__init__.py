"""Client interoperability: real MQTT client libraries against a broker, on a scenario set.

Strategy: one adapter per client library (paho.py: paho-mqtt in this process; mosquitto.py:
mosquitto_pub / mosquitto_sub; pahoc.py: the Paho C samples; mqttjs.py: MQTT.js under
Node.js), all speaking the vocabulary of model.py; scenarios.py declares what is checked,
with the conformance suite's own test client as the trusted other side (observer.py);
runner.py runs every (client, scenario, version) against a running broker and builds the
"mqttlab/clients-1" document; `python -m interop.clients` does it for one broker.
"""

from interop.clients.runner import (
    ADAPTERS,
    UnknownName,
    available_clients,
    clients_document,
    run_clients,
    run_one,
)
from interop.clients.scenarios import SCENARIOS

__all__ = ["ADAPTERS", "SCENARIOS", "UnknownName", "available_clients", "clients_document",
           "run_clients", "run_one"]
