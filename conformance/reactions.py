"""The spec's reactions to a broken rule, judged once for every case that provokes one.

Strategy: after a protocol violation the server closes the network connection (MQTT 3.1.1
MQTT-4.8.0-1, MQTT 5 MQTT-4.13.1-1).  MQTT 5 lets it say why first: a DISCONNECT (or, before
the CONNACK, a CONNACK) with a Reason Code of 0x80 or more (MQTT-4.13.2-1 / section 4.13).
`expect_violation_close` accepts each allowed behaviour, records in the case notes which one it
saw, and fails on anything else: a packet that should not come, a success code, or a
connection that stays open (proven by reading to EOF within the bounded wait).
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator

from conformance.case import CaseContext, fail
from conformance.client import BrokerClosed, BrokerViolation, TestClient, Unexpected, WaitTimeout
from mqttspec import Connack, Disconnect, Packet


@contextlib.contextmanager
def expecting(what: str) -> Iterator[None]:
    """Inside this block, a broker that does not do `what` is a FAIL with a clear reason."""
    try:
        yield
    except WaitTimeout:
        fail(what, "nothing came within the time limit")
    except BrokerClosed as exc:
        fail(what, f"the broker closed the connection ({exc})")
    except BrokerViolation as exc:
        fail(what, f"the broker sent bytes that break the spec: {exc}")
    except Unexpected as exc:
        fail(what, f"received {exc.packet!r}")


def expect_violation_close(ctx: CaseContext, c: TestClient, what: str, *,
                           before_connack: bool = False,
                           codes: Collection[int] | None = None) -> int | None:
    """`c` just sent `what`; the broker must close the connection.  Under MQTT 5 it may send
    DISCONNECT (CONNACK when `before_connack`) with a Reason Code >= 0x80 first; `codes`, when
    given, are the only Reason Codes the statement allows.  Returns the code seen, if any."""
    try:
        got = c.expect_close()
    except WaitTimeout:
        fail(f"the broker closes the connection after {what}", "the connection stayed open")
    except BrokerViolation as exc:
        fail(f"the broker closes the connection after {what}",
             f"the broker answered with malformed bytes: {exc}")
    return judge_close(ctx, got, what, before_connack=before_connack, codes=codes)


def judge_close(ctx: CaseContext, got: list[Packet], what: str, *, before_connack: bool,
                codes: Collection[int] | None) -> int | None:
    """The packets that came before the broker closed: at most one DISCONNECT / CONNACK
    carrying a failure Reason Code, and only under MQTT 5."""
    if not got:
        ctx.note(f"closed the connection after {what} without a packet")
        return None
    allowed = Connack if before_connack else Disconnect
    first = got[0]
    expected = (f"the connection closed after {what}" +
                (f", at most after a {allowed.__name__.upper()} with a Reason Code >= 0x80"
                 if c_level(got) == 5 else ", with no packet sent"))
    if len(got) > 1 or not isinstance(first, allowed):
        fail(expected, f"received {', '.join(repr(p) for p in got)}")
    if first.protocol_level != 5:
        # MQTT 3.1.1: a CONNACK refusing a CONNECT is fine where the case allows it
        if before_connack and isinstance(first, Connack) and first.reason_code != 0 and (
                codes is None or first.reason_code in codes):
            ctx.note(f"sent CONNACK {first.reason_code:#04x}, then closed")
            return first.reason_code
        fail(expected, f"received {first!r}")
    code = first.reason_code
    if code < 0x80:
        fail(expected, f"{allowed.__name__.upper()} with Reason Code {code:#04x} (not a failure)")
    if codes is not None and code not in codes:
        fail(f"{expected}; Reason Code one of {', '.join(f'{c:#04x}' for c in codes)}",
             f"{allowed.__name__.upper()} with Reason Code {code:#04x}")
    ctx.note(f"sent {allowed.__name__.upper()} {code:#04x}, then closed")
    return code


def c_level(got: list[Packet]) -> int:
    return getattr(got[0], "protocol_level", 4) if got else 4
