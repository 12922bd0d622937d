"""The shared judge on hand-written bytes (each with its decoding beside it)."""

from __future__ import annotations

from dataclasses import dataclass

from fuzz.case import Expect
from fuzz.generators import judge, refine

PINGREQ = b"\xc0\x00"
# PUBLISH QoS 1, Remaining Length 8: topic "a/b" (00 03 61 2f 62), id 1, Property Length 0
PUB_QOS1_V5 = b"\x32\x08\x00\x03a/b\x00\x01\x00"
# CONNECT: "MQTT", level 4, Clean Session, Keep Alive 60, Client Identifier "x"
CONNECT_V4 = b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x01x"


@dataclass
class Caps:
    maximum_qos: int = 2
    retain_available: bool = True
    wildcard_subscriptions: bool = True
    subscription_identifiers: bool = True
    shared_subscriptions: bool = True
    topic_alias_maximum: int = 0
    receive_maximum: int = 65535
    maximum_packet_size: int | None = None


def test_valid_traffic_stays_alive() -> None:
    for level in (3, 4, 5):
        verdict = judge(level, [PINGREQ, PINGREQ])
        assert verdict.expect is Expect.ALIVE and verdict.statements == ()


def test_a_violation_closes_with_the_decoders_statements() -> None:
    body_after_pingreq = b"\xc0\x01\x00"  # PINGREQ with a 1-byte body
    v4 = judge(4, [PINGREQ, body_after_pingreq])
    assert (v4.expect, v4.statements, v4.at) == (Expect.CLOSE, ("MQTT-4.8.0-1",), 2)
    assert judge(5, [body_after_pingreq]).statements == ("MQTT-4.13.1-1",)
    v3 = judge(3, [body_after_pingreq])  # MQTT 3.1 states no closing rule
    assert (v3.expect, v3.statements) == (Expect.ANY, ("MQTT-4.8.0-1",))


def test_state_rules_the_decoder_cannot_see() -> None:
    assert judge(4, [CONNECT_V4]).statements == ("MQTT-3.1.0-2",)  # a second CONNECT
    before = judge(4, [PINGREQ], connect=False)
    assert (before.expect, before.statements) == (Expect.CLOSE, ("MQTT-3.1.0-1",))
    # AUTH 0x18 with Authentication Method "m" (15 00 01 6d), after a plain CONNECT
    auth = judge(5, [b"\xf0\x06\x18\x04\x15\x00\x01m"])
    assert (auth.expect, auth.statements) == (Expect.CLOSE, ("MQTT-4.12.0-7", "MQTT-4.13.1-1"))
    # PUBLISH, empty Topic Name, Topic Alias 3 (23 00 03) never mapped
    assert judge(5, [b"\x30\x06\x00\x00\x03\x23\x00\x03"]).expect is Expect.CLOSE


def test_where_the_spec_lets_the_broker_choose() -> None:
    assert judge(4, [b"\x62\x02\x00\x07"]).expect is Expect.ANY  # PUBREL id 7, never used
    assert judge(4, [PINGREQ, b"\xe0\x00"]).expect is Expect.ANY  # DISCONNECT
    # PUBLISH QoS 0 to "a\x01" (a control character: MAY be treated as malformed)
    assert judge(4, [b"\x30\x04\x00\x02a\x01"]).expect is Expect.ANY
    cut = judge(4, [b"\x30\x05\x00"])  # ends inside a packet
    assert cut.expect is Expect.ANY and not cut.complete


def test_optional_mqtt5_features_and_refine() -> None:
    verdict = judge(5, [PUB_QOS1_V5])
    assert verdict.expect is Expect.ANY and verdict.needs.qos == 1
    assert judge(4, [PUB_QOS1_V5[:-1].replace(b"\x08", b"\x07", 1)]).expect is Expect.ALIVE
    assert judge(5, [PUB_QOS1_V5], caps=Caps()).expect is Expect.ALIVE
    assert refine(5, [PUB_QOS1_V5], Expect.ANY, Caps()) is Expect.ALIVE
    assert refine(5, [PUB_QOS1_V5], Expect.ANY, Caps(maximum_qos=0)) is Expect.ANY
    assert refine(5, [PUB_QOS1_V5 * 2], Expect.ANY, Caps(receive_maximum=1)) is Expect.ANY
