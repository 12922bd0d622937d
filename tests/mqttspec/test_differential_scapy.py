"""Differential tests: our MQTT 3.1.1 encoder against scapy's independent MQTT dissector.

Strategy: Hypothesis builds well-formed 3.1.1 packets from value strategies of its own, we
encode them, scapy (`scapy.contrib.mqtt`) dissects the bytes, and every field scapy knows
must agree with our packet.  Streams of several packets are dissected too, as far as scapy
can split them.  Where scapy accepts bytes the spec calls malformed, a test pins both what
scapy does (so a change in scapy is noticed) and that we reject them, citing the statement.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mqttspec as ms
from mqttspec import PacketType as T
from mqttspec import ProtocolViolation, RawPacket, decode_packet, encode

# Scapy logs (e.g. "No IPv4 address found") and warns at import; it keeps a level set before.
logging.getLogger("scapy").setLevel(logging.ERROR)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    scapy_mqtt = pytest.importorskip("scapy.contrib.mqtt")
from scapy.packet import Padding, Raw  # noqa: E402  (scapy is loaded, quietly, above)

MQTT = scapy_mqtt.MQTT
BODY = {
    T.CONNECT: scapy_mqtt.MQTTConnect, T.CONNACK: scapy_mqtt.MQTTConnack,
    T.PUBLISH: scapy_mqtt.MQTTPublish, T.PUBACK: scapy_mqtt.MQTTPuback,
    T.PUBREC: scapy_mqtt.MQTTPubrec, T.PUBREL: scapy_mqtt.MQTTPubrel,
    T.PUBCOMP: scapy_mqtt.MQTTPubcomp, T.SUBSCRIBE: scapy_mqtt.MQTTSubscribe,
    T.SUBACK: scapy_mqtt.MQTTSuback, T.UNSUBSCRIBE: scapy_mqtt.MQTTUnsubscribe,
    T.UNSUBACK: scapy_mqtt.MQTTUnsuback, T.DISCONNECT: scapy_mqtt.MQTTDisconnect,
}
# Fixed-header flags (DUP, QoS, RETAIN) of non-PUBLISH packets, MQTT 3.1.1 table 2.2.
SPEC_FLAGS = {T.PUBREL: (0, 1, 0), T.SUBSCRIBE: (0, 1, 0), T.UNSUBSCRIBE: (0, 1, 0)}
EXAMPLES = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# ---- strategies: our own, not the codec's ---------------------------------------------------

chars = st.characters(codec="utf-8", exclude_characters="\x00")  # MQTT-1.5.3-1/-2
texts = st.text(chars, max_size=24)
level_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00/+#"), max_size=10)
topics = st.lists(level_text, min_size=1, max_size=5).map("/".join).filter(bool)  # MQTT-4.7.3-1
filter_levels = st.lists(st.one_of(level_text, st.just("+")), min_size=1, max_size=5)
filters = st.tuples(filter_levels, st.booleans()).map(
    lambda t: "/".join(t[0] + ["#"] if t[1] else t[0])).filter(bool)
payloads = st.one_of(st.binary(max_size=64), st.binary(min_size=100, max_size=600),
                     st.integers(64, 80).map(lambda n: bytes(range(256)) * n))  # 3-byte length
packet_ids = st.integers(1, 65535)
qos = st.integers(0, 2)


@st.composite
def publishes(draw: st.DrawFn) -> ms.Publish:
    q = draw(qos)
    return ms.Publish(topic=draw(topics), payload=draw(payloads), qos=q, retain=draw(st.booleans()),
                      dup=q > 0 and draw(st.booleans()),
                      packet_id=draw(packet_ids) if q else None)


@st.composite
def connects(draw: st.DrawFn) -> ms.Connect:
    will = draw(st.none() | st.builds(ms.Will, topic=topics, payload=payloads, qos=qos,
                                      retain=st.booleans()))
    username = draw(st.none() | texts)
    # MQTT-3.1.2-22: no Password without a User Name in 3.1.1
    password = None if username is None else draw(st.none() | st.binary(max_size=32))
    return ms.Connect(client_id=draw(texts), clean_start=draw(st.booleans()),
                      keep_alive=draw(st.integers(0, 65535)), will=will, username=username,
                      password=password)


@st.composite
def connacks(draw: st.DrawFn) -> ms.Connack:
    code = draw(st.integers(0, 5))  # table 3.1
    return ms.Connack(session_present=code == 0 and draw(st.booleans()), reason_code=code)


subscriptions = st.builds(ms.Subscription, topic_filter=filters, qos=qos)
STRATEGIES = {
    T.CONNECT: connects(),
    T.CONNACK: connacks(),
    T.PUBLISH: publishes(),
    **{t: st.builds(ms.PACKET_CLASSES[t], packet_id=packet_ids)
       for t in (T.PUBACK, T.PUBREC, T.PUBREL, T.PUBCOMP, T.UNSUBACK)},
    T.SUBSCRIBE: st.builds(ms.Subscribe, packet_id=packet_ids, subscriptions=st.lists(
        subscriptions, min_size=1, max_size=6).map(tuple)),
    T.SUBACK: st.builds(ms.Suback, packet_id=packet_ids, reason_codes=st.lists(
        st.sampled_from([0x00, 0x01, 0x02, 0x80]), min_size=1, max_size=8).map(tuple)),
    T.UNSUBSCRIBE: st.builds(ms.Unsubscribe, packet_id=packet_ids, topic_filters=st.lists(
        filters, min_size=1, max_size=6).map(tuple)),
    T.PINGREQ: st.just(ms.Pingreq()),
    T.PINGRESP: st.just(ms.Pingresp()),
    T.DISCONNECT: st.just(ms.Disconnect()),
}

# ---- comparing a dissection with our packet -------------------------------------------------


def vbi_size(n: int) -> int:
    return 1 + (n > 127) + (n > 16_383) + (n > 2_097_151)


def dissect(data: bytes) -> tuple[list[tuple[MQTT, object]], bytes]:
    """Scapy's view of a stream: [(fixed header, body layer or None)], undissected bytes."""
    chain = list(MQTT(data).iterpayloads())
    out, rest = [], b""
    for i, layer in enumerate(chain):
        if type(layer) is MQTT:
            nxt = chain[i + 1] if i + 1 < len(chain) else None
            out.append((layer, nxt if type(nxt) in BODY.values() else None))
        elif isinstance(layer, Raw | Padding):
            rest += bytes(layer.load)
    return out, rest


def assert_agrees(pkt: ms.Packet, hdr: MQTT, body: object) -> None:
    assert hdr.type == pkt.TYPE
    if isinstance(pkt, ms.Publish):
        flags = (pkt.dup, pkt.qos, pkt.retain)
    else:
        flags = SPEC_FLAGS.get(pkt.TYPE, (0, 0, 0))
    assert flags == (hdr.DUP, hdr.QOS, hdr.RETAIN)
    # An empty body gets no layer of its own, unless more packets follow (DISCONNECT).
    expected = {BODY.get(pkt.TYPE, type(None))} | ({type(None)} if not hdr.len else set())
    assert type(body) in expected
    b: Any = body  # scapy's fields are dynamic attributes
    match pkt:
        case ms.Connect():
            assert (b.protoname, b.protolevel, b.reserved) == (b"MQTT", 4, 0)
            assert (b.cleansess, b.klive) == (pkt.clean_start, pkt.keep_alive)
            assert b.clientId == pkt.client_id.encode()
            will = pkt.will
            assert b.willflag == (will is not None)
            will_flags = (will.qos, will.retain) if will else (0, 0)
            assert will_flags == (b.willQOSflag, b.willretainflag)
            if will:
                assert (b.willtopic, b.willmsg) == (will.topic.encode(), will.payload)
            assert b.usernameflag == (pkt.username is not None)
            assert b.passwordflag == (pkt.password is not None)
            if pkt.username is not None:
                assert b.username == pkt.username.encode()
            if pkt.password is not None:
                assert b.password == pkt.password
        case ms.Connack():
            assert (b.sessPresentFlag, b.retcode) == (pkt.session_present, pkt.reason_code)
        case ms.Publish():
            assert (b.topic, b.value) == (pkt.topic.encode(), pkt.payload)
            assert b.length == len(pkt.topic.encode())
            assert getattr(b, "msgid", None) == pkt.packet_id
        case ms.Subscribe():
            assert b.msgid == pkt.packet_id
            assert [(t.topic, t.QOS) for t in b.topics] == [
                (s.topic_filter.encode(), s.qos) for s in pkt.subscriptions]
        case ms.Suback():
            assert (b.msgid, list(b.retcodes)) == (pkt.packet_id, list(pkt.reason_codes))
        case ms.Unsubscribe():
            assert b.msgid == pkt.packet_id
            assert [t.topic for t in b.topics] == [f.encode() for f in pkt.topic_filters]
        case ms.Puback() | ms.Pubrec() | ms.Pubrel() | ms.Pubcomp() | ms.Unsuback():
            assert b.msgid == pkt.packet_id


def check_one(pkt: ms.Packet) -> None:
    data = encode(pkt)
    (hdr, body), *more = dissect(data)[0]
    assert not more and not dissect(data)[1]
    assert len(data) == 1 + vbi_size(hdr.len) + hdr.len  # Remaining Length, read by scapy
    assert_agrees(pkt, hdr, body)
    assert decode_packet(data, ms.MQTT_3_1_1) == pkt


@pytest.mark.parametrize("ptype", list(STRATEGIES), ids=lambda t: t.name)
@EXAMPLES
@given(data=st.data())
def test_scapy_reads_what_we_write(ptype: T, data: st.DataObject) -> None:
    check_one(data.draw(STRATEGIES[ptype]))


def test_four_byte_remaining_length() -> None:
    check_one(ms.Publish(topic="big", payload=b"\x5a" * 2_097_152, qos=1, packet_id=9))


# Scapy splits a stream only after packets whose body ends where scapy thinks it does:
# SUBSCRIBE, SUBACK and UNSUBSCRIBE bodies (lists read to the end of the data) and PINGREQ /
# PINGRESP (no body layer bound) end the chain, so they may only come last.
SPLITTABLE = [T.CONNECT, T.CONNACK, T.PUBLISH, T.PUBACK, T.PUBREC, T.PUBREL, T.PUBCOMP,
              T.UNSUBACK, T.DISCONNECT]


def check_stream(packets: list[ms.Packet]) -> None:
    data = b"".join(encode(p) for p in packets)
    decoder = ms.Decoder(ms.MQTT_3_1_1)
    decoder.feed(data)
    assert list(decoder) == packets
    layers, rest = dissect(data)
    assert not rest and len(layers) == len(packets)
    for pkt, (hdr, body) in zip(packets, layers, strict=True):
        assert_agrees(pkt, hdr, body)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(*(STRATEGIES[t] for t in SPLITTABLE)), min_size=2, max_size=8),
       st.none() | st.one_of(*(STRATEGIES[t] for t in T if t not in SPLITTABLE and t < 15)))
def test_scapy_splits_streams_like_our_decoder(packets: list[ms.Packet], last: object) -> None:
    check_stream(packets + ([last] if last is not None else []))


@pytest.mark.parametrize("packets", [
    [ms.Connect(client_id="c1", keep_alive=60), ms.Connack(),
     ms.Publish(topic="s/1/t", payload=b"21.5", qos=1, packet_id=1), ms.Puback(packet_id=1),
     ms.Disconnect()],
    [ms.Publish(topic="a", qos=2, packet_id=7, payload=b"x" * 200), ms.Pubrec(packet_id=7),
     ms.Pubrel(packet_id=7), ms.Pubcomp(packet_id=7), ms.Unsuback(packet_id=3), ms.Pingreq()],
    [ms.Connack(session_present=True), ms.Publish(topic="/", retain=True), ms.Suback(
        packet_id=2, reason_codes=(0, 1, 2, 0x80))],
    [ms.Publish(topic="\ufeffbom", payload=b""), ms.Unsubscribe(packet_id=5,
                                                                topic_filters=("a/+", "#"))],
], ids=["session", "qos2-flow", "suback-last", "bom-unsubscribe"])
def test_hand_chosen_streams(packets: list[ms.Packet]) -> None:
    check_stream(packets)


def test_scapy_cannot_split_after_subscribe() -> None:
    # Dissector limitation, not a spec question: scapy reads SUBSCRIBE topics to the end of
    # the data, ignoring Remaining Length; the next packet becomes a Raw entry of that list.
    sub = encode(ms.Subscribe(packet_id=1, subscriptions=(ms.Subscription(topic_filter="a"),)))
    layers, rest = dissect(sub + encode(ms.Puback(packet_id=3)))
    assert len(layers) == 1 and not rest
    assert [bytes(t) for t in layers[0][1].topics] == [b"\x00\x01a\x00", b"@\x02\x00\x03"]


# ---- where scapy and we disagree: scapy is a lenient dissector, the spec is strict ----------
# Each row: bytes, what scapy makes of them (pinned, so a scapy change is noticed), and the
# statement our decoder cites when it rejects them (MQTT 3.1.1 numbering).


def pub(topic: bytes | str, flags: int = 0) -> bytes:
    return RawPacket(3, flags).string(topic).raw(b"x").build()


def connect(flags: int, *fields: str, name: str = "MQTT") -> bytes:
    raw = RawPacket(1).string(name).u8(4).u8(flags).u16(0).string("c")
    for f in fields:
        raw.string(f)
    return raw.build()


def sub(topic_filter: str, options: int) -> bytes:
    return RawPacket(8, 2).u16(1).string(topic_filter).u8(options).build()


R = RawPacket
LENIENT = [
    # 2.2.3 table 2.4: two bytes encode 128..16383, so 80 00 is no encoding of 0 (MQTT 5
    # says it outright, MQTT-1.5.5-1); scapy reads it as 0.
    ("non-minimal-length", b"\xc0\x80\x00", lambda p: p.len == 0, "MQTT-4.8.0-1"),
    # 2.2.2 table 2.2, reserved flags: scapy shows PINGREQ with RETAIN=1 and so on.
    ("pingreq-flags", b"\xc1\x00", lambda p: p.RETAIN == 1, "MQTT-2.2.2-2"),
    ("subscribe-flags", R(8, 0).u16(1).string("a").u8(0).build(), lambda p: p.QOS == 0,
     "MQTT-3.8.1-1"),
    ("pubrel-flags", R(6, 0).u16(1).build(), lambda p: p.msgid == 1, "MQTT-3.6.1-1"),
    # Both QoS bits set: scapy keeps QOS=3, skips the Packet Identifier and invents a packet.
    ("publish-qos3", R(3, 6).string("a").u16(1).raw(b"xx").build(),
     lambda p: p.QOS == 3 and p.value == b"\x00\x01" and p.payload.payload.type == 7,
     "MQTT-3.3.1-4"),
    ("dup-at-qos0", pub("a", flags=8), lambda p: p.DUP == 1 and p.QOS == 0, "MQTT-3.3.1-2"),
    # UTF-8 (1.5.3): scapy keeps strings as bytes and never decodes them.
    ("utf8-ff-fe", pub(b"\xff\xfe"), lambda p: p.topic == b"\xff\xfe", "MQTT-1.5.3-1"),
    ("utf8-surrogate-d800", pub(b"\xed\xa0\x80"), lambda p: p.topic == b"\xed\xa0\x80",
     "MQTT-1.5.3-1"),
    ("utf8-overlong-slash", pub(b"\xc0\xaf"), lambda p: p.topic == b"\xc0\xaf", "MQTT-1.5.3-1"),
    ("utf8-above-10ffff", pub(b"\xf4\x90\x80\x80"), lambda p: p.length == 4, "MQTT-1.5.3-1"),
    ("utf8-nul", pub(b"a\x00b"), lambda p: p.topic == b"a\x00b", "MQTT-1.5.3-2"),
    ("wildcard-topic-name", pub("a/+"), lambda p: p.topic == b"a/+", "MQTT-3.3.2-2"),
    ("empty-topic-name", pub(""), lambda p: p.topic == b"" and p.value == b"x", "MQTT-4.7.3-1"),
    ("packet-id-0", R(3, 2).string("a").u16(0).build(), lambda p: p.msgid == 0, "MQTT-2.3.1-1"),
    ("requested-qos-3", sub("a", 3), lambda p: p.topics[0].QOS == 3, "MQTT-3.8.3-4"),
    ("subscribe-reserved-bit", sub("a", 4), lambda p: p.topics[0].QOS == 4, "MQTT-3.8.3-4"),
    ("subscribe-no-filter", R(8, 2).u16(1).build(), lambda p: p.topics == [], "MQTT-3.8.3-3"),
    ("hash-not-last", sub("a/#/b", 0), lambda p: p.topics[0].topic == b"a/#/b", "MQTT-4.7.1-2"),
    # Scapy's SUBACK table is MQTT 5's; 3.1.1 allows 00, 01, 02 and 80 only.
    ("suback-code-83", R(9).u16(1).u8(0x83).build(), lambda p: p.retcodes == [0x83],
     "MQTT-3.9.3-2"),
    ("connect-reserved-flag", connect(0x03), lambda p: p.reserved == 1, "MQTT-3.1.2-3"),
    ("will-qos-3", connect(0x1E, "w", "m"), lambda p: p.willQOSflag == 3, "MQTT-3.1.2-14"),
    ("password-no-user", connect(0x42, "pw"), lambda p: p.password == b"pw", "MQTT-3.1.2-22"),
    ("protocol-name", connect(0x02, name="MQTX"), lambda p: p.protoname == b"MQTX",
     "MQTT-3.1.2-1"),
    ("present-with-error", R(2).u8(1).u8(5).build(), lambda p: p.sessPresentFlag == 1,
     "MQTT-3.2.2-4"),
    # 3.2.2.1: Connect Acknowledge Flags bits 7-1 reserved; 3.2.2.3: return codes 6-255 reserved
    ("connack-flags", R(2).u8(2).u8(0).build(), lambda p: p.sessPresentFlag == 2, "MQTT-4.8.0-1"),
    ("connack-code-6", R(2).u8(0).u8(6).build(), lambda p: p.retcode == 6, "MQTT-4.8.0-1"),
    # Remaining Length 1, but PUBACK needs 2: scapy reads past the end of the packet.
    ("length-too-short", R(4).u16(5).build(remaining_length=1), lambda p: p.msgid == 5,
     "MQTT-4.8.0-1"),
    # Bytes after the last field: scapy leaves them as Raw.
    ("unsuback-extra-byte", R(11).u16(5).u8(0).build(), lambda p: p[Raw].load == b"\x00",
     "MQTT-4.8.0-1"),
    ("disconnect-extra-byte", b"\xe0\x01\x00", lambda p: p[Raw].load == b"\x00", "MQTT-4.8.0-1"),
    # A string length that runs past the packet: scapy cuts the string short.
    ("string-past-end", R(3).string("abc", length=10).build(), lambda p: p.topic == b"abc",
     "MQTT-4.8.0-1"),
    # 2.2.1: packet types 0 and 15 are reserved in 3.1.1 (scapy names 15 AUTH, from MQTT 5).
    ("packet-type-0", b"\x00\x00", lambda p: p.type == 0, "MQTT-4.8.0-1"),
    ("packet-type-15", b"\xf0\x00", lambda p: p.type == 15, "MQTT-4.8.0-1"),
]


@pytest.mark.parametrize(("data", "scapy_sees", "statement"), [r[1:] for r in LENIENT],
                         ids=[r[0] for r in LENIENT])
def test_scapy_accepts_what_the_spec_forbids(data: bytes, scapy_sees: Callable[[MQTT], bool],
                                             statement: str) -> None:
    assert scapy_sees(MQTT(data))  # scapy dissects without complaint; fields reach through layers
    with pytest.raises(ProtocolViolation) as exc:
        decode_packet(data, ms.MQTT_3_1_1)
    assert statement in exc.value.statements


def test_five_byte_remaining_length_both_reject() -> None:
    # 2.2.3: at most four bytes.  Scapy raises (its own exception type); we name the rule.
    data = b"\xc0\x80\x80\x80\x80\x00"
    with pytest.raises(scapy_mqtt.Scapy_Exception, match="malformed length"):
        MQTT(data)
    with pytest.raises(ProtocolViolation) as exc:
        decode_packet(data, ms.MQTT_3_1_1)
    assert exc.value.statements == ("MQTT-4.8.0-1",)


def test_remaining_length_longer_than_the_data() -> None:
    # Scapy dissects what is there; a stream decoder must wait for the rest of the packet.
    data = RawPacket(4).u16(5).build(remaining_length=3)
    assert MQTT(data).msgid == 5
    decoder = ms.Decoder(ms.MQTT_3_1_1)
    decoder.feed(data)
    assert decoder.next_packet() is None and decoder.buffered == 4


def test_byte_order_mark_is_kept_by_both() -> None:
    # MQTT-1.5.3-3: EF BB BF is U+FEFF wherever it appears, never skipped or stripped.
    data = pub("\ufeffa")
    assert MQTT(data).topic == b"\xef\xbb\xbfa"
    assert decode_packet(data, ms.MQTT_3_1_1).topic == "\ufeffa"
