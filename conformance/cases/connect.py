"""CONNECT and CONNACK (MQTT 3.1.1 section 3.1-3.2, MQTT 5 section 3.1-3.2)."""

from __future__ import annotations

from conformance.case import CaseContext, case, fail
from conformance.client import WaitTimeout
from mqttspec import Connack, Connect, Publish


@case("connect.first-packet-must-be-connect",
      "A connection whose first packet is not CONNECT is closed without a CONNACK",
      v3=("MQTT-3.1.0-1", "MQTT-4.8.0-1"), v5=("MQTT-3.1.0-1", "MQTT-4.13.1-1"))
def first_packet_not_connect(ctx: CaseContext) -> None:
    c = ctx.client()
    c.send(Publish(topic=ctx.topic("x"), payload=b"early", protocol_level=ctx.level))
    try:
        got = c.expect_close()
    except WaitTimeout:
        fail("the broker closes the connection", "the connection stayed open")
    if any(isinstance(p, Connack) for p in got):
        fail("no CONNACK", f"received {got}")


@case("connect.second-connect-is-a-protocol-violation",
      "A second CONNECT on a connection closes it",
      v3="MQTT-3.1.0-2", v5="MQTT-3.1.0-2")
def second_connect(ctx: CaseContext) -> None:
    c = ctx.client()
    connack = c.connect(ctx.client_id())
    if connack.reason_code != 0:
        fail("the first CONNECT is accepted", f"{connack}")
    c.send(Connect(client_id=ctx.client_id(), protocol_level=ctx.level))
    try:
        got = c.expect_close()
    except WaitTimeout:
        fail("the broker closes the connection after the second CONNECT",
             "the connection stayed open")
    if any(isinstance(p, Connack) for p in got):
        fail("no second CONNACK", f"received {got}")
