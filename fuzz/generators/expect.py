"""What a conforming broker does with a case's frames: the judge every generator shares.

Strategy: the bytes are decoded with mqttspec's strict `Decoder` as a client's, under the
case's protocol level and after the engine's CONNECT.  A `ProtocolViolation` means the broker
must close (Expect.CLOSE), and the statement IDs are the decoder's.  Bytes the decoder takes
go through a small state check for the rules a stateless decoder cannot see: a second CONNECT
(MQTT-3.1.0-2), AUTH after a CONNECT that named no Authentication Method (MQTT-4.12.0-7),
an empty Topic Name with a Topic Alias never mapped (3.3.2.3.4).  It assumes what the engine's
opening CONNECT is: plain, with no Authentication Method.

Conservative by design: a false "the broker reacted wrongly" costs more than a missed one, so
wherever the spec lets the broker go either way the verdict is Expect.ANY, with the reason:
- DISCONNECT: the server SHOULD (not MUST) close (3.14.4), and nothing after it counts;
- acknowledgements for Packet Identifiers the server may never have used, PUBREL for one the
  client never used;
- strings holding code points a receiver MAY treat as malformed (controls, non-characters:
  3.1.1 section 1.5.3, 5.0 section 1.5.4); a '$' topic the broker may keep to itself (4.7.2);
  a Payload Format Indicator of 1 on a payload that is not UTF-8 (the server MAY refuse it);
- MQTT 5 features a server may not offer, declared only in its CONNACK (Maximum QoS, Retain
  Available, wildcard / shared subscriptions, Subscription Identifiers, Topic Alias Maximum,
  Receive Maximum, Maximum Packet Size): `Needs` records them, and `judge(..., caps=...)` with
  a broker's declared capabilities turns such an ANY into ALIVE when all are offered;
- frames that end inside a packet (the broker waits for the rest).
MQTT 3.1 (level 3) states no rule that a malformed packet closes the connection (the suite
imposes none either), so its violations are Expect.ANY, still with the 3.1.1 IDs recorded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from fuzz.case import Expect
from mqttspec import NO_PROPERTIES, Decoder, Packet, ProtocolViolation
from mqttspec import packets as pk
from mqttspec.properties import PROPERTIES, PropType

SECOND_CONNECT = ("MQTT-3.1.0-2",)
AUTH_UNASKED = ("MQTT-4.12.0-7", "MQTT-4.13.1-1")
CLOSE_V5 = ("MQTT-4.13.1-1",)  # 5.0: a Protocol Error closes the connection
# Code points a receiver MAY treat as malformed (1.5.3 / 1.5.4): controls, non-characters.
_ODD = re.compile("[\x01-\x1f\x7f-\x9f\ufdd0-\ufdef"
                  + "".join(chr(p << 16 | 0xFFFE) + chr(p << 16 | 0xFFFF) for p in range(17))
                  + "]")


def must_close(level: int) -> Expect:
    """The reaction a violation requires (3.1.1: MQTT-4.8.0-1; 5.0: MQTT-4.13.1-1)."""
    return Expect.CLOSE if level >= 4 else Expect.ANY


class Capabilities(Protocol):
    """A broker's optional MQTT 5 features (conformance.target.Capabilities has this shape)."""

    maximum_qos: int
    retain_available: bool
    wildcard_subscriptions: bool
    subscription_identifiers: bool
    shared_subscriptions: bool
    topic_alias_maximum: int
    receive_maximum: int
    maximum_packet_size: int | None


@dataclass(slots=True)
class Needs:
    """Optional MQTT 5 server features the frames rely on."""

    qos: int = 0
    retain: bool = False
    wildcards: bool = False
    subscription_ids: bool = False
    shared: bool = False
    topic_alias: int = 0  # the highest Topic Alias used
    inflight: int = 0  # QoS 1/2 PUBLISH sent; the client reads nothing, so none is acked
    packet_size: int = 0  # the largest packet

    def any(self) -> bool:
        return bool(self.qos or self.retain or self.wildcards or self.subscription_ids
                    or self.shared or self.topic_alias)

    def met_by(self, caps: Capabilities) -> bool:
        size = caps.maximum_packet_size
        return (self.qos <= caps.maximum_qos and (caps.retain_available or not self.retain)
                and (caps.wildcard_subscriptions or not self.wildcards)
                and (caps.subscription_identifiers or not self.subscription_ids)
                and (caps.shared_subscriptions or not self.shared)
                and self.topic_alias <= caps.topic_alias_maximum
                and self.inflight <= caps.receive_maximum
                and (size is None or self.packet_size <= size))

    def names(self) -> list[str]:
        return [n for n, on in ((f"QoS {self.qos}", self.qos), ("retain", self.retain),
                                ("wildcard subscriptions", self.wildcards),
                                ("Subscription Identifiers", self.subscription_ids),
                                ("shared subscriptions", self.shared),
                                ("Topic Alias", self.topic_alias)) if on]


@dataclass(frozen=True, slots=True)
class Verdict:
    expect: Expect
    statements: tuple[str, ...] = ()
    reason: str = ""
    at: int = -1  # offset of the packet the decoder refused, -1 if none
    complete: bool = True  # False: the frames end inside a packet
    needs: Needs = field(default_factory=Needs)


_TEXT_ATTRS = tuple(d.attr for d in PROPERTIES.values() if d.type is PropType.UTF8)


def _strings(p: Packet) -> Iterable[str]:
    if isinstance(p, pk.Publish):
        yield p.topic
    elif isinstance(p, pk.Subscribe):
        yield from (s.topic_filter for s in p.subscriptions)
    elif isinstance(p, pk.Unsubscribe):
        yield from p.topic_filters
    props = getattr(p, "properties", NO_PROPERTIES)
    if props is not NO_PROPERTIES:
        for attr in _TEXT_ATTRS:
            value = getattr(props, attr)
            if value is not None:
                yield value
        for pair in props.user_properties:
            yield from pair


class State:
    """The state check after decoding: one packet at a time, as the broker sees them."""

    def __init__(self, level: int, opened: bool = True) -> None:
        self.level = level
        self.opened = opened
        self.needs = Needs()
        self.doubts: list[str] = []
        self.qos2: set[int] = set()  # QoS 2 PUBLISH awaiting PUBREL
        self.aliases: set[int] = set()  # Topic Aliases given a Topic Name

    def doubt(self, why: str) -> None:
        if not self.doubts:
            self.doubts.append(why)

    def step(self, p: Packet, size: int) -> Verdict | None:
        """Take one packet; a Verdict when it settles the case's outcome."""
        level = self.level
        if not self.opened:
            return Verdict(Expect.ANY, reason="the case opens with its own CONNECT")
        if isinstance(p, pk.Connect):  # MQTT-3.1.0-2: a second CONNECT is a protocol violation
            return Verdict(must_close(level), SECOND_CONNECT, "a second CONNECT")
        if isinstance(p, pk.Auth):  # MQTT-4.12.0-7: no AUTH unless CONNECT named a method
            return Verdict(must_close(level), AUTH_UNASKED,
                           "AUTH after a CONNECT without Authentication Method")
        if isinstance(p, pk.Disconnect):
            return Verdict(Expect.ANY, reason="DISCONNECT: the server SHOULD close (3.14.4)")
        self.needs.packet_size = max(self.needs.packet_size, size)
        for s in _strings(p):
            if _ODD.search(s):
                self.doubt("a string with a code point a receiver MAY treat as malformed "
                           "(1.5.4)")
        if isinstance(p, pk.Publish):
            return self._publish(p)
        if isinstance(p, pk.Pubrel):
            if p.packet_id in self.qos2:
                self.qos2.discard(p.packet_id)
            else:
                self.doubt("PUBREL for a Packet Identifier the client never used")
        elif isinstance(p, pk.Puback | pk.Pubrec | pk.Pubcomp):
            self.doubt(f"{p.TYPE.name} for a PUBLISH the server may never have sent")
        elif isinstance(p, pk.Subscribe | pk.Unsubscribe):
            filters = ([s.topic_filter for s in p.subscriptions]
                       if isinstance(p, pk.Subscribe) else list(p.topic_filters))
            if any(f.startswith("$") and not f.startswith("$share/") for f in filters):
                # 4.7.2: '$' names may be the broker's own; refusing the filter is allowed,
                # and before MQTT 3.1.1's SUBACK 0x80 a refusal can only be a close
                self.doubt("a Topic Filter starting with '$' (4.7.2): the broker may refuse it")
        if isinstance(p, pk.Subscribe) and level == 5:
            for sub in p.subscriptions:
                flt = sub.topic_filter
                self.needs.shared |= flt.startswith("$share/")
                self.needs.wildcards |= "+" in flt or "#" in flt
            self.needs.subscription_ids |= bool(p.properties.subscription_identifiers)
        return None

    def _publish(self, p: pk.Publish) -> Verdict | None:
        if p.topic.startswith("$"):
            self.doubt("a Topic Name starting with '$' (4.7.2): the broker may refuse it")
        if p.qos == 1 and p.packet_id in self.qos2:
            self.doubt("QoS 1 PUBLISH reusing the identifier of a QoS 2 flow in progress")
        if p.qos == 2 and p.packet_id is not None:
            self.qos2.add(p.packet_id)
        if self.level < 5:
            return None
        needs = self.needs
        alias = p.properties.topic_alias
        if alias is not None:
            if not p.topic and alias not in self.aliases:
                # 3.3.2.3.4: a Protocol Error whatever the Topic Alias Maximum (above it:
                # MQTT-3.3.2-9; within it: no mapping yet)
                return Verdict(Expect.CLOSE, CLOSE_V5, "empty Topic Name with a Topic Alias "
                               "never mapped", needs=needs)
            needs.topic_alias = max(needs.topic_alias, alias)
            if p.topic:
                self.aliases.add(alias)
        if p.qos:
            needs.qos = max(needs.qos, p.qos)
            needs.inflight += 1
        needs.retain |= p.retain
        if p.properties.payload_format_indicator == 1:
            try:
                p.payload.decode("utf-8")
            except UnicodeDecodeError:
                self.doubt("Payload Format Indicator 1 on a payload that is not UTF-8")
        return None

    def verdict(self, caps: Capabilities | None = None) -> Verdict:
        if self.doubts:
            return Verdict(Expect.ANY, reason=self.doubts[0], needs=self.needs)
        if self.level == 5 and self.needs.any():
            if caps is not None and self.needs.met_by(caps):
                return Verdict(Expect.ALIVE, needs=self.needs)
            return Verdict(Expect.ANY, reason="uses optional MQTT 5 features: "
                           + ", ".join(self.needs.names()), needs=self.needs)
        return Verdict(Expect.ALIVE, needs=self.needs)


def judge(level: int, frames: Sequence[bytes], *, connect: bool = True,
          caps: Capabilities | None = None) -> Verdict:
    """The verdict on `frames` sent by a client after the engine's CONNECT (or, with
    connect=False, as the first bytes on the connection)."""
    data = b"".join(frames)
    decoder = Decoder(level if connect else None, "client")
    decoder.feed(data)
    state = State(level, opened=connect)
    consumed = 0
    try:
        while (packet := decoder.next_packet()) is not None:
            size = len(data) - decoder.buffered - consumed
            consumed += size
            verdict = state.step(packet, size)
            if verdict is not None:
                return verdict
    except ProtocolViolation as exc:
        return Verdict(must_close(level), exc.statements, str(exc),
                       at=len(data) - len(decoder.unread()))
    if decoder.buffered:
        return Verdict(Expect.ANY, reason="the frames end inside a packet", complete=False)
    return state.verdict(caps)


def refine(level: int, frames: Sequence[bytes], expect: Expect, caps: Capabilities,
           connect: bool = True) -> Expect:
    """A case's expectation once the broker's optional features are known (an ANY that only
    stood for "may not be offered" becomes ALIVE)."""
    if expect is not Expect.ANY:
        return expect
    return judge(level, frames, connect=connect, caps=caps).expect
