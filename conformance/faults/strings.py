"""Faults in string handling (MQTT 3.1.1 section 1.5.3, MQTT 5 section 1.5.4)."""

from __future__ import annotations

from dataclasses import replace

from conformance.faults.base import Patcher, fault
from mqttspec import Packet, Publish
from reference_broker.connection import Connection


@fault("strings.strips-u-feff", "A leading U+FEFF is stripped from each level of a Topic Name",
       v3="MQTT-1.5.3-3", v5="MQTT-1.5.4-3")
def strips_feff(p: Patcher) -> None:
    def strip(conn: Connection, packet: Packet) -> Packet:
        if isinstance(packet, Publish) and "\ufeff" in packet.topic:
            return replace(packet, topic="/".join(level.removeprefix("\ufeff")
                                                  for level in packet.topic.split("/")))
        return packet

    p.incoming(strip)
