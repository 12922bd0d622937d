"""MQTT 5 servers without retained messages (MQTT 5 section 3.2.2.3.5, Retain Available 0).

Strategy: these cases are NOT APPLICABLE on a server whose CONNACK declares (or defaults to)
Retain Available 1.  On one that declares 0, a PUBLISH with RETAIN 1 is a Protocol Error
answered by DISCONNECT 0x9A (section 3.2.2.3.5, judged as any violation: the connection must
close, the Reason Code is recorded), and a CONNECT whose Will Retain is 1 is refused, ideally
with CONNACK 0x9A, and closed (MQTT-3.2.2-13).  Nothing may be retained either way.
"""

from __future__ import annotations

from conformance.case import CaseContext, case, non_strict, not_applicable
from conformance.cases.publish_common import connect_with_will, nothing_more
from conformance.reactions import expect_violation_close
from mqttspec import Publish

RETAIN_NOT_SUPPORTED = 0x9A


def _unavailable(ctx: CaseContext) -> None:
    if ctx.target.capabilities.retain_available:
        not_applicable("the broker offers retained messages (Retain Available 1)")


@case("retain.v5-unavailable-publish-disconnects",
      "Without Retain Available, a PUBLISH with RETAIN 1 closes the connection (DISCONNECT "
      "0x9A) and nothing is retained",
      v5=("MQTT-3.2.2-14", "MQTT-4.13.1-1"), levels=(5,))
def retain_publish_refused(ctx: CaseContext) -> None:
    _unavailable(ctx)
    topic = ctx.topic("noretain")
    watcher = ctx.connected("watcher")
    watcher.subscribe(topic, qos=1)
    c = ctx.connected("pub")
    c.send(Publish(topic=topic, payload=b"keep me", qos=1, packet_id=1, retain=True,
                   protocol_level=5))
    code = expect_violation_close(ctx, c, "a PUBLISH with RETAIN 1 (Retain Available 0)")
    nothing_more(watcher, "message from the refused retained PUBLISH")
    late = ctx.connected("late")
    late.subscribe(topic, qos=1)
    nothing_more(late, "retained message on a server without retained messages")
    if code is not None and code != RETAIN_NOT_SUPPORTED:  # section 3.2.2.3.5: "uses 0x9A"
        non_strict("DISCONNECT 0x9A (Retain not supported)", f"DISCONNECT {code:#04x}")


@case("retain.v5-unavailable-will-retain-refused",
      "Without Retain Available, a CONNECT with Will Retain 1 is refused (CONNACK 0x9A) and "
      "closed",
      v5="MQTT-3.2.2-13", levels=(5,))
def will_retain_refused(ctx: CaseContext) -> None:
    _unavailable(ctx)
    c = ctx.client()
    c.send(connect_with_will(ctx, retain=True))
    code = expect_violation_close(ctx, c, "a CONNECT with Will Retain 1 (Retain Available 0)",
                                  before_connack=True)
    if code is None:  # MQTT-3.2.2-13: SHOULD send CONNACK 0x9A, MUST close
        non_strict("CONNACK 0x9A before closing", "closed without a CONNACK")
    if code != RETAIN_NOT_SUPPORTED:
        non_strict("CONNACK 0x9A (Retain not supported)", f"CONNACK {code:#04x}")
