"""The last step before a packet leaves for an MQTT 5 client: what the server may send at all.

Strategy: one function, `encode_for(conn, packet)`, called by `Connection.send` for every
packet of an MQTT 5 connection (3.x packets are encoded as they are).  For the packets that
carry Reason Codes and diagnostics (CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK,
UNSUBACK, DISCONNECT, AUTH), in this order:

1. every Reason Code is one of the packet's table (MQTT-3.2.2-8, MQTT-3.4.2-1, ...); anything
   else is a broker bug, refused with `ValueError` (the link then closes that connection);
2. the User Property the configuration names (`server_user_property`) is added;
3. Request Problem Information 0: no Reason String nor User Property, except on CONNACK and
   DISCONNECT (MQTT-3.1.2-29; PUBLISH user properties are application data, never touched);
4. the client's Maximum Packet Size: the Reason String, then the User Properties, are left out
   of a packet they would make too large (MQTT-3.4.2-2, -3 and their kin, one pair of
   statements per packet type, in `_RULES`).

A packet still too large is not sent (MQTT-3.1.2-24): `encode_for` (or `fits`, for a PUBLISH
already encoded) says so and the caller treats a PUBLISH as delivered (MQTT-3.1.2-25,
delivery.py).

`publish_wire` encodes the PUBLISH packets of the session queues once per message rather than
once per subscriber: every subscriber that gets the same protocol level, QoS, RETAIN flag and
properties gets the same bytes, except the Packet Identifier, which is spliced in (the
encoder's PUBLISH layout is the spec's: fixed header, Topic Name, Packet Identifier, ...).

Only PUBLISH packets wait for the client's Receive Maximum, in the session queue; everything
else is sent at once, quota or not (MQTT-3.3.4-10, MQTT-4.9.0-3).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from mqttspec import (
    NO_PROPERTIES,
    Auth,
    Connack,
    Disconnect,
    Packet,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Unsuback,
    encode,
)
from mqttspec import reason_codes as rc
from mqttspec.primitives import vbi
from mqttspec.properties import Properties, encode_properties
from reference_broker.model import Message

if TYPE_CHECKING:
    from reference_broker.connection import Connection

Diagnostic = Connack | Puback | Pubrec | Pubrel | Pubcomp | Suback | Unsuback | Disconnect | Auth

# packet -> (its Reason Code table, no Reason String and no User Property beyond the client's
# Maximum Packet Size)
_RULES: dict[type[Packet], tuple[str, str, str]] = {
    Connack: ("MQTT-3.2.2-8", "MQTT-3.2.2-19", "MQTT-3.2.2-20"),
    Puback: ("MQTT-3.4.2-1", "MQTT-3.4.2-2", "MQTT-3.4.2-3"),
    Pubrec: ("MQTT-3.5.2-1", "MQTT-3.5.2-2", "MQTT-3.5.2-3"),
    Pubrel: ("MQTT-3.6.2-1", "MQTT-3.6.2-2", "MQTT-3.6.2-3"),
    Pubcomp: ("MQTT-3.7.2-1", "MQTT-3.7.2-2", "MQTT-3.7.2-3"),
    Suback: ("MQTT-3.9.3-2", "MQTT-3.9.2-1", "MQTT-3.9.2-2"),
    Unsuback: ("MQTT-3.11.3-2", "MQTT-3.11.2-1", "MQTT-3.11.2-2"),
    Disconnect: ("MQTT-3.14.2-1", "MQTT-3.14.2-3", "MQTT-3.14.2-4"),
    Auth: ("MQTT-3.15.2-1", "MQTT-3.15.2-2", "MQTT-3.15.2-3"),
}
# may carry a Reason String / User Property even without Request Problem Information
_ALWAYS_DIAGNOSTIC = (Connack, Disconnect)


def wire(packet: Packet) -> bytes:
    """The broker's own packets, encoded without the encoder's read-back check: they are
    built from values the broker already checked, and every test client reads them back with
    the strict decoder, so the check would only repeat itself on the hot path."""
    return encode(packet, verify=False)


def encode_for(conn: Connection, packet: Packet) -> bytes | None:
    """The bytes to send to an MQTT 5 client, or None when the packet exceeds its Maximum
    Packet Size even without diagnostics."""
    limit = conn.max_packet_out
    if isinstance(packet, Diagnostic):
        rules = _RULES[type(packet)]
        packet = _diagnostics(conn, packet, rules[0])
        data = wire(packet)
        if limit is not None and len(data) > limit:
            data = _fit(conn, packet, rules, limit, data)
    else:  # PUBLISH (whose User Properties are application data) and PINGRESP
        data = wire(packet)
    if not fits(conn, data):
        return None
    if not isinstance(packet, Publish) and conn.outstanding >= conn.receive_maximum:
        conn.hit("", "MQTT-3.3.4-10")  # the quota holds back PUBLISH only
        conn.hit("", "MQTT-4.9.0-3")
    return data


def fits(conn: Connection, data: bytes) -> bool:
    """Whether an encoded packet is within the client's Maximum Packet Size (MQTT 5)."""
    limit = conn.max_packet_out
    if limit is not None and len(data) > limit:
        conn.hit("", "MQTT-3.1.2-24")  # not sent at all
        return False
    return True


def publish_wire(m: Message, qos: int, retain: bool, props: Properties, level: int,
                 pid: int | None) -> bytes:
    """The PUBLISH of message `m` for one subscriber (DUP 0, no Topic Alias), encoded once
    per (level, QoS, RETAIN) and kept in `m.encoded` when it carries the message's own
    properties; per-subscriber properties (Subscription Identifiers, a Message Expiry
    Interval counted down) make a packet of its own."""
    own = props is (m.properties if level == 5 else NO_PROPERTIES)
    parts = m.encoded.get((level, qos, retain)) if own else None
    if parts is None:
        parts = _publish_parts(m, qos, retain, props, level)
        if own:
            m.encoded[(level, qos, retain)] = parts
    head, tail = parts
    return head if pid is None else head + pid.to_bytes(2, "big") + tail


def _publish_parts(m: Message, qos: int, retain: bool, props: Properties, level: int
                   ) -> tuple[bytes, bytes]:
    """The PUBLISH as the bytes before and after its Packet Identifier (spec section 3.3:
    fixed header, Topic Name, Packet Identifier when QoS > 0, properties in MQTT 5, payload);
    at QoS 0 the whole packet and b"".  Built from values checked on receipt."""
    topic = _topic_field(m.topic)
    tail = encode_properties(props) + m.payload if level == 5 else m.payload
    length = len(topic) + (2 if qos else 0) + len(tail)
    first = 0x30 | qos << 1 | retain
    header = bytes((first, length)) if length < 0x80 else bytes((first,)) + vbi(length)
    if qos:
        return header + topic, tail
    return b"".join((header, topic, tail)), b""


_TOPIC_FIELDS: dict[str, bytes] = {}  # Topic Name -> its length-prefixed UTF-8; bounded


def _topic_field(topic: str) -> bytes:
    field = _TOPIC_FIELDS.get(topic)
    if field is None:
        if len(_TOPIC_FIELDS) >= 4096:
            _TOPIC_FIELDS.clear()
        encoded = topic.encode("utf-8")
        field = _TOPIC_FIELDS[topic] = len(encoded).to_bytes(2, "big") + encoded
    return field


def _reason_codes(packet: Diagnostic) -> tuple[int, ...]:
    if isinstance(packet, Suback | Unsuback):
        return packet.reason_codes
    return (packet.reason_code,)


def _diagnostics(conn: Connection, packet: Diagnostic, table_rule: str) -> Diagnostic:
    """Check the Reason Codes; add the server's User Property; honour Request Problem
    Information."""
    allowed = rc.ALLOWED_V5[packet.TYPE]
    wrong = [code for code in _reason_codes(packet) if code not in allowed]
    if wrong:  # table_rule: one of the packet's Reason Codes, nothing else
        raise ValueError(f"{packet.TYPE.name} with Reason Code 0x{wrong[0]:02X}")
    conn.hit("", table_rule)
    extra = conn.core.user_properties
    if extra:
        packet = _with(packet, user_properties=packet.properties.user_properties + extra)
    if not conn.problem_information and not isinstance(packet, _ALWAYS_DIAGNOSTIC):
        props = packet.properties
        if props.reason_string is not None or props.user_properties:
            conn.hit("", "MQTT-3.1.2-29")
            packet = _with(packet, reason_string=None, user_properties=())
    return packet


def _fit(conn: Connection, packet: Diagnostic, rules: tuple[str, str, str], limit: int,
         data: bytes) -> bytes:
    """Leave out the Reason String, then the User Properties, while the packet is too large."""
    _, reason_rule, user_rule = rules
    if packet.properties.reason_string is not None:
        conn.hit("", reason_rule)
        packet = _with(packet, reason_string=None)
        data = wire(packet)
        if len(data) <= limit:
            return data
    if packet.properties.user_properties:
        conn.hit("", user_rule)
        data = wire(_with(packet, user_properties=()))
    return data


def _with(packet: Diagnostic, **changes: Any) -> Diagnostic:
    """The packet with some of its properties changed."""
    changed: Diagnostic = replace(packet, properties=replace(packet.properties, **changes))
    return changed
