"""Faults in Maximum Packet Size (MQTT 5 sections 3.1.2.11.4 and 3.2.2.3.6) and in trimming
the diagnostics that would exceed it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from conformance.faults.base import Patcher, fault
from mqttspec import Connack, Connect, PacketType
from reference_broker import delivery, handshake, outgoing
from reference_broker.connection import Connection

_LONG_PROPERTY = {"server_user_property": "mqttlab=" + "diagnostic " * 8}


@fault("packetsize.ignores-client-maximum", "The client's Maximum Packet Size is ignored",
       v5="MQTT-3.1.2-24", levels=(5,), config=_LONG_PROPERTY)
def ignores_client_maximum(p: Patcher) -> None:
    def connect(original: Any, conn: Connection, c: Connect, now: float) -> None:
        original(conn, replace(c, properties=replace(c.properties, maximum_packet_size=None)),
                 now)

    p.wrap(Connection, "_connect", connect)


def _untrimmed(p: Patcher, connack: bool) -> None:
    """Diagnostics are left in CONNACK (`connack`) or in every other packet, whatever the
    client's Maximum Packet Size."""
    def fit(original: Any, conn: Connection, packet: Any, *rest: Any) -> bytes:
        data: bytes = rest[-1]
        return data if isinstance(packet, Connack) == connack else original(conn, packet, *rest)

    def fits(original: Any, conn: Connection, data: bytes) -> bool:
        return (data[0] >> 4 == PacketType.CONNACK) == connack or original(conn, data)

    p.wrap(outgoing, "_fit", fit)
    p.wrap(outgoing, "fits", fits)


@fault("packetsize.connack-diagnostics-not-trimmed", "The CONNACK keeps its Reason String and "
       "User Properties even when they make it exceed the client's Maximum Packet Size",
       v5=("MQTT-3.2.2-19", "MQTT-3.2.2-20"), levels=(5,), config=_LONG_PROPERTY)
def connack_not_trimmed(p: Patcher) -> None:
    _untrimmed(p, connack=True)


@fault("packetsize.diagnostics-not-trimmed", "Acknowledgements and DISCONNECT keep their "
       "Reason Strings and User Properties even when they make the packet exceed the client's "
       "Maximum Packet Size",
       v5=("MQTT-3.4.2-2", "MQTT-3.4.2-3", "MQTT-3.5.2-2", "MQTT-3.5.2-3", "MQTT-3.6.2-2",
           "MQTT-3.6.2-3", "MQTT-3.7.2-2", "MQTT-3.7.2-3", "MQTT-3.9.2-1", "MQTT-3.9.2-2",
           "MQTT-3.11.2-1", "MQTT-3.11.2-2", "MQTT-3.14.2-3", "MQTT-3.14.2-4"), levels=(5,),
       config=_LONG_PROPERTY)
def not_trimmed(p: Patcher) -> None:
    _untrimmed(p, connack=False)


@fault("packetsize.oversized-message-kept-in-flight", "A PUBLISH too large for the client is "
       "not sent, but keeps its place in the client's quota", v5="MQTT-3.1.2-25", levels=(5,))
def kept_in_flight(p: Patcher) -> None:
    def send(original: Any, conn: Connection, d: Any, props: Any, pid: int | None) -> bool:
        sent = bool(original(conn, d, props, pid))
        if not sent and pid is not None:
            conn.outstanding += 1  # never acknowledged: the quota stays taken
        return sent

    p.wrap(delivery, "_send_publish", send)


@fault("packetsize.server-maximum-not-enforced", "CONNACK declares Maximum Packet Size 512, "
       "but larger packets are accepted", v5="MQTT-3.2.2-15", levels=(5,))
def not_enforced(p: Patcher) -> None:
    def declare(original: Any, *args: Any, **kwargs: Any) -> Any:
        return replace(original(*args, **kwargs), maximum_packet_size=512)

    p.wrap(handshake, "connack_properties", declare)
