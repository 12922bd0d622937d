"""Faults in CONNECT handling (MQTT 3.1.1 / 5.0 section 3.1)."""

from __future__ import annotations

from typing import Any

from conformance.faults.base import Patcher, fault
from mqttspec import Connect, Packet, Pingreq
from reference_broker.connection import Connection


@fault("connect.accepts-second-connect",
       "A second CONNECT on an open connection is ignored instead of closing it",
       v3="MQTT-3.1.0-2", v5="MQTT-3.1.0-2")
def second_connect_ignored(p: Patcher) -> None:
    def drop(conn: Connection, packet: Packet) -> Packet | None:
        if isinstance(packet, Connect) and conn.state == "open":
            return Pingreq(protocol_level=conn.level)  # answered as if harmless
        return packet

    p.incoming(drop)


@fault("connect.serves-before-connect",
       "A connection whose first packet is not CONNECT is kept open",
       v3="MQTT-3.1.0-1", v5="MQTT-3.1.0-1")
def first_packet_not_connect(p: Patcher) -> None:
    def bad_connect(original: Any, conn: Connection, exc: Any, now: float) -> None:
        if "MQTT-3.1.0-1" in exc.statements:
            return None  # not closed
        original(conn, exc, now)

    p.wrap(Connection, "_bad_connect", bad_connect)
