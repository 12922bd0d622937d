"""Body parsers, one per packet type: the variable header and payload after the fixed header.

Strategy: each parser reads fields in spec order with a `Reader` bounded by the Remaining
Length and checks each rule where the field is read, naming the statement it enforces.
Every parser ends with `_end()`: bytes left over mean the Remaining Length lied.
"""

from __future__ import annotations

from collections.abc import Callable

from mqttspec import reason_codes as rc
from mqttspec.errors import ProtocolViolation, ids
from mqttspec.packets import (
    Auth,
    Connack,
    Connect,
    Disconnect,
    Packet,
    Pingreq,
    Pingresp,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Subscribe,
    Subscription,
    Unsuback,
    Unsubscribe,
    Will,
)
from mqttspec.primitives import Reader, check_utf8
from mqttspec.properties import NO_PROPERTIES, WILL, Properties, read_properties
from mqttspec.topics import check_topic_filter, check_topic_name, is_shared
from mqttspec.types import PROTOCOL_NAMES, PacketType

Parser = Callable[[Reader, int, str | None], Packet]
M, P = rc.MALFORMED_PACKET, rc.PROTOCOL_ERROR


def _fail(r: Reader, detail: str, v3: str | tuple[str, ...], v5: str | tuple[str, ...],
          code: int = M, section: str = "") -> ProtocolViolation:
    return ProtocolViolation(f"{r.what}: {detail}", ids(r.level, v3, v5), code, section)


def _end(r: Reader, v3: str | tuple[str, ...] = "MQTT-4.8.0-1",
         v5: str | tuple[str, ...] = "MQTT-4.13.1-1") -> None:
    if r.pos != r.end:
        raise _fail(r, f"{r.end - r.pos} bytes left after the last field", v3, v5, M,
                    "2.2.3" if r.level < 5 else "2.1.4")


def _props(r: Reader, carrier: PacketType | str) -> Properties:
    if r.level < 5:
        return NO_PROPERTIES
    if r.pos >= r.end:  # MQTT-2.2.2-1: no properties is a Property Length of 0, not nothing
        raise _fail(r, "Property Length missing", "", "MQTT-2.2.2-1", M, "2.2.2.1")
    return read_properties(r, carrier)


def _packet_id(r: Reader, v3: str, v5: str | tuple[str, ...]) -> int:
    packet_id = r.u16("Packet Identifier")
    if packet_id == 0:
        raise _fail(r, "Packet Identifier 0", v3, v5, P, "2.3.1" if r.level < 5 else "2.2.1")
    return packet_id


def _reason_code(r: Reader, ptype: PacketType, statement: str) -> int:
    code = r.u8("Reason Code")
    if code not in rc.ALLOWED_V5[ptype]:
        raise _fail(r, f"Reason Code 0x{code:02X} is not a {ptype.name} reason code", "",
                    statement, P)
    return code


def connect(r: Reader, flags: int, peer: str | None) -> Connect:
    name = r.string("Protocol Name")
    level = r.u8("Protocol Level")
    try:
        return _connect_after_level(r, name, level)
    except ProtocolViolation as exc:
        exc.protocol_level = level  # what the client declared: its refusal speaks its version
        raise


def _connect_after_level(r: Reader, name: str, level: int) -> Connect:
    if level in PROTOCOL_NAMES:
        r.level = level
    if name not in ("MQTT", "MQIsdp"):
        # MQTT-3.1.2-1: a server MAY answer 0x84 (5.0) and then MUST close
        raise _fail(r, f"protocol name {name!r} is not MQTT", "MQTT-3.1.2-1", "MQTT-3.1.2-1",
                    rc.UNSUPPORTED_PROTOCOL_VERSION, "3.1.2.1")
    if PROTOCOL_NAMES.get(level) != name:
        # MQTT-3.1.2-2: CONNACK 0x01 (3.1.1) / 0x84 (5.0), then close
        raise _fail(r, f"protocol level {level} with name {name!r} is not supported",
                    "MQTT-3.1.2-2", "MQTT-3.1.2-2", rc.UNSUPPORTED_PROTOCOL_VERSION, "3.1.2.2")
    cflags = r.u8("Connect Flags")
    if cflags & 0x01:
        raise _fail(r, "reserved Connect Flag is set", "MQTT-3.1.2-3", "MQTT-3.1.2-3")
    will_flag = bool(cflags & 0x04)
    will_qos = (cflags >> 3) & 0x03
    will_retain = bool(cflags & 0x20)
    has_password, has_username = bool(cflags & 0x40), bool(cflags & 0x80)
    if not will_flag and will_qos:
        raise _fail(r, "Will QoS set without Will Flag", ("MQTT-3.1.2-11", "MQTT-3.1.2-13"),
                    "MQTT-3.1.2-11")
    if not will_flag and will_retain:
        raise _fail(r, "Will Retain set without Will Flag", ("MQTT-3.1.2-11", "MQTT-3.1.2-15"),
                    "MQTT-3.1.2-13")
    if will_qos == 3:
        raise _fail(r, "Will QoS 3", "MQTT-3.1.2-14", "MQTT-3.1.2-12")
    if level < 5 and has_password and not has_username:
        raise _fail(r, "Password Flag set without User Name Flag", "MQTT-3.1.2-22", "")
    keep_alive = r.u16("Keep Alive")
    properties = _props(r, PacketType.CONNECT)
    if r.pos >= r.end:
        raise _fail(r, "Client Identifier missing", "MQTT-3.1.3-3", "MQTT-3.1.3-3")
    client_id = r.string("Client Identifier")
    will = None
    if will_flag:
        if r.pos >= r.end:
            raise _fail(r, "Will Flag set but no Will fields", "MQTT-3.1.2-9", "MQTT-3.1.2-9")
        will_props = read_properties(r, WILL) if level == 5 else NO_PROPERTIES
        will_topic = r.string("Will Topic")
        check_topic_name(will_topic, r.level, "Will Topic")
        will = Will(topic=will_topic, payload=r.binary("Will Payload"), qos=will_qos,
                    retain=will_retain, properties=will_props)
    username = password = None
    if has_username:
        if r.pos >= r.end:
            raise _fail(r, "User Name Flag set but no User Name", "MQTT-3.1.2-19",
                        "MQTT-3.1.2-17")
        username = r.string("User Name")
    if has_password:
        if r.pos >= r.end:
            raise _fail(r, "Password Flag set but no Password", "MQTT-3.1.2-21",
                        "MQTT-3.1.2-19")
        password = r.binary("Password")
    # MQTT-3.1.2-18/-20 (3.1.1), -16/-18 (5.0): nothing beyond what the flags announce
    _end(r, ("MQTT-3.1.4-1", "MQTT-3.1.2-18", "MQTT-3.1.2-20"),
         ("MQTT-3.1.4-1", "MQTT-3.1.2-16", "MQTT-3.1.2-18"))
    return Connect(client_id=client_id, clean_start=bool(cflags & 0x02), keep_alive=keep_alive,
                   username=username, password=password, will=will, properties=properties,
                   protocol_level=level)


def connack(r: Reader, flags: int, peer: str | None) -> Connack:
    ack_flags = r.u8("Connect Acknowledge Flags")
    code = r.u8("Connect Reason Code")
    if r.level == 3:
        session_present = False  # MQTT 3.1: the first byte is unused
        if code not in rc.CONNACK_V3:
            raise _fail(r, f"return code {code} is reserved", "MQTT-4.8.0-1", "", P, "3.2.2.3")
    else:
        if ack_flags & 0xFE:
            raise _fail(r, "reserved Connect Acknowledge Flags set", "MQTT-4.8.0-1",
                        "MQTT-3.2.2-1", M, "3.2.2.1")
        session_present = bool(ack_flags & 0x01)
        if r.level == 4 and code not in rc.CONNACK_V3:
            raise _fail(r, f"return code {code} is reserved", "MQTT-4.8.0-1", "", P, "3.2.2.3")
        if r.level == 5 and code not in rc.ALLOWED_V5[PacketType.CONNACK]:
            raise _fail(r, f"0x{code:02X} is not a CONNACK reason code", "", "MQTT-3.2.2-8", P)
        if session_present and code:
            raise _fail(r, "Session Present with a non-zero return code", "MQTT-3.2.2-4",
                        "MQTT-3.2.2-6", P)
    properties = _props(r, PacketType.CONNACK)
    _end(r)
    return Connack(session_present=session_present, reason_code=code, properties=properties,
                   protocol_level=r.level)


# Topic Names repeat from packet to packet: each distinct valid one is checked once per
# protocol level, then found here.  Bounded: emptied when full.
_CHECKED_TOPICS: dict[int, dict[bytes, str]] = {3: {}, 4: {}, 5: {}}
_CHECKED_TOPICS_MAX = 4096


def publish(r: Reader, flags: int, peer: str | None) -> Publish:
    qos = (flags >> 1) & 0x03
    raw_topic = r.binary("Topic Name")
    checked = _CHECKED_TOPICS[r.level]
    topic = checked.get(raw_topic)
    known = topic is not None
    if topic is None:
        topic = check_utf8(raw_topic, r.level, f"{r.what} Topic Name")
    packet_id = None
    if qos:
        packet_id = _packet_id(r, "MQTT-2.3.1-1", _sender_ids(peer, "MQTT-2.2.1-3",
                                                                 "MQTT-2.2.1-4"))
    properties = _props(r, PacketType.PUBLISH)
    if properties.subscription_identifiers and peer == "client":
        raise _fail(r, "Subscription Identifier sent by a client", "", "MQTT-3.3.4-6", P)
    if not known and not (topic == "" and properties.topic_alias is not None and r.level == 5):
        check_topic_name(topic, r.level)
        if len(checked) >= _CHECKED_TOPICS_MAX:
            checked.clear()
        checked[raw_topic] = topic
    # Publish(topic=, payload=, qos=, retain=, dup=, packet_id=, properties=, protocol_level=)
    return Publish._make(topic, r.rest(), qos, bool(flags & 0x01), bool(flags & 0x08),
                         packet_id, properties, r.level)


def _sender_ids(peer: str | None, client_id: str, server_id: str) -> tuple[str, ...]:
    if peer == "client":
        return (client_id,)
    return (server_id,) if peer == "server" else (client_id, server_id)


def _ack(ptype: PacketType, cls: type[Puback | Pubrec | Pubrel | Pubcomp], statement: str
         ) -> Parser:
    # MQTT-2.3.1-6 (3.1.1) names PUBACK, PUBREC and PUBREL only; PUBCOMP falls under 2.3.1.
    v3_id = "" if ptype is PacketType.PUBCOMP else "MQTT-2.3.1-6"
    pubrel = ptype is PacketType.PUBREL

    def parse(r: Reader, flags: int, peer: str | None) -> Packet:
        packet_id = _packet_id(r, v3_id, "MQTT-2.2.1-5")
        code, properties, level = 0, NO_PROPERTIES, r.level
        if level == 5 and r.pos < r.end:  # short forms: no Reason Code / no properties
            code = _reason_code(r, ptype, statement)
            if r.pos < r.end:
                properties = read_properties(r, ptype)
        if r.pos != r.end:
            _end(r)
        if pubrel and level == 3:
            return Pubrel(packet_id=packet_id, protocol_level=3, dup=bool(flags & 0x08))
        # cls(packet_id=, reason_code=, properties=, protocol_level=)
        packet: Puback | Pubrec | Pubrel | Pubcomp = cls._make(packet_id, code, properties, level)
        return packet
    return parse


def subscribe(r: Reader, flags: int, peer: str | None) -> Subscribe:
    packet_id = _packet_id(r, "MQTT-2.3.1-1", "MQTT-2.2.1-3")
    properties = _props(r, PacketType.SUBSCRIBE)
    subs = []
    while r.pos < r.end:
        topic_filter = r.string("Topic Filter")
        options = r.u8("Subscription Options")
        qos = options & 0x03
        if r.level < 5:
            if options & 0xFC or qos == 3:  # MQTT-3.8.3-4
                raise _fail(r, f"Requested QoS byte 0x{options:02X} invalid", "MQTT-3.8.3-4", "")
            check_topic_filter(topic_filter, r.level)
            subs.append(Subscription(topic_filter=topic_filter, qos=qos))
            continue
        if options & 0xC0:
            raise _fail(r, "reserved Subscription Options bits set", "", "MQTT-3.8.3-5")
        if qos == 3:
            raise _fail(r, "Maximum QoS 3", "", "MQTT-4.13.1-1", P, "3.8.3.1")
        retain_handling = (options >> 4) & 0x03
        if retain_handling == 3:
            raise _fail(r, "Retain Handling 3", "", "MQTT-4.13.1-1", P, "3.8.3.1")
        check_topic_filter(topic_filter, r.level)
        no_local = bool(options & 0x04)
        if no_local and is_shared(topic_filter):
            raise _fail(r, "No Local on a Shared Subscription", "", "MQTT-3.8.3-4", P)
        subs.append(Subscription(topic_filter=topic_filter, qos=qos, no_local=no_local,
                                 retain_as_published=bool(options & 0x08),
                                 retain_handling=retain_handling))
    if not subs:
        raise _fail(r, "no Topic Filter", "MQTT-3.8.3-3", "MQTT-3.8.3-2", P)
    return Subscribe(packet_id=packet_id, subscriptions=tuple(subs), properties=properties,
                     protocol_level=r.level, dup=r.level == 3 and bool(flags & 0x08))


def suback(r: Reader, flags: int, peer: str | None) -> Suback:
    packet_id = _packet_id(r, "MQTT-2.3.1-7", "MQTT-2.2.1-6")
    properties = _props(r, PacketType.SUBACK)
    codes = tuple(r.rest())
    allowed = {3: rc.SUBACK_V31, 4: rc.SUBACK_V311}.get(r.level, rc.ALLOWED_V5[PacketType.SUBACK])
    for code in codes:
        if code not in allowed:
            raise _fail(r, f"0x{code:02X} is not a SUBACK return code", "MQTT-3.9.3-2",
                        "MQTT-3.9.3-2", P)
    if not codes:
        raise _fail(r, "no return codes", "MQTT-3.8.4-5", "MQTT-3.8.4-6")
    return Suback(packet_id=packet_id, reason_codes=codes, properties=properties,
                  protocol_level=r.level)


def unsubscribe(r: Reader, flags: int, peer: str | None) -> Unsubscribe:
    packet_id = _packet_id(r, "MQTT-2.3.1-1", "MQTT-2.2.1-3")
    properties = _props(r, PacketType.UNSUBSCRIBE)
    filters = []
    while r.pos < r.end:
        topic_filter = r.string("Topic Filter")  # MQTT-3.10.3-1
        check_topic_filter(topic_filter, r.level)
        filters.append(topic_filter)
    if not filters:
        raise _fail(r, "no Topic Filter", "MQTT-3.10.3-2", "MQTT-3.10.3-2", P)
    return Unsubscribe(packet_id=packet_id, topic_filters=tuple(filters), properties=properties,
                       protocol_level=r.level, dup=r.level == 3 and bool(flags & 0x08))


def unsuback(r: Reader, flags: int, peer: str | None) -> Unsuback:
    packet_id = _packet_id(r, "MQTT-2.3.1-7", "MQTT-2.2.1-6")
    if r.level < 5:
        _end(r)
        return Unsuback(packet_id=packet_id, protocol_level=r.level)
    properties = _props(r, PacketType.UNSUBACK)
    codes = tuple(r.rest())
    for code in codes:
        if code not in rc.ALLOWED_V5[PacketType.UNSUBACK]:
            raise _fail(r, f"0x{code:02X} is not an UNSUBACK reason code", "", "MQTT-3.11.3-2",
                        P)
    if not codes:
        raise _fail(r, "no reason codes", "", "MQTT-3.11.3-1")
    return Unsuback(packet_id=packet_id, reason_codes=codes, properties=properties,
                    protocol_level=5)


def pingreq(r: Reader, flags: int, peer: str | None) -> Pingreq:
    _end(r)
    return Pingreq(protocol_level=r.level)


def pingresp(r: Reader, flags: int, peer: str | None) -> Pingresp:
    _end(r)
    return Pingresp(protocol_level=r.level)


def disconnect(r: Reader, flags: int, peer: str | None) -> Disconnect:
    code, properties = 0, NO_PROPERTIES
    if r.level == 5 and r.pos < r.end:
        code = _reason_code(r, PacketType.DISCONNECT, "MQTT-3.14.2-1")
        wrong_side = {"client": rc.DISCONNECT_SERVER_ONLY, "server": rc.DISCONNECT_CLIENT_ONLY}
        if peer is not None and code in wrong_side[peer]:
            raise _fail(r, f"Reason Code 0x{code:02X} may not be sent by a {peer}", "",
                        "MQTT-3.14.2-1", P)
        if r.pos < r.end:
            properties = read_properties(r, PacketType.DISCONNECT)
        if peer == "server" and properties.session_expiry_interval is not None:
            raise _fail(r, "Session Expiry Interval sent by the server", "", "MQTT-3.14.2-2", P)
    _end(r)
    return Disconnect(reason_code=code, properties=properties, protocol_level=r.level)


def auth(r: Reader, flags: int, peer: str | None) -> Auth:
    code, properties = 0, NO_PROPERTIES  # Remaining Length 0: Success, no properties
    if r.pos < r.end:
        code = r.u8("Reason Code")
    if code not in rc.ALLOWED_V5[PacketType.AUTH]:
        raise _fail(r, f"Reason Code 0x{code:02X} is not an AUTH reason code", "",
                    "MQTT-3.15.2-1", P)
    wrong_side = {"client": rc.AUTH_SERVER_ONLY, "server": rc.AUTH_CLIENT_ONLY}
    if peer is not None and code in wrong_side[peer]:  # table 3-13: who sends which code
        raise _fail(r, f"Reason Code 0x{code:02X} may not be sent by a {peer}", "",
                    "MQTT-3.15.2-1", P)
    if r.end > 0:
        if r.pos < r.end:
            properties = read_properties(r, PacketType.AUTH)
        # 3.15.2.2.2: omitting the Authentication Method is a Protocol Error (MQTT-4.12.0-5);
        # only the Remaining Length 0 short form (3.15.2.1) goes without one.
        if properties.authentication_method is None:
            raise _fail(r, "AUTH without Authentication Method", "", "MQTT-4.12.0-5", P,
                        "3.15.2.2.2")
    _end(r)
    return Auth(reason_code=code, properties=properties, protocol_level=5)


PARSERS: dict[PacketType, Parser] = {
    PacketType.CONNECT: connect,
    PacketType.CONNACK: connack,
    PacketType.PUBLISH: publish,
    PacketType.PUBACK: _ack(PacketType.PUBACK, Puback, "MQTT-3.4.2-1"),
    PacketType.PUBREC: _ack(PacketType.PUBREC, Pubrec, "MQTT-3.5.2-1"),
    PacketType.PUBREL: _ack(PacketType.PUBREL, Pubrel, "MQTT-3.6.2-1"),
    PacketType.PUBCOMP: _ack(PacketType.PUBCOMP, Pubcomp, "MQTT-3.7.2-1"),
    PacketType.SUBSCRIBE: subscribe,
    PacketType.SUBACK: suback,
    PacketType.UNSUBSCRIBE: unsubscribe,
    PacketType.UNSUBACK: unsuback,
    PacketType.PINGREQ: pingreq,
    PacketType.PINGRESP: pingresp,
    PacketType.DISCONNECT: disconnect,
    PacketType.AUTH: auth,
}
