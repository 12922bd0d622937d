"""Hypothesis strategies for well-formed packets of every type under levels 3, 4 and 5.

Strategy: field strategies follow the spec's rules directly (no wildcards in Topic Names,
filters built level by level, properties drawn per carrier from the property table with
their legal ranges), so every drawn packet is one the strict encoder must accept.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from mqttspec import packets as pk
from mqttspec.properties import PROPERTIES, WILL, Carrier, Properties, PropType
from mqttspec.reason_codes import ALLOWED_V5, CONNACK_V3, SUBACK_V31, SUBACK_V311
from mqttspec.types import PacketType as T

# Any Unicode scalar value except U+0000 (surrogates cannot be encoded); U+FEFF included.
text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
               max_size=12)
payload = st.binary(max_size=64)
packet_id = st.integers(1, 0xFFFF)
level_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00/+#"),
                     max_size=6)

topic_name = st.lists(level_text, min_size=1, max_size=4).map("/".join).filter(bool)


@st.composite
def topic_filter(draw: st.DrawFn, level: int) -> str:
    parts = draw(st.lists(st.one_of(level_text, st.just("+")), min_size=0, max_size=4))
    if draw(st.booleans()) or not parts:
        parts.append("#")
    result = "/".join(parts)
    if result == "":
        result = "+"
    if level == 5 and draw(st.integers(0, 4)) == 0:
        share = draw(st.text(st.sampled_from("abcXYZ09_-$"), min_size=1, max_size=5))
        result = f"$share/{share}/{result}"
    return result


def _value(pid: int) -> st.SearchStrategy[Any]:
    d = PROPERTIES[pid]
    if pid in (0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A):
        return st.integers(0, 1)
    if pid in (0x21, 0x23):
        return st.integers(1, 0xFFFF)
    if pid == 0x27:
        return st.integers(1, 0xFFFF_FFFF)
    if pid == 0x08:
        return topic_name
    return {
        PropType.BYTE: st.integers(0, 0xFF),
        PropType.U16: st.integers(0, 0xFFFF),
        PropType.U32: st.integers(0, 0xFFFF_FFFF),
        PropType.VBI: st.integers(1, 268_435_455),
        PropType.UTF8: text,
        PropType.BINARY: payload,
        PropType.PAIR: st.tuples(text, text),
    }[d.type]


@st.composite
def properties(draw: st.DrawFn, carrier: Carrier, *, exclude: tuple[int, ...] = ()
               ) -> Properties:
    values: dict[str, Any] = {}
    for pid, d in PROPERTIES.items():
        if carrier not in d.carriers or pid in exclude or not draw(st.booleans()):
            continue
        if pid == 0x26:
            values[d.attr] = tuple(draw(st.lists(_value(pid), min_size=1, max_size=3)))
        elif pid == 0x0B:
            most = 3 if carrier == T.PUBLISH else 1
            values[d.attr] = tuple(draw(st.lists(_value(pid), min_size=1, max_size=most)))
        else:
            values[d.attr] = draw(_value(pid))
    if "authentication_data" in values and "authentication_method" not in values:
        values["authentication_method"] = draw(text)
    return Properties(**values)


def _props(level: int, carrier: Carrier, **kw: Any) -> st.SearchStrategy[Properties]:
    return properties(carrier, **kw) if level == 5 else st.just(Properties())


@st.composite
def connect(draw: st.DrawFn, level: int) -> pk.Connect:
    will = None
    if draw(st.booleans()):
        will = pk.Will(topic=draw(topic_name), payload=draw(payload), qos=draw(st.integers(0, 2)),
                       retain=draw(st.booleans()), properties=draw(_props(level, WILL)))
    username = draw(st.none() | text)
    password = draw(st.none() | payload)
    if level < 5 and username is None:
        password = None  # MQTT-3.1.2-22
    return pk.Connect(client_id=draw(text), clean_start=draw(st.booleans()),
                      keep_alive=draw(st.integers(0, 0xFFFF)), username=username,
                      password=password, will=will, properties=draw(_props(level, T.CONNECT)),
                      protocol_level=level)


@st.composite
def connack(draw: st.DrawFn, level: int) -> pk.Connack:
    codes = ALLOWED_V5[T.CONNACK] if level == 5 else CONNACK_V3
    code = draw(st.sampled_from(sorted(codes)))
    present = level > 3 and code == 0 and draw(st.booleans())
    return pk.Connack(session_present=present, reason_code=code,
                      properties=draw(_props(level, T.CONNACK)), protocol_level=level)


@st.composite
def publish(draw: st.DrawFn, level: int) -> pk.Publish:
    qos = draw(st.integers(0, 2))
    props = draw(_props(level, T.PUBLISH))
    topic = draw(topic_name)
    if props.topic_alias is not None and draw(st.booleans()):
        topic = ""
    return pk.Publish(topic=topic, payload=draw(payload), qos=qos, retain=draw(st.booleans()),
                      dup=qos > 0 and draw(st.booleans()),
                      packet_id=draw(packet_id) if qos else None, properties=props,
                      protocol_level=level)


def ack(cls: type[pk.Puback | pk.Pubrec | pk.Pubrel | pk.Pubcomp], level: int
        ) -> st.SearchStrategy[pk.Packet]:
    if level < 5:
        extra = {"dup": st.booleans()} if cls is pk.Pubrel and level == 3 else {}
        return st.builds(cls, packet_id=packet_id, protocol_level=st.just(level), **extra)
    return st.builds(cls, packet_id=packet_id,
                     reason_code=st.sampled_from(sorted(ALLOWED_V5[cls.TYPE])),
                     properties=properties(cls.TYPE), protocol_level=st.just(5))


@st.composite
def subscription(draw: st.DrawFn, level: int) -> pk.Subscription:
    topic = draw(topic_filter(level))
    qos = draw(st.integers(0, 2))
    if level < 5:
        return pk.Subscription(topic_filter=topic, qos=qos)
    return pk.Subscription(topic_filter=topic, qos=qos,
                           no_local=not topic.startswith("$share/") and draw(st.booleans()),
                           retain_as_published=draw(st.booleans()),
                           retain_handling=draw(st.integers(0, 2)))


def subscribe(level: int) -> st.SearchStrategy[pk.Packet]:
    return st.builds(pk.Subscribe, packet_id=packet_id,
                     subscriptions=st.lists(subscription(level), min_size=1, max_size=4)
                     .map(tuple), properties=_props(level, T.SUBSCRIBE),
                     protocol_level=st.just(level), dup=st.booleans() if level == 3
                     else st.just(False))


def suback(level: int) -> st.SearchStrategy[pk.Packet]:
    codes = {3: SUBACK_V31, 4: SUBACK_V311}.get(level, ALLOWED_V5[T.SUBACK])
    return st.builds(pk.Suback, packet_id=packet_id,
                     reason_codes=st.lists(st.sampled_from(sorted(codes)), min_size=1,
                                           max_size=5).map(tuple),
                     properties=_props(level, T.SUBACK), protocol_level=st.just(level))


def unsubscribe(level: int) -> st.SearchStrategy[pk.Packet]:
    return st.builds(pk.Unsubscribe, packet_id=packet_id,
                     topic_filters=st.lists(topic_filter(level), min_size=1, max_size=4)
                     .map(tuple), properties=_props(level, T.UNSUBSCRIBE),
                     protocol_level=st.just(level), dup=st.booleans() if level == 3
                     else st.just(False))


def unsuback(level: int) -> st.SearchStrategy[pk.Packet]:
    if level < 5:
        return st.builds(pk.Unsuback, packet_id=packet_id, protocol_level=st.just(level))
    return st.builds(pk.Unsuback, packet_id=packet_id,
                     reason_codes=st.lists(st.sampled_from(sorted(ALLOWED_V5[T.UNSUBACK])),
                                           min_size=1, max_size=5).map(tuple),
                     properties=properties(T.UNSUBACK), protocol_level=st.just(5))


def disconnect(level: int) -> st.SearchStrategy[pk.Packet]:
    if level < 5:
        return st.just(pk.Disconnect(protocol_level=level))
    return st.builds(pk.Disconnect, reason_code=st.sampled_from(sorted(ALLOWED_V5[T.DISCONNECT])),
                     properties=properties(T.DISCONNECT), protocol_level=st.just(5))


@st.composite
def auth(draw: st.DrawFn) -> pk.Auth:
    code = draw(st.sampled_from(sorted(ALLOWED_V5[T.AUTH])))
    props = draw(properties(T.AUTH))
    if (code or props) and props.authentication_method is None:
        props = Properties(**{**{d.attr: v for d, v in props.items()},
                              "authentication_method": draw(text)})
    return pk.Auth(reason_code=code, properties=props)


def packet(ptype: T, level: int) -> st.SearchStrategy[pk.Packet]:
    """Well-formed packets of one type under one protocol level."""
    table: dict[T, st.SearchStrategy[Any]] = {
        T.CONNECT: connect(level), T.CONNACK: connack(level), T.PUBLISH: publish(level),
        T.PUBACK: ack(pk.Puback, level), T.PUBREC: ack(pk.Pubrec, level),
        T.PUBREL: ack(pk.Pubrel, level), T.PUBCOMP: ack(pk.Pubcomp, level),
        T.SUBSCRIBE: subscribe(level), T.SUBACK: suback(level),
        T.UNSUBSCRIBE: unsubscribe(level), T.UNSUBACK: unsuback(level),
        T.PINGREQ: st.just(pk.Pingreq(protocol_level=level)),
        T.PINGRESP: st.just(pk.Pingresp(protocol_level=level)),
        T.DISCONNECT: disconnect(level),
    }
    if level == 5:
        table[T.AUTH] = auth()
    return table[ptype]


def types_of(level: int) -> list[T]:
    return [t for t in T if t is not T.AUTH or level == 5]


def any_packet(level: int) -> st.SearchStrategy[pk.Packet]:
    return st.one_of(*(packet(t, level) for t in types_of(level)))


def sample_packets(level: int) -> list[pk.Packet]:
    """A fixed, varied set of valid packets of every type: seeds for mutation tests."""
    v5 = level == 5
    props = Properties(user_properties=(("k", "v"),), reason_string="r") if v5 else Properties()
    pub_props = (Properties(topic_alias=2, message_expiry_interval=30, content_type="t",
                            response_topic="re/ply", correlation_data=b"c",
                            payload_format_indicator=1, subscription_identifiers=(1, 300),
                            user_properties=(("a", "b"), ("a", "c"))) if v5 else Properties())
    will_props = (Properties(will_delay_interval=5, message_expiry_interval=9) if v5
                  else Properties())
    con_props = (Properties(session_expiry_interval=60, receive_maximum=10,
                            maximum_packet_size=4096, topic_alias_maximum=5,
                            request_problem_information=1, authentication_method="m",
                            authentication_data=b"d") if v5 else Properties())
    out: list[pk.Packet] = [
        pk.Connect(client_id="c1", keep_alive=30, username="u", password=b"p",
                   will=pk.Will(topic="w/t", payload=b"bye", qos=1, retain=True,
                                properties=will_props),
                   properties=con_props, protocol_level=level),
        pk.Connect(client_id="", clean_start=False, protocol_level=level),
        pk.Connack(session_present=level > 3, protocol_level=level,
                   properties=Properties(maximum_qos=1, assigned_client_identifier="id",
                                         server_keep_alive=20) if v5 else Properties()),
        pk.Publish(topic="a/b", payload=b"hello", protocol_level=level),
        pk.Publish(topic="a/b/c", payload=b"x" * 40, qos=1, packet_id=7, retain=True,
                   properties=pub_props, protocol_level=level),
        pk.Publish(topic="q2", payload=b"", qos=2, packet_id=65535, dup=True,
                   protocol_level=level),
        pk.Puback(packet_id=7, protocol_level=level),
        pk.Pubrec(packet_id=8, reason_code=0x10 if v5 else 0, properties=props,
                  protocol_level=level),
        pk.Pubrel(packet_id=8, protocol_level=level),
        pk.Pubcomp(packet_id=8, reason_code=0x92 if v5 else 0, protocol_level=level),
        pk.Subscribe(packet_id=3, subscriptions=(
            pk.Subscription(topic_filter="a/+/c", qos=1),
            pk.Subscription(topic_filter="#", qos=2, retain_as_published=v5,
                            retain_handling=2 if v5 else 0)),
            properties=Properties(subscription_identifiers=(5,)) if v5 else Properties(),
            protocol_level=level),
        pk.Suback(packet_id=3, reason_codes=(1, 2), properties=props, protocol_level=level),
        pk.Unsubscribe(packet_id=4, topic_filters=("a/+/c", "#"), protocol_level=level),
        pk.Unsuback(packet_id=4, reason_codes=(0, 0x11) if v5 else (), protocol_level=level),
        pk.Pingreq(protocol_level=level),
        pk.Pingresp(protocol_level=level),
        pk.Disconnect(reason_code=0x04 if v5 else 0, properties=props, protocol_level=level),
    ]
    if v5:
        out.append(pk.Auth(reason_code=0x18, properties=Properties(
            authentication_method="m", authentication_data=b"\x01\x02")))
    return out
