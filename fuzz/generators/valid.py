"""Valid client traffic after CONNECT, written with the strict encoder.

Strategy: a `Flow` plays a well-behaved client on the case's own topic root: PUBLISH at QoS
0/1/2 (a QoS 2 one followed, sooner or later, by its PUBREL), SUBSCRIBE / UNSUBSCRIBE on
filters under the root, PINGREQ, rarely an acknowledgement of a PUBLISH the broker may have
sent, and a DISCONNECT at the end when chosen (never AUTH: a client may send it only after a
CONNECT that named an Authentication Method, which the engine's does not).  MQTT 5
properties are drawn per packet from what the property table and the decoder let a client
send (values.py), Reason Codes from the wire package's per-packet tables.  Packets are
written with `mqttspec.encode(verify=False)`: the values are valid by construction and the
tests decode every valid case, so the read-back is not paid on the hot path.  A retained
PUBLISH is followed by a zero-length retained one on the same topic, so a case leaves no
retained message behind.

The expectation comes from the shared judge's state check (expect.State) run on the packet
values themselves, without decoding: ALIVE, or ANY when the case ends with DISCONNECT (the
server SHOULD close, 3.14.4), acknowledges an identifier the broker may not have used, or
relies on an MQTT 5 feature the broker may not offer.
"""

from __future__ import annotations

import random
from typing import Any

from fuzz.generators import values as v
from fuzz.generators.base import Built
from fuzz.generators.expect import State
from fuzz.generators.shapes import client_codes
from mqttspec import NO_PROPERTIES, Packet, Properties, encode
from mqttspec import packets as pk
from mqttspec.types import PacketType as T

SESSION_EXPIRY = 0x11  # in DISCONNECT it must agree with the CONNECT's (3.14.2.2.2): left out
TOPIC_ALIAS = 0x23  # played by the Flow itself: a mapping first, then the alias alone


def properties(rng: random.Random, carrier: T, root: str, chance: float = 0.12,
               skip: tuple[int, ...] = ()) -> Properties:
    values: dict[str, Any] = {}
    for spec in v.CLIENT_PROPS[carrier]:
        d = spec.d
        if d.id in skip or rng.random() >= chance:
            continue
        if d.id == 0x26:  # User Property, the one repeatable everywhere
            values[d.attr] = tuple((v.text(rng), v.text(rng))
                                   for _ in range(1 + int(rng.random() * 2)))
        elif d.repeatable:
            values[d.attr] = (v.prop_value(rng, spec, root),)
        else:
            values[d.attr] = v.prop_value(rng, spec, root)
    return Properties(**values) if values else NO_PROPERTIES


class Flow:
    def __init__(self, rng: random.Random, level: int, root: str) -> None:
        self.rng = rng
        self.level = level
        self.root = root
        self.next_id = 1 + int(rng.random() * 0xFFFF)
        self.qos2: list[int] = []  # QoS 2 PUBLISH awaiting our PUBREL
        self.filters: list[str] = []
        self.aliases: list[int] = []
        self.retained: list[str] = []

    def packet_id(self) -> int:
        pid = self.next_id
        self.next_id = pid % 0xFFFF + 1
        return pid

    def publish(self) -> pk.Publish:
        rng, level = self.rng, self.level
        r = rng.random()
        qos = 0 if r < 0.5 else 1 if r < 0.75 else 2
        pid = self.packet_id() if qos else None
        retain = rng.random() < 0.1
        topic = v.topic(rng, self.root)
        props = NO_PROPERTIES
        if level == 5:
            props = properties(rng, T.PUBLISH, self.root, skip=(TOPIC_ALIAS,))
            if rng.random() < 0.1:
                if self.aliases and rng.random() < 0.5:
                    alias, topic, retain = v.pick(rng, self.aliases), "", False
                else:
                    alias = 1 + int(rng.random() * 4)
                    self.aliases.append(alias)
                props = Properties(**{**_fields(props), "topic_alias": alias})
        if qos == 2:
            self.qos2.append(pid or 0)
        if retain:
            self.retained.append(topic)
        utf8 = props.payload_format_indicator == 1
        return pk.Publish(topic=topic, payload=v.payload(rng, utf8), qos=qos, retain=retain,
                          dup=qos > 0 and rng.random() < 0.1, packet_id=pid,
                          properties=props, protocol_level=level)

    def subscribe(self) -> pk.Subscribe:
        rng, level = self.rng, self.level
        subs = []
        for _ in range(1 + int(rng.random() * 3)):
            flt = v.topic_filter(rng, self.root, wildcards=rng.random() < 0.5)
            self.filters.append(flt)
            shared = level == 5 and rng.random() < 0.15
            if shared:
                flt = "$share/g/" + flt
            subs.append(pk.Subscription(
                topic_filter=flt, qos=int(rng.random() * 3),
                no_local=level == 5 and not shared and rng.random() < 0.3,
                retain_as_published=level == 5 and rng.random() < 0.3,
                retain_handling=int(rng.random() * 3) if level == 5 else 0))
        props = properties(rng, T.SUBSCRIBE, self.root) if level == 5 else NO_PROPERTIES
        return pk.Subscribe(packet_id=self.packet_id(), subscriptions=tuple(subs),
                            properties=props, protocol_level=level)

    def unsubscribe(self) -> pk.Unsubscribe:
        rng = self.rng
        filters = tuple(v.pick(rng, self.filters) if self.filters and rng.random() < 0.7
                        else v.topic_filter(rng, self.root, rng.random() < 0.5)
                        for _ in range(1 + int(rng.random() * 2)))
        props = (properties(rng, T.UNSUBSCRIBE, self.root) if self.level == 5
                 else NO_PROPERTIES)
        return pk.Unsubscribe(packet_id=self.packet_id(), topic_filters=filters,
                              properties=props, protocol_level=self.level)

    def ack(self, cls: type[pk.Puback | pk.Pubrec | pk.Pubrel | pk.Pubcomp],
            packet_id: int) -> Packet:
        code, props = 0, NO_PROPERTIES
        if self.level == 5 and self.rng.random() < 0.5:
            code = v.pick(self.rng, client_codes(cls.TYPE))
            props = properties(self.rng, cls.TYPE, self.root)
        return cls(packet_id=packet_id, reason_code=code, properties=props,
                   protocol_level=self.level)

    def pubrel(self) -> Packet:
        pid = self.qos2.pop(int(self.rng.random() * len(self.qos2)))
        if self.level == 5:  # 0x92 would tell the server its PUBREC went unheard: keep 0
            return pk.Pubrel(packet_id=pid, properties=properties(self.rng, T.PUBREL, self.root),
                             protocol_level=5)
        return pk.Pubrel(packet_id=pid, protocol_level=self.level)

    def stray_ack(self) -> Packet:
        cls = v.pick(self.rng, (pk.Puback, pk.Pubrec, pk.Pubcomp))
        return self.ack(cls, 1 + int(self.rng.random() * 0xFFFF))

    def disconnect(self) -> pk.Disconnect:
        if self.level < 5 or self.rng.random() < 0.3:
            return pk.Disconnect(protocol_level=self.level)
        return pk.Disconnect(reason_code=v.pick(self.rng, client_codes(T.DISCONNECT)),
                             properties=properties(self.rng, T.DISCONNECT, self.root,
                                                   skip=(SESSION_EXPIRY,)),
                             protocol_level=5)

    def clear_retained(self) -> list[Packet]:
        out: list[Packet] = [pk.Publish(topic=t, retain=True, protocol_level=self.level)
                             for t in self.retained]
        self.retained.clear()
        return out

    def packets(self, count: int, end: bool = False, strays: bool = True) -> list[Packet]:
        """`count` packets of the flow (plus the PUBRELs and retained clears it owes)."""
        rng = self.rng
        out: list[Packet] = []
        for _ in range(count):
            r = rng.random()
            if self.qos2 and r < 0.25:
                out.append(self.pubrel())
            elif r < 0.65:
                out.append(self.publish())
            elif r < 0.77:
                out.append(self.subscribe())
            elif r < 0.85:
                out.append(self.unsubscribe())
            elif r < 0.95 or not strays:
                out.append(pk.Pingreq(protocol_level=self.level))
            else:
                out.append(self.stray_ack())
        while self.qos2:  # each flow completes: a case leaves no state on the connection
            out.append(self.pubrel())
        out += self.clear_retained()
        if end:
            out.append(self.disconnect())
        return out


def _fields(props: Properties) -> dict[str, Any]:
    return {d.attr: value for d, value in props.items()}


def encoded(packets: list[Packet]) -> list[bytes]:
    return [encode(p, verify=False) for p in packets]


def frames_of(rng: random.Random, wire: list[bytes]) -> tuple[bytes, ...]:
    """One packet a frame, now and then several packets in one frame."""
    if len(wire) > 1 and rng.random() < 0.15:
        cut = 1 + int(rng.random() * (len(wire) - 1))
        return (b"".join(wire[:cut]), *wire[cut:])
    return tuple(wire)


def prefix(rng: random.Random, level: int, root: str) -> list[bytes]:
    """0 to 2 valid packets to put before a malformed one (no DISCONNECT, no strays)."""
    if rng.random() < 0.7:
        return []
    flow = Flow(rng, level, root)
    return encoded(flow.packets(1 + int(rng.random() * 2), strays=False))


def make_valid(rng: random.Random, level: int, seed: int) -> Built:
    flow = Flow(rng, level, v.root_of(seed))
    packets = flow.packets(1 + int(rng.random() * 4), end=rng.random() < 0.1)
    wire = encoded(packets)
    state = State(level)
    verdict = None
    for packet, data in zip(packets, wire, strict=True):
        verdict = state.step(packet, len(data))
        if verdict is not None:
            break
    verdict = verdict or state.verdict()
    return Built(frames_of(rng, wire), verdict.expect, verdict.statements)
