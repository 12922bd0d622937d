"""Faults in PUBLISH handling: forwarding (topic, payload, DUP, QoS of overlapping
subscriptions), the acknowledgements of incoming flows, and the reaction to malformed PUBLISH
and PUBREL packets (MQTT 3.1.1 / 5.0 sections 2.3 / 2.2.1, 3.3, 3.6).

Each one removes a single rule, mostly by rewriting what the broker sends; the malformed-input
ones keep the connection open when the decoder refuses a packet for the named statement.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from conformance.faults.base import Patcher, fault
from mqttspec import Packet, Puback, Pubcomp, Publish, Pubrec, RawPacket, decode_packet
from mqttspec.properties import encode_properties
from reference_broker import flows
from reference_broker.connection import Connection
from reference_broker.subscriptions import SubscriptionIndex


def _rewrite(p: Patcher, cls: type[Any], change: Any) -> None:
    def rewrite(conn: Connection, packet: Packet) -> Packet | None:
        return change(packet) if isinstance(packet, cls) else packet

    p.outgoing(rewrite)


def _tolerate(p: Patcher, statement: str) -> None:
    """A packet the decoder refuses for `statement` is dropped; the connection stays open."""
    def violation(original: Any, conn: Connection, exc: Any, now: float) -> None:
        if statement not in exc.statements:
            original(conn, exc, now)

    p.wrap(Connection, "violation", violation)


@fault("publish.topic-case-folded", "Forwarded Topic Names are lower-cased",
       v3=("MQTT-3.3.2-1", "MQTT-3.3.2-3"), v5=("MQTT-3.3.2-1", "MQTT-3.3.2-3"))
def topic_folded(p: Patcher) -> None:
    _rewrite(p, Publish, lambda m: replace(m, topic=m.topic.lower()))


@fault("publish.payload-as-text", "Forwarded payloads go through a UTF-8 decode/encode",
       v3="MQTT-4.5.0-1", v5="MQTT-4.5.0-1")
def payload_text(p: Patcher) -> None:
    _rewrite(p, Publish, lambda m: replace(
        m, payload=m.payload.decode("utf-8", "replace").encode()))


@fault("publish.qos0-with-packet-id", "A QoS 0 PUBLISH to a subscriber carries a Packet "
       "Identifier", v3="MQTT-2.3.1-5", v5="MQTT-2.2.1-2")
def qos0_packet_id(p: Patcher) -> None:
    def send_encoded(original: Any, conn: Connection, data: bytes) -> bool:
        m = decode_packet(data, protocol_level=conn.level, peer="server")
        if not isinstance(m, Publish) or m.qos:
            return bool(original(conn, data))
        raw = RawPacket(3, int(m.retain)).string(m.topic).u16(0x0101)
        if conn.level == 5:
            raw = raw.properties(encode_properties(m.properties))
        return bool(original(conn, raw.raw(m.payload).build()))

    p.wrap(Connection, "send_encoded", send_encoded)


@fault("publish.dup-copied", "The publisher's DUP flag is copied onto forwarded PUBLISH packets",
       v3=("MQTT-3.3.1-3", "MQTT-3.3.1-2"), v5=("MQTT-3.3.1-3", "MQTT-3.3.1-2"))
def dup_copied(p: Patcher) -> None:
    last_dup: dict[str, bool] = {}

    def publish_in(original: Any, conn: Connection, session: Any, m: Publish, now: float
                   ) -> None:
        last_dup[m.topic] = m.dup
        original(conn, session, m, now)

    p.wrap(flows, "publish_in", publish_in)
    _rewrite(p, Publish, lambda m: replace(m, dup=last_dup.get(m.topic, m.dup) or m.dup))


@fault("publish.puback-wrong-id", "PUBACK carries the next Packet Identifier",
       v3=("MQTT-2.3.1-6", "MQTT-4.3.2-2"), v5=("MQTT-2.2.1-5", "MQTT-4.3.2-4"))
def puback_wrong_id(p: Patcher) -> None:
    _rewrite(p, Puback, lambda a: replace(a, packet_id=a.packet_id % 65535 + 1))


@fault("publish.pubrec-wrong-id", "PUBREC carries the next Packet Identifier",
       v3=("MQTT-2.3.1-6", "MQTT-4.3.3-2"), v5=("MQTT-2.2.1-5", "MQTT-4.3.3-8"))
def pubrec_wrong_id(p: Patcher) -> None:
    _rewrite(p, Pubrec, lambda a: replace(a, packet_id=a.packet_id % 65535 + 1))


@fault("publish.pubcomp-wrong-id", "PUBCOMP carries the next Packet Identifier",
       v3="MQTT-4.3.3-2", v5=("MQTT-2.2.1-5", "MQTT-4.3.3-11"))
def pubcomp_wrong_id(p: Patcher) -> None:
    _rewrite(p, Pubcomp, lambda a: replace(a, packet_id=a.packet_id % 65535 + 1))


@fault("publish.qos0-acknowledged", "A QoS 0 PUBLISH is answered with a PUBACK",
       v3="MQTT-3.3.4-1", v5="MQTT-3.3.4-1")
def qos0_acked(p: Patcher) -> None:
    def publish_in(original: Any, conn: Connection, session: Any, m: Publish, now: float
                   ) -> None:
        original(conn, session, m, now)
        if m.qos == 0:
            conn.send(Puback(packet_id=1, protocol_level=conn.level))

    p.wrap(flows, "publish_in", publish_in)


@fault("publish.overlap-lowest-qos", "Overlapping subscriptions deliver at the lowest "
       "granted QoS", v3="MQTT-3.3.5-1", v5="MQTT-3.3.4-2")
def overlap_lowest(p: Patcher) -> None:
    def combine(original: Any, index: Any, message: Any, opts: list[Any], level: int,
                shared: bool = False) -> Any:
        return original(index, message, [min(opts, key=lambda o: o.qos)], level, shared)

    p.wrap(SubscriptionIndex, "_combine", combine)


@fault("publish.wildcard-topic-accepted", "A PUBLISH whose Topic Name has a wildcard is "
       "dropped without closing", v3="MQTT-3.3.2-2", v5="MQTT-3.3.2-2", levels=(4, 5))
def wildcard_accepted(p: Patcher) -> None:
    _tolerate(p, "MQTT-3.3.2-2")


@fault("publish.qos3-accepted", "A PUBLISH with QoS 3 is dropped without closing",
       v3="MQTT-3.3.1-4", v5="MQTT-3.3.1-4", levels=(4, 5))
def qos3_accepted(p: Patcher) -> None:
    _tolerate(p, "MQTT-3.3.1-4")


@fault("publish.packet-id-zero-accepted", "A QoS 1/2 PUBLISH with Packet Identifier 0 is "
       "dropped without closing", v3="MQTT-2.3.1-1", v5="MQTT-2.2.1-3", levels=(4, 5))
def packet_id_zero_accepted(p: Patcher) -> None:
    _tolerate(p, "MQTT-2.3.1-1")
    _tolerate(p, "MQTT-2.2.1-3")


@fault("publish.pubrel-flags-accepted", "A PUBREL with reserved flags other than 0010 is "
       "dropped without closing", v3="MQTT-3.6.1-1", v5="MQTT-3.6.1-1", levels=(4, 5))
def pubrel_flags_accepted(p: Patcher) -> None:
    _tolerate(p, "MQTT-3.6.1-1")
