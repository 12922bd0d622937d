"""Request Problem Information 0: no Reason String or User Property but on PUBLISH, CONNACK
and DISCONNECT (MQTT 5 section 3.1.2.11.7, MQTT-3.1.2-29).

Strategy: a client that set Request Problem Information to 0 drives every flow that commonly
carries diagnostics: acknowledgements with a non-success code (PUBACK 0x10 for no subscribers,
PUBCOMP 0x92 for an unknown PUBREL, UNSUBACK 0x11 for a filter never subscribed), both QoS 2
flows (the server's PUBREC, PUBCOMP, and its PUBREL of a message to the client), SUBACK and
PINGRESP.  None of these may carry a Reason String or a User Property.  The User Properties
of a PUBLISH are application data and still reach that client (MQTT-3.3.2-17).
"""

from __future__ import annotations

from conformance.case import CaseContext, case, fail
from conformance.cases.properties_common import (
    diagnostics,
    expecting,
    publish,
    subscribe,
)
from conformance.client import TestClient
from mqttspec import Packet, Properties, Pubcomp, Publish, Pubrec, Pubrel, Unsubscribe


@case("properties.request-problem-information-0-no-diagnostics",
      "With Request Problem Information 0, no Reason String or User Property on anything but "
      "PUBLISH, CONNACK and DISCONNECT; PUBLISH keeps its User Properties",
      v5=("MQTT-3.1.2-29", "MQTT-3.3.2-17"), levels=(5,))
def no_diagnostics(ctx: CaseContext) -> None:
    quiet = ctx.connected("quiet", properties=Properties(request_problem_information=0))
    topic, nobody = ctx.topic("q"), ctx.topic("nobody")
    seen: list[Packet] = []
    with expecting("every flow of the quiet client completes"):
        subscribe(quiet, topic, qos=2)
        seen += _flows(quiet, nobody)
        pub = ctx.connected("pub")
        publish(pub, topic, b"with user properties", qos=2,
                properties=Properties(user_properties=(("k", "v"), ("k", "w"))))
        got = quiet.expect_publish(ack=False)
        quiet.send(Pubrec(packet_id=got.packet_id or 0, protocol_level=5))
        seen.append(quiet.expect(Pubrel))  # the server's PUBREL to the quiet client
        quiet.send(Pubcomp(packet_id=got.packet_id or 0, protocol_level=5))
        seen += quiet.barrier()
    if got.properties.user_properties != (("k", "v"), ("k", "w")):  # MQTT-3.3.2-17
        fail("the PUBLISH keeps its User Properties: they are not diagnostics "
             "(MQTT-3.3.2-17, MQTT-3.1.2-29)", f"{got!r}")
    for p in seen:
        if not isinstance(p, Publish) and diagnostics(p):  # MQTT-3.1.2-29
            fail("no Reason String or User Property on anything but PUBLISH, CONNACK and "
                 "DISCONNECT (MQTT-3.1.2-29)", f"{diagnostics(p)} on {p!r}")


def _flows(c: TestClient, nobody: str) -> list[Packet]:
    """The acknowledgements of flows with and without success; every packet received."""
    ack = c.publish(nobody, b"no subscribers", qos=1)  # PUBACK, 0x10 maybe
    assert ack is not None
    seen: list[Packet] = [ack]
    pid = c.packet_id()
    c.send(Publish(topic=nobody, payload=b"no subscribers", qos=2, packet_id=pid,
                   protocol_level=5))
    seen.append(c.expect(Pubrec))  # 0x10 maybe
    c.send(Pubrel(packet_id=pid, protocol_level=5))
    seen.append(c.expect(Pubcomp))
    c.send(Pubrel(packet_id=c.packet_id(), protocol_level=5))  # PUBCOMP 0x92, maybe
    c.send(Unsubscribe(packet_id=c.packet_id(), topic_filters=(nobody,), protocol_level=5))
    seen += c.barrier()  # the PUBCOMP, the UNSUBACK (0x11, maybe)
    return seen
