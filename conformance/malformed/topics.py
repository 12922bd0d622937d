"""Rows that break the rules of topics, subscriptions and Packet Identifiers.

Strategy: Topic Names (PUBLISH, the Will Topic) with a wildcard (MQTT-3.3.2-2, MQTT-4.7.1-1 /
MQTT-4.7.0-1) or empty (MQTT-4.7.3-1; in 5.0 a PUBLISH without Topic Alias); Topic Filters
(SUBSCRIBE, UNSUBSCRIBE) where '#' is not a whole last level or '+' not a whole level
(MQTT-4.7.1-2 / -3 in 3.1.1, -1 / -2 in 5.0) or that are empty; a SUBSCRIBE or UNSUBSCRIBE
with no Topic Filter; each reserved bit of the subscription options, QoS 3, Retain Handling
3 and No Local on a Shared Subscription; Packet Identifier 0 on each packet that must carry a
non-zero one (MQTT-2.3.1-1 / MQTT-2.2.1-3).  Acknowledgements with Packet Identifier 0 are not
rows: they answer no packet, and an acknowledgement of an unknown identifier is not a
violation (5.0 answers a PUBREL for one with Reason Code 0x92).  Everything under the case's
own topic root.
"""

from __future__ import annotations

from collections.abc import Iterator

from conformance.malformed.rows import (
    ALL_LEVELS,
    V3_LEVELS,
    V5_ONLY,
    Builder,
    Malformation,
    Names,
    Row,
    make_row,
)
from conformance.malformed.shapes import publish, shape, state_of
from mqttspec.raw import raw_string

WILDCARD_NAME_V3 = ("MQTT-3.3.2-2", "MQTT-4.7.1-1")
WILDCARD_NAME_V5 = ("MQTT-3.3.2-2", "MQTT-4.7.0-1")
EMPTY = ("MQTT-4.7.3-1",)
# (row id, the level under the case's root); then names that are a wildcard and nothing else
NAMES_WITH_WILDCARDS = (("plus-level", "+"), ("hash-level", "#"), ("plus-in-level", "a+b"),
                        ("hash-in-level", "a#b"))
WHOLE_WILDCARD_NAMES = (("only-plus", "+"), ("only-hash", "#"))
HASH_RULE = ("MQTT-4.7.1-2",), ("MQTT-4.7.1-1",)  # (3.1.1, 5.0)
PLUS_RULE = ("MQTT-4.7.1-3",), ("MQTT-4.7.1-2",)
# (row id, the level under the case's root, the rule broken)
BAD_FILTERS = (
    ("hash-not-last", "#/a", HASH_RULE), ("hash-after-text", "a#", HASH_RULE),
    ("hash-before-text", "#a", HASH_RULE), ("hash-twice", "#/#", HASH_RULE),
    ("plus-after-text", "a+", PLUS_RULE), ("plus-before-text", "+a", PLUS_RULE),
    ("plus-twice-in-level", "++", PLUS_RULE), ("plus-then-hash", "+#", HASH_RULE),
)


def _topic_field(packet: str, field: str, text: str | None, whole: str = "") -> Builder:
    """The field set to the topic `text` under the root, or to `whole` as it is."""
    def build(level: int, names: Names) -> bytes:
        topic = names.topic(text) if text is not None else whole
        return shape(packet, level, names).with_field(field, raw_string(topic)).build()
    return build


def topic_name_rows() -> Iterator[Row]:
    for packet, field in (("PUBLISH", "Topic Name"), ("CONNECT", "Will Topic")):
        prefix = f"{packet.lower()}.{'topic-name' if packet == 'PUBLISH' else 'will-topic'}"
        state = state_of(packet)
        for row_id, text in NAMES_WITH_WILDCARDS:
            yield make_row(f"{prefix}-wildcard-{row_id}",
                           f"{packet} whose {field} has the level '{text}'", packet,
                           Malformation.TOPIC_NAME, ALL_LEVELS,
                           _topic_field(packet, field, text),
                           v3=WILDCARD_NAME_V3, v5=WILDCARD_NAME_V5, state=state)
        for row_id, text in WHOLE_WILDCARD_NAMES:
            yield make_row(f"{prefix}-wildcard-{row_id}", f"{packet} whose {field} is '{text}'",
                           packet, Malformation.TOPIC_NAME, ALL_LEVELS,
                           _topic_field(packet, field, None, text),
                           v3=WILDCARD_NAME_V3, v5=WILDCARD_NAME_V5, state=state)
        yield make_row(f"{prefix}-empty", f"{packet} with an empty {field}"
                       + (" and no Topic Alias" if packet == "PUBLISH" else ""), packet,
                       Malformation.TOPIC_NAME, ALL_LEVELS,
                       _topic_field(packet, field, None, ""), v3=EMPTY, v5=EMPTY, state=state)


def topic_filter_rows() -> Iterator[Row]:
    for packet in ("SUBSCRIBE", "UNSUBSCRIBE"):
        # a broker without wildcard subscriptions may refuse these in its SUBACK instead
        needs = ("wildcard_subscriptions",) if packet == "SUBSCRIBE" else ()
        for row_id, text, (v3, v5) in BAD_FILTERS:
            yield make_row(f"{packet.lower()}.topic-filter-{row_id}",
                           f"{packet} whose Topic Filter has the level '{text}'", packet,
                           Malformation.TOPIC_FILTER, ALL_LEVELS,
                           _topic_field(packet, "Topic Filter", text), v3=v3, v5=v5,
                           needs=needs)
        yield make_row(f"{packet.lower()}.topic-filter-empty",
                       f"{packet} with an empty Topic Filter", packet,
                       Malformation.TOPIC_FILTER, ALL_LEVELS,
                       _topic_field(packet, "Topic Filter", None, ""), v3=EMPTY, v5=EMPTY)


def _no_filters(packet: str) -> Builder:
    def build(level: int, names: Names) -> bytes:
        return shape(packet, level, names).without("Topic Filter",
                                                   "Subscription Options").build()
    return build


def no_filter_rows() -> Iterator[Row]:
    yield make_row("subscribe.no-topic-filters", "SUBSCRIBE with no Topic Filter",
                   "SUBSCRIBE", Malformation.NO_TOPIC_FILTERS, ALL_LEVELS,
                   _no_filters("SUBSCRIBE"), v3=("MQTT-3.8.3-3",), v5=("MQTT-3.8.3-2",))
    yield make_row("unsubscribe.no-topic-filters", "UNSUBSCRIBE with no Topic Filter",
                   "UNSUBSCRIBE", Malformation.NO_TOPIC_FILTERS, ALL_LEVELS,
                   _no_filters("UNSUBSCRIBE"), v3=("MQTT-3.10.3-2",), v5=("MQTT-3.10.3-2",))


def _options(options: int, shared: bool = False) -> Builder:
    def build(level: int, names: Names) -> bytes:
        s = shape("SUBSCRIBE", level, names).with_field("Subscription Options",
                                                        bytes((options,)))
        if shared:
            s = s.with_field("Topic Filter", raw_string("$share/mqttlab/" + names.topic("f")))
        return s.build()
    return build


def subscription_option_rows() -> Iterator[Row]:
    for bit in range(2, 8):  # 3.x: bits 7-2 of the Requested QoS byte are reserved
        options = 0x01 | 1 << bit
        yield make_row(f"subscribe.requested-qos-reserved-bit-{bit}",
                       f"SUBSCRIBE whose Requested QoS byte has reserved bit {bit} set "
                       f"(0x{options:02X})", "SUBSCRIBE", Malformation.SUBSCRIPTION_OPTIONS,
                       V3_LEVELS, _options(options), v3=("MQTT-3.8.3-4",))
    yield make_row("subscribe.requested-qos-3", "SUBSCRIBE requesting QoS 3", "SUBSCRIBE",
                   Malformation.SUBSCRIPTION_OPTIONS, V3_LEVELS, _options(0x03),
                   v3=("MQTT-3.8.3-4",))
    for bit in (6, 7):  # 5.0: bits 7 and 6 of the Subscription Options are reserved
        yield make_row(f"subscribe.options-reserved-bit-{bit}",
                       f"SUBSCRIBE whose Subscription Options have reserved bit {bit} set",
                       "SUBSCRIBE", Malformation.SUBSCRIPTION_OPTIONS, V5_ONLY,
                       _options(0x01 | 1 << bit), v5=("MQTT-3.8.3-5",))
    yield make_row("subscribe.options-reserved-bits-6-and-7",
                   "SUBSCRIBE whose Subscription Options have both reserved bits set",
                   "SUBSCRIBE", Malformation.SUBSCRIPTION_OPTIONS, V5_ONLY, _options(0xC1),
                   v5=("MQTT-3.8.3-5",))
    yield make_row("subscribe.options-maximum-qos-3",
                   "SUBSCRIBE with Maximum QoS 3 (3.8.3.1: a Protocol Error)", "SUBSCRIBE",
                   Malformation.SUBSCRIPTION_OPTIONS, V5_ONLY, _options(0x03))
    yield make_row("subscribe.options-retain-handling-3",
                   "SUBSCRIBE with Retain Handling 3 (3.8.3.1: a Protocol Error)",
                   "SUBSCRIBE", Malformation.SUBSCRIPTION_OPTIONS, V5_ONLY, _options(0x31))
    yield make_row("subscribe.options-no-local-on-shared-subscription",
                   "SUBSCRIBE with No Local on a Shared Subscription", "SUBSCRIBE",
                   Malformation.SUBSCRIPTION_OPTIONS, V5_ONLY, _options(0x05, shared=True),
                   v5=("MQTT-3.8.3-4",), needs=("shared_subscriptions",))


def _packet_id_zero(packet: str, flags: int | None = None) -> Builder:
    def build(level: int, names: Names) -> bytes:
        s = publish(level, names) if packet == "PUBLISH" else shape(packet, level, names)
        if flags is not None:
            s = s.with_flags(flags)
        return s.with_field("Packet Identifier", b"\x00\x00").build()
    return build


def packet_id_rows() -> Iterator[Row]:
    cases = (("publish.qos-1-packet-identifier-0", "PUBLISH at QoS 1", "PUBLISH", 0b0010),
             ("publish.qos-2-packet-identifier-0", "PUBLISH at QoS 2", "PUBLISH", 0b0100),
             ("subscribe.packet-identifier-0", "SUBSCRIBE", "SUBSCRIBE", None),
             ("unsubscribe.packet-identifier-0", "UNSUBSCRIBE", "UNSUBSCRIBE", None))
    for row_id, what, packet, flags in cases:
        yield make_row(row_id, f"{what} with Packet Identifier 0", packet,
                       Malformation.PACKET_ID_ZERO, ALL_LEVELS, _packet_id_zero(packet, flags),
                       v3=("MQTT-2.3.1-1",), v5=("MQTT-2.2.1-3",))


def rows() -> Iterator[Row]:
    yield from topic_name_rows()
    yield from topic_filter_rows()
    yield from no_filter_rows()
    yield from subscription_option_rows()
    yield from packet_id_rows()
