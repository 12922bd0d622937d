"""Packet types, protocol levels and fixed-header flag rules.

Strategy: one table per concern, indexed by packet type.  MQTT 3.1 (level 3, protocol name
"MQIsdp"), 3.1.1 (level 4) and 5.0 (level 5) share the packet type numbers; AUTH (15) exists
only in 5.0 and is a forbidden type before it.
"""

from __future__ import annotations

from enum import IntEnum


class PacketType(IntEnum):
    CONNECT = 1
    CONNACK = 2
    PUBLISH = 3
    PUBACK = 4
    PUBREC = 5
    PUBREL = 6
    PUBCOMP = 7
    SUBSCRIBE = 8
    SUBACK = 9
    UNSUBSCRIBE = 10
    UNSUBACK = 11
    PINGREQ = 12
    PINGRESP = 13
    DISCONNECT = 14
    AUTH = 15


MQTT_3_1 = 3
MQTT_3_1_1 = 4
MQTT_5 = 5
PROTOCOL_LEVELS = (MQTT_3_1, MQTT_3_1_1, MQTT_5)
PROTOCOL_NAMES = {MQTT_3_1: "MQIsdp", MQTT_3_1_1: "MQTT", MQTT_5: "MQTT"}
VERSION_NAMES = {MQTT_3_1: "3.1", MQTT_3_1_1: "3.1.1", MQTT_5: "5.0"}

# Fixed-header flags every non-PUBLISH packet must carry (MQTT 3.1.1 table 2.2, MQTT 5 table 2-3).
REQUIRED_FLAGS: dict[PacketType, int] = {t: 0 for t in PacketType if t is not PacketType.PUBLISH}
REQUIRED_FLAGS[PacketType.PUBREL] = 0b0010
REQUIRED_FLAGS[PacketType.SUBSCRIBE] = 0b0010
REQUIRED_FLAGS[PacketType.UNSUBSCRIBE] = 0b0010

# MQTT 3.1 let a re-sent PUBREL / SUBSCRIBE / UNSUBSCRIBE carry DUP (bit 3) as well.
DUP_ALLOWED_V31 = frozenset({PacketType.PUBREL, PacketType.SUBSCRIBE, PacketType.UNSUBSCRIBE})

# Who may send what.  A packet type the peer may never send is a protocol violation.
SENT_BY_CLIENT = frozenset(
    {PacketType.CONNECT, PacketType.PUBLISH, PacketType.PUBACK, PacketType.PUBREC,
     PacketType.PUBREL, PacketType.PUBCOMP, PacketType.SUBSCRIBE, PacketType.UNSUBSCRIBE,
     PacketType.PINGREQ, PacketType.DISCONNECT, PacketType.AUTH}
)
SENT_BY_SERVER = frozenset(
    {PacketType.CONNACK, PacketType.PUBLISH, PacketType.PUBACK, PacketType.PUBREC,
     PacketType.PUBREL, PacketType.PUBCOMP, PacketType.SUBACK, PacketType.UNSUBACK,
     PacketType.PINGRESP, PacketType.DISCONNECT, PacketType.AUTH}
)
