"""The reference broker: a deliberately simple MQTT 3.1 / 3.1.1 / 5.0 broker written from the
spec, on top of `mqttspec`.

Layers, from the wire up: `listeners` open TCP, TLS, WebSocket (`websocket`: RFC 6455) and
WebSocket-over-TLS servers; `link` is one connection's bytes whatever the transport, feeding
`connection` (the sans-IO engine of one network connection; `handshake`, `auth`, `flows`,
`subscribing`, `delivery` and `outgoing` hold its rules), which works on `core` (sessions,
routing, wills, expiry) with `session`, `subscriptions`, `retained` and `model`.  `server`
owns the listeners and timers (`Broker`, `ThreadedBroker`).  `passwords`, `scram` and `acl`
are the security files and methods; `config` holds every optional capability; `trace` counts
the statements exercised.
"""

from importlib import metadata

from reference_broker.config import BrokerConfig, ConfigError, load_config
from reference_broker.server import Broker, ThreadedBroker

__all__ = ["Broker", "BrokerConfig", "ConfigError", "ThreadedBroker", "load_config", "version"]


def version() -> str:
    """The reference broker's name and version, as reports show it."""
    try:
        return "mqtt-conformance-lab " + metadata.version("mqtt-conformance-lab")
    except metadata.PackageNotFoundError:
        return "mqtt-conformance-lab (run from a source tree)"
