"""The reference broker as a target: in-process, on 127.0.0.1 and ports the OS picks, with its
WebSocket listener, so the WebSocket cases run too.  Whoever starts it stops it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from conformance.target import Target
from reference_broker import BrokerConfig, ThreadedBroker


def start_reference(**config: Any) -> ThreadedBroker:
    """A started reference broker; `config` are BrokerConfig fields (they may replace the
    WebSocket listener's port too)."""
    return ThreadedBroker(BrokerConfig(**{"websocket_port": 0, **config})).start()


def aimed_at(broker: ThreadedBroker, target: Target) -> Target:
    """`target` with the address and listeners of the running `broker`."""
    return replace(target, host="127.0.0.1", port=broker.port, tls=False,
                   websocket_port=broker.ports.get("ws"), websocket_path="/mqtt")
