"""Property tests: decode(encode(p)) == p for every packet type and level, whole and byte by
byte; and the strict encoder refuses what the decoder would reject."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqttspec import Decoder, EncodeError, Publish, decode_packet, encode
from mqttspec.packets import Packet, Subscribe, Subscription
from mqttspec.properties import Properties
from mqttspec.types import PacketType
from tests.mqttspec import strategies as S

CASES = [(level, t) for level in (3, 4, 5) for t in S.types_of(level)]
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize(("level", "ptype"), CASES, ids=[f"L{lv}-{t.name}" for lv, t in CASES])
@FAST
@given(data=st.data())
def test_round_trip(level: int, ptype: PacketType, data: st.DataObject) -> None:
    packet = data.draw(S.packet(ptype, level))
    wire = encode(packet)
    assert wire[0] >> 4 == ptype
    assert decode_packet(wire, level) == packet
    assert encode(packet, verify=False) == wire


@pytest.mark.parametrize("level", (3, 4, 5))
@FAST
@given(data=st.data())
def test_stream_whole_and_byte_by_byte(level: int, data: st.DataObject) -> None:
    packets = data.draw(st.lists(S.any_packet(level), min_size=1, max_size=6))
    stream = b"".join(encode(p) for p in packets)
    whole = Decoder(level)
    whole.feed(stream)
    assert list(whole) == packets
    drip = Decoder(level)
    got: list[Packet] = []
    for i in range(len(stream)):
        drip.feed(stream[i : i + 1])
        got.extend(drip)
    assert got == packets
    assert drip.buffered == 0


@pytest.mark.parametrize(
    "packet",
    [
        Publish(topic="a/+"),
        Publish(topic=""),
        Publish(topic="a", qos=1),  # no packet id
        Publish(topic="a", qos=0, packet_id=3),  # packet id at QoS 0 cannot be written
        Publish(topic="a", qos=0, dup=True),
        Publish(topic="a", qos=3, packet_id=1),
        Publish(topic="a", properties=Properties(topic_alias=1)),  # properties under 3.1.1
        Publish(topic="a", protocol_level=5, properties=Properties(topic_alias=0)),
        Publish(topic="a", protocol_level=5, properties=Properties(receive_maximum=5)),
        Subscribe(packet_id=1, subscriptions=()),
        Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter="a/#/b"),)),
        Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter="a", no_local=True),)),
        Publish(topic="a\x00b"),
        Publish(topic="x" * 70000),
    ],
    ids=repr,
)
def test_encoder_refuses_invalid(packet: Packet) -> None:
    with pytest.raises(EncodeError):
        encode(packet)
