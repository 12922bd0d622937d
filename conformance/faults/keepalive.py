"""Faults in Keep Alive (MQTT 3.1.1 section 3.1.2.10, MQTT 5 sections 3.1.2.10 and
3.2.2.3.14).

The broker's own timer calls `Connection.check_keep_alive`, which closes a connection silent
for 1.5 x its Keep Alive counted from `last_received`; the faults switch it off, stop PINGREQ
from counting as a packet, drop the Will of a connection closed this way, or enforce the
client's Keep Alive where the CONNACK imposed a Server Keep Alive.
"""

from __future__ import annotations

from typing import Any

from conformance.faults.base import Patcher, fault
from mqttspec import Packet, Pingreq
from reference_broker.connection import Connection


@fault("keepalive.not-enforced",
       "A client silent past 1.5 x its Keep Alive is never disconnected",
       v3="MQTT-3.1.2-24", v5="MQTT-3.1.2-22")
def not_enforced(p: Patcher) -> None:
    p.replace(Connection, "check_keep_alive", lambda self, now: None)


@fault("keepalive.pingreq-does-not-count",
       "PINGREQ does not reset the Keep Alive timer: an active client is cut off",
       v3="MQTT-3.1.2-24", v5=("MQTT-3.1.2-22", "MQTT-3.2.2-22"), cases=("keepalive.active",))
def pingreq_ignored(p: Patcher) -> None:
    def receive(original: Any, conn: Connection, packet: Packet, now: float) -> None:
        before = conn.last_received
        original(conn, packet, now)
        if isinstance(packet, Pingreq):
            conn.last_received = before

    p.wrap(Connection, "receive", receive)


@fault("keepalive.timeout-drops-will",
       "A connection closed for Keep Alive does not publish its Will",
       v3=("MQTT-3.1.2-8", "MQTT-3.1.2-24"), v5=("MQTT-3.1.2-8", "MQTT-3.1.2-22"),
       cases=("keepalive.timeout",))
def timeout_drops_will(p: Patcher) -> None:
    def close(original: Any, conn: Connection, now: float, reason: str, will: bool) -> None:
        original(conn, now, reason, will and reason != "keep alive timeout")

    p.wrap(Connection, "_close", close)


@fault("keepalive.server-keep-alive-not-applied",
       "MQTT 5: the CONNACK imposes a Server Keep Alive of 1 s, the broker keeps the client's",
       v5=("MQTT-3.1.2-22", "MQTT-3.1.2-21"), config={"server_keep_alive": 1}, levels=(5,))
def server_keep_alive_ignored(p: Patcher) -> None:
    def accept(original: Any, conn: Connection, c: Any, *args: Any) -> None:
        original(conn, c, *args)
        conn.keep_alive = c.keep_alive

    p.wrap(Connection, "accept", accept)
