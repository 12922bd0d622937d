"""The reference broker: a deliberately simple MQTT 3.1 / 3.1.1 / 5.0 broker written from the
spec, on top of `mqttspec`.

Layers, from the wire up: `server` (asyncio TCP, timers) feeds `connection` (the sans-IO engine
of one network connection; `handshake` and `flows` hold its rules), which works on `core`
(sessions, routing, wills, expiry) with `session`, `subscriptions`, `retained` and `model`.
`config` holds every optional capability; `trace` counts the statements exercised.
"""

from reference_broker.config import BrokerConfig, ConfigError, load_config
from reference_broker.server import Broker, ThreadedBroker

__all__ = ["Broker", "BrokerConfig", "ConfigError", "ThreadedBroker", "load_config"]
