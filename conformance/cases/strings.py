"""UTF-8 strings: U+FEFF is a character like any other (MQTT 3.1.1 section 1.5.3, MQTT 5
section 1.5.4).

The byte sequence EF BB BF inside a string is ZERO WIDTH NO-BREAK SPACE, never a byte-order
mark to skip or strip (MQTT-1.5.3-3 / MQTT-1.5.4-3).  Seen from the wire: a Topic Name that
carries it reaches the subscriber of exactly that name, and not the subscriber of the name
without it.  Ill-formed strings and U+0000 are rows of the malformed-input table.
"""

from __future__ import annotations

from conformance.case import CaseContext, case, fail
from conformance.client import ClientError

BOM = "\ufeff"


@case("strings.u-feff-kept-in-topic-names",
      "A Topic Name holding U+FEFF is matched and delivered with it, never stripped",
      v3="MQTT-1.5.3-3", v5="MQTT-1.5.4-3", level="MUST NOT")
def feff_kept(ctx: CaseContext) -> None:
    with_bom = ctx.topic(f"{BOM}mark")
    without = ctx.topic("mark")
    exact = ctx.connected("exact")
    exact.subscribe(with_bom)
    stripped = ctx.connected("stripped")
    stripped.subscribe(without)
    publisher = ctx.connected("pub")
    publisher.publish(with_bom, b"feff")
    try:
        got = exact.expect_publish()
    except ClientError as exc:
        fail(f"the subscriber of {with_bom!r} receives the message", str(exc))
    if got.topic != with_bom:
        fail(f"Topic Name {with_bom!r}", f"Topic Name {got.topic!r}")
    if extra := stripped.no_publish():
        fail(f"nothing for the subscriber of {without!r} (the name without U+FEFF)",
             f"received {extra}")
