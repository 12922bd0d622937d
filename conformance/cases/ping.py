"""PINGREQ and PINGRESP (MQTT 3.1.1 sections 3.12-3.13, MQTT 5 sections 3.12-3.13).

Strategy: the broker answers every PINGREQ, whatever else is going on: several in one write
get as many PINGRESPs; one sent in the middle of an incoming QoS 2 flow (PUBREC received,
PUBREL not sent) is answered; and under MQTT 5, one sent while the client's Receive Maximum
holds the broker's PUBLISH packets back is answered too, since only PUBLISH may wait for the
quota (MQTT-3.3.4-10).
"""

from __future__ import annotations

from conformance.case import CaseContext, case, fail, not_applicable
from conformance.cases.subscribe_common import require_granted, settle
from conformance.client import ClientError
from mqttspec import Packet, Pingreq, Pingresp, Properties, Publish, Pubrec, Pubrel, encode

PINGRESP = ("MQTT-3.12.4-1",)


@case("ping.pingresp-for-each-pingreq",
      "Each PINGREQ, three of them in one write included, gets a PINGRESP",
      v3=PINGRESP, v5=PINGRESP)
def pingresp_each(ctx: CaseContext) -> None:
    c = ctx.connected()
    for burst in (1, 3):
        c.send(encode(Pingreq(protocol_level=ctx.level)) * burst, f"{burst} PINGREQ")
        got: list[Packet] = []
        try:
            while len(got) < burst:
                got.append(c.recv())
        except ClientError as exc:
            fail(f"{burst} PINGRESP for {burst} PINGREQ", f"{len(got)}, then {exc}")
        if not all(isinstance(p, Pingresp) for p in got):
            fail(f"{burst} PINGRESP", f"received {got}")


@case("ping.pingresp-mid-qos2-flow",
      "A PINGREQ between PUBREC and PUBREL of an incoming QoS 2 flow gets its PINGRESP",
      v3=PINGRESP, v5=PINGRESP)
def pingresp_mid_flow(ctx: CaseContext) -> None:
    if ctx.target.capabilities.maximum_qos < 2:
        not_applicable("the broker accepts no QoS 2 PUBLISH")
    c = ctx.connected()
    c.publish(ctx.topic("p"), b"x", qos=2, complete=False)
    pubrec = c.expect(Pubrec)
    c.send(Pingreq(protocol_level=ctx.level))
    try:
        c.expect(Pingresp)
    except ClientError as exc:
        fail("PINGRESP while the QoS 2 flow waits for our PUBREL", str(exc))
    c.send(Pubrel(packet_id=pubrec.packet_id, protocol_level=ctx.level))
    c.barrier()


@case("ping.pingresp-when-receive-maximum-reached",
      "MQTT 5: a PINGREQ is answered while the client's Receive Maximum holds PUBLISHes back",
      v5=(*PINGRESP, "MQTT-3.3.4-10"), levels=(5,))
def pingresp_at_quota(ctx: CaseContext) -> None:
    sub = ctx.connected("sub", properties=Properties(receive_maximum=1))
    pub = ctx.connected("pub")
    t = ctx.topic("quota")
    require_granted(sub.subscribe(t, qos=1), "the subscription")
    pub.publish(t, b"first", qos=1)
    pub.publish(t, b"second", qos=1)
    first = sub.expect_publish(ack=False)  # unacknowledged: the quota of 1 is used up
    sub.send(Pingreq(protocol_level=5))
    try:
        p = sub.recv()
    except ClientError as exc:
        fail("PINGRESP though PUBLISHes wait for the Receive Maximum", str(exc))
    if isinstance(p, Publish):  # MQTT-3.3.4-9, another area's rule: only recorded here
        ctx.note(f"a second unacknowledged PUBLISH came beyond Receive Maximum 1: {p!r}")
        sub.held.append(p)
        p = sub.recv()
    if not isinstance(p, Pingresp):
        fail("PINGRESP", f"{p!r}")
    sub.ack(first)
    settle(sub)  # the second message may follow now; acknowledged, nothing left open
