"""Malformed SUBSCRIBE and UNSUBSCRIBE packets (MQTT 3.1.1 sections 3.8.1, 3.8.3, 3.10.1,
3.10.3; MQTT 5 the same sections).

Strategy: each packet is written byte by byte with the raw builder (never the strict
encoder), on a connection that was accepted, and must make the broker close it: MQTT 3.1.1
section 4.8 with nothing sent, MQTT 5 section 4.13 at most after a DISCONNECT with a Reason
Code of 0x80 or more (`expect_violation_close`).  A SUBACK or UNSUBACK in answer fails.
MQTT 3.1 is left out: its text does not make these packets a reason to close.
"""

from __future__ import annotations

from conformance.case import CaseContext, case
from conformance.reactions import expect_violation_close
from mqttspec import RawPacket

SUBSCRIBE, UNSUBSCRIBE = 8, 10
V3_CLOSE, V5_CLOSE = "MQTT-4.8.0-1", "MQTT-4.13.1-1"


def _subscribe(ctx: CaseContext, flags: int = 0b0010, options: int | None = 0x01) -> bytes:
    """SUBSCRIBE packet 1 to one filter of this case with `options` (None: no filter)."""
    raw = RawPacket(SUBSCRIBE, flags).u16(1)
    if ctx.level == 5:
        raw.properties()
    if options is not None:
        raw.string(ctx.topic("bad")).u8(options)
    return raw.build()


def _unsubscribe(ctx: CaseContext, flags: int = 0b0010, with_filter: bool = True) -> bytes:
    raw = RawPacket(UNSUBSCRIBE, flags).u16(1)
    if ctx.level == 5:
        raw.properties()
    if with_filter:
        raw.string(ctx.topic("bad"))
    return raw.build()


def _provoke(ctx: CaseContext, data: bytes, what: str) -> None:
    c = ctx.connected()
    c.send(data, what)
    expect_violation_close(ctx, c, what)


@case("subscribe.reserved-header-flags",
      "SUBSCRIBE with fixed-header flags other than 0010 closes the connection",
      v3=("MQTT-3.8.1-1", V3_CLOSE), v5=("MQTT-3.8.1-1", V5_CLOSE), levels=(4, 5))
def subscribe_flags(ctx: CaseContext) -> None:
    _provoke(ctx, _subscribe(ctx, flags=0b0000), "a SUBSCRIBE with flags 0000")


@case("subscribe.reserved-option-bits",
      "SUBSCRIBE with a reserved bit set in a filter's options byte closes the connection",
      v3=("MQTT-3.8.3-4", V3_CLOSE), v5=("MQTT-3.8.3-5", V5_CLOSE), levels=(4, 5))
def subscribe_reserved_bits(ctx: CaseContext) -> None:
    _provoke(ctx, _subscribe(ctx, options=0x41), "a SUBSCRIBE options byte 0x41 (bit 6 set)")


@case("subscribe.requested-qos-3",
      "SUBSCRIBE requesting QoS 3 closes the connection",
      v3=("MQTT-3.8.3-4", V3_CLOSE), v5=(V5_CLOSE,), levels=(4, 5))
def subscribe_qos3(ctx: CaseContext) -> None:
    _provoke(ctx, _subscribe(ctx, options=0x03), "a SUBSCRIBE requesting QoS 3")


@case("subscribe.retain-handling-3",
      "MQTT 5: SUBSCRIBE with Retain Handling 3 is a Protocol Error: the connection closes",
      v5=(V5_CLOSE,), levels=(5,))
def subscribe_retain_handling_3(ctx: CaseContext) -> None:
    _provoke(ctx, _subscribe(ctx, options=0x31), "a SUBSCRIBE with Retain Handling 3")


@case("subscribe.no-topic-filter",
      "SUBSCRIBE without any Topic Filter closes the connection",
      v3=("MQTT-3.8.3-3", V3_CLOSE), v5=("MQTT-3.8.3-2", V5_CLOSE), levels=(4, 5))
def subscribe_empty(ctx: CaseContext) -> None:
    _provoke(ctx, _subscribe(ctx, options=None), "a SUBSCRIBE with no payload")


@case("unsubscribe.reserved-header-flags",
      "UNSUBSCRIBE with fixed-header flags other than 0010 closes the connection",
      v3=("MQTT-3.10.1-1", V3_CLOSE), v5=("MQTT-3.10.1-1", V5_CLOSE), levels=(4, 5))
def unsubscribe_flags(ctx: CaseContext) -> None:
    _provoke(ctx, _unsubscribe(ctx, flags=0b0000), "an UNSUBSCRIBE with flags 0000")


@case("unsubscribe.no-topic-filter",
      "UNSUBSCRIBE without any Topic Filter closes the connection",
      v3=("MQTT-3.10.3-2", V3_CLOSE), v5=("MQTT-3.10.3-2", V5_CLOSE), levels=(4, 5))
def unsubscribe_empty(ctx: CaseContext) -> None:
    _provoke(ctx, _unsubscribe(ctx, with_filter=False), "an UNSUBSCRIBE with no payload")
