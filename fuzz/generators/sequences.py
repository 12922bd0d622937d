"""Valid packets in the wrong order or state.

Strategy: every packet here is well-formed (written with the strict encoder); only the
connection's state makes the sequence right or wrong, which a stateless decoder cannot see.
The verdict is the shared judge's (expect.py): the decoder's own "before CONNECT" refusal
(MQTT-3.1.0-1) for a case with connect=False, the state check for the rest - a second CONNECT
(MQTT-3.1.0-2), AUTH after a CONNECT without Authentication Method (MQTT-4.12.0-7), an
empty Topic Name with an unmapped Topic Alias (3.3.2.3.4) close the connection; acknowledging
identifiers nobody used, a Topic Alias the broker may not allow, packets after DISCONNECT are
left to the broker (ANY); a QoS 2 PUBLISH re-sent before its PUBREL (MQTT-4.3.3-9: one
delivery) and unsubscribing from nothing are valid (ALIVE, or ANY where MQTT 5 optional
features are involved).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from fuzz.generators import values as v
from fuzz.generators.base import Built
from fuzz.generators.expect import judge
from fuzz.generators.shapes import client_codes
from fuzz.generators.valid import Flow
from mqttspec import Packet, Properties, encode
from mqttspec import packets as pk
from mqttspec.types import PacketType as T

Steps = Callable[[Flow, int], tuple[list[Packet], bool]]  # (flow, seed) -> packets, connect
ALL = (3, 4, 5)
V5 = (5,)


def before_connect(flow: Flow, seed: int) -> tuple[list[Packet], bool]:
    """Client packets on a connection that has not sent CONNECT (MQTT-3.1.0-1)."""
    return flow.packets(1 + int(flow.rng.random() * 2), end=flow.rng.random() < 0.2), False


def second_connect(flow: Flow, seed: int) -> tuple[list[Packet], bool]:
    rng = flow.rng
    level = v.pick(rng, (flow.level,) * 3 + (3, 4, 5))  # mostly the same version
    connect = pk.Connect(client_id=f"fz{seed:x}b", clean_start=rng.random() < 0.8,
                         keep_alive=int(rng.random() * 60), protocol_level=level)
    return [*flow.packets(int(rng.random() * 2), strays=False), connect], True


def unknown_pubrel(flow: Flow, seed: int) -> tuple[list[Packet], bool]:
    return [pk.Pubrel(packet_id=1 + int(flow.rng.random() * 0xFFFF),
                      protocol_level=flow.level)], True


def unknown_ack(flow: Flow, seed: int) -> tuple[list[Packet], bool]:
    return [flow.stray_ack() for _ in range(1 + int(flow.rng.random() * 2))], True


def auth_unasked(flow: Flow, seed: int) -> tuple[list[Packet], bool]:
    rng = flow.rng
    props = Properties(authentication_method=v.pick(rng, ("SCRAM-SHA-1", "fuzz")),
                       authentication_data=rng.randbytes(int(rng.random() * 8)) or None)
    return [pk.Auth(reason_code=v.pick(rng, client_codes(T.AUTH)), properties=props,
                    protocol_level=5)], True


def alias_unmapped(flow: Flow, seed: int) -> tuple[list[Packet], bool]:
    alias = 1 + int(flow.rng.random() * 0xFFFF)
    return [pk.Publish(topic="", payload=b"x", properties=Properties(topic_alias=alias),
                       protocol_level=5)], True


def alias_high(flow: Flow, seed: int) -> tuple[list[Packet], bool]:
    """A Topic Alias that may lie above the broker's maximum (MQTT-3.3.2-9): only the
    CONNACK tells, so the judge leaves it open."""
    alias = 0xFFFF - int(flow.rng.random() * 16)
    topic = v.topic(flow.rng, flow.root)
    return [pk.Publish(topic=topic, payload=b"x", properties=Properties(topic_alias=alias),
                       protocol_level=5),
            pk.Publish(topic="", payload=b"y", properties=Properties(topic_alias=alias),
                       protocol_level=5)], True


def after_disconnect(flow: Flow, seed: int) -> tuple[list[Packet], bool]:
    return [flow.disconnect(), *flow.packets(1 + int(flow.rng.random() * 2))], True


def qos2_resend(flow: Flow, seed: int) -> tuple[list[Packet], bool]:
    """A QoS 2 PUBLISH sent again with DUP before its PUBREL: one delivery (4.3.3)."""
    pid = flow.packet_id()
    first = pk.Publish(topic=v.topic(flow.rng, flow.root), payload=b"q2", qos=2, packet_id=pid,
                       protocol_level=flow.level)
    again = pk.Publish(topic=first.topic, payload=b"q2", qos=2, dup=True, packet_id=pid,
                       protocol_level=flow.level)
    return [first, again, pk.Pubrel(packet_id=pid, protocol_level=flow.level)], True


def unsubscribe_unknown(flow: Flow, seed: int) -> tuple[list[Packet], bool]:
    return [flow.unsubscribe()], True


def wrap(steps: Steps) -> Callable[[random.Random, int, int], Built]:
    def build(rng: random.Random, level: int, seed: int) -> Built:
        packets, connect = steps(Flow(rng, level, v.root_of(seed)), seed)
        frames = tuple(encode(p, verify=False) for p in packets)  # the judge decodes them
        verdict = judge(level, frames, connect=connect)
        return Built(frames, verdict.expect, verdict.statements, connect,
                     malformation=steps.__name__)
    return build


CLASSES: dict[str, tuple[str, Steps, tuple[int, ...]]] = {
    "before_connect": ("packets before any CONNECT (connect=False)", before_connect, ALL),
    "second_connect": ("a second CONNECT", second_connect, ALL),
    "unknown_pubrel": ("PUBREL for an identifier never used", unknown_pubrel, ALL),
    "unknown_ack": ("PUBACK/PUBREC/PUBCOMP for a PUBLISH never sent", unknown_ack, ALL),
    "auth_unasked": ("AUTH after a CONNECT without Authentication Method", auth_unasked, V5),
    "alias_unmapped": ("empty Topic Name with a Topic Alias never mapped", alias_unmapped, V5),
    "alias_high": ("a Topic Alias near 65535", alias_high, V5),
    "after_disconnect": ("packets after DISCONNECT", after_disconnect, ALL),
    "qos2_resend": ("a QoS 2 PUBLISH re-sent with DUP before PUBREL", qos2_resend, ALL),
    "unsubscribe_unknown": ("UNSUBSCRIBE from filters never subscribed", unsubscribe_unknown,
                            ALL),
}
