"""Faults in the reaction to protocol violations (MQTT 3.1.1 section 4.8, MQTT 5 section 4.13).

These break every row of the malformed-input table at once: a broker that shrugs off what it
cannot parse, or that says "success" while closing.
"""

from __future__ import annotations

from typing import Any

from conformance.faults.base import Patcher, fault
from mqttspec import Connack, Disconnect, Packet
from reference_broker.connection import Connection


@fault("errors.ignore-violations",
       "Bytes that break the spec are dropped and the connection stays open",
       v3="MQTT-4.8.0-1", v5="MQTT-4.13.1-1", cases=("malformed.",))
def ignore_violations(p: Patcher) -> None:
    def violation(original: Any, conn: Connection, exc: Exception, now: float) -> None:
        return None  # no DISCONNECT, no close: the connection stays open

    p.wrap(Connection, "violation", violation)


@fault("errors.success-code-on-close",
       "MQTT 5: the DISCONNECT / CONNACK sent before closing for a violation says 0x00",
       v5=("MQTT-4.13.2-1", "MQTT-4.13.1-1"), cases=("malformed.",), levels=(5,))
def success_code(p: Patcher) -> None:
    def rewrite(conn: Connection, packet: Packet) -> Packet:
        if isinstance(packet, Disconnect | Connack) and packet.reason_code >= 0x80:
            return type(packet)(protocol_level=5)
        return packet

    p.outgoing(rewrite)
