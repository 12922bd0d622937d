"""Keep Alive, as the server enforces it (MQTT 3.1.1 section 3.1.2.10, MQTT 5 sections
3.1.2.10 and 3.2.2.3.14).

Strategy: the smallest Keep Alive there is, one second, and then silence: the broker must
close once one and a half times the Keep Alive have passed.  The spec sets no deadline for
the close itself, and brokers check their timers periodically (Mosquitto 2.0 every five
seconds), so the case waits six seconds more before it calls the connection kept open, and
notes how long the close took.  MQTT 5 brokers may
impose their own Server Keep Alive in CONNACK: then that value is the one enforced (and the
case is NOT APPLICABLE when it is zero or too long to wait for).  The other side of the rule:
a client that does send packets within its Keep Alive is not cut off.
"""

from __future__ import annotations

import time

from conformance.case import CaseContext, case, fail, not_applicable
from conformance.cases.will import expect_will, watcher, will
from conformance.client import ClientError, TestClient, WaitTimeout
from conformance.reactions import judge_close
from mqttspec import Properties

SLACK = 6.0  # seconds allowed beyond 1.5 x Keep Alive (a timer checked every 5 s)
LONGEST = 5  # seconds: a longer Server Keep Alive is not waited for


def effective_keep_alive(ctx: CaseContext, c: TestClient, asked: int) -> int:
    """The Keep Alive the broker must apply: the client's, or the MQTT 5 Server Keep Alive."""
    assert c.connack is not None
    server = c.connack.properties.server_keep_alive if ctx.level == 5 else None
    if server is None:
        return asked  # MQTT-3.2.2-22: no Server Keep Alive, the client's value applies
    ctx.note(f"Server Keep Alive {server}")
    if server == 0 or server > LONGEST:
        not_applicable(f"the broker imposes a Server Keep Alive of {server} s")
    return server


def expect_keep_alive_close(ctx: CaseContext, c: TestClient, keep_alive: int) -> float:
    """The broker closes `c` within 1.5 x Keep Alive (+ slack); returns when, in seconds."""
    started = time.monotonic()
    limit = 1.5 * keep_alive + SLACK
    try:
        got = c.expect_close(timeout=limit)
    except WaitTimeout:  # MQTT-3.1.2-24 / MQTT-3.1.2-22
        fail(f"the connection closed within 1.5 x the Keep Alive of {keep_alive} s",
             f"still open after {limit:.1f} s of silence")
    after = time.monotonic() - started
    judge_close(ctx, got, "the Keep Alive ran out", before_connack=False, codes=None)
    if got and getattr(got[0], "reason_code", None) != 0x8D:
        ctx.note(f"DISCONNECT {got[0]!r} (0x8D Keep alive timeout would say why)")
    ctx.note(f"closed after {after:.2f} s of silence (Keep Alive {keep_alive} s)")
    return after


@case("keepalive.silent-client-closed",
      "A client silent for 1.5 x its Keep Alive (1 s) is disconnected",
      v3="MQTT-3.1.2-24", v5=("MQTT-3.1.2-22", "MQTT-3.2.2-22"))
def silent_client(ctx: CaseContext) -> None:
    c = ctx.connected(keep_alive=1)
    keep_alive = effective_keep_alive(ctx, c, 1)
    after = expect_keep_alive_close(ctx, c, keep_alive)
    if after < keep_alive:
        ctx.note("closed before one Keep Alive period had passed")


@case("keepalive.active-client-kept",
      "A client sending a packet within every Keep Alive (1 s) is not disconnected",
      v3="MQTT-3.1.2-24", v5=("MQTT-3.1.2-22", "MQTT-3.2.2-22"))
def active_client(ctx: CaseContext) -> None:
    c = ctx.connected(keep_alive=1)
    effective_keep_alive(ctx, c, 1)
    started = time.monotonic()
    for _ in range(5):  # 3 s in all: twice 1.5 x Keep Alive
        try:
            got = c.recv(timeout=0.6)
            fail("nothing while the client is idle between PINGREQs", repr(got))
        except WaitTimeout:
            pass
        except ClientError as exc:
            # MQTT-3.1.2-24 / MQTT-3.2.2-22: the Keep Alive counts from the last packet
            fail("the connection stays open while a PINGREQ comes every 0.6 s (Keep Alive "
                 "1 s)", f"{exc} after {time.monotonic() - started:.2f} s")
        try:
            c.barrier()
        except ClientError as exc:
            fail("a PINGRESP: the client kept within its Keep Alive", str(exc))


@case("keepalive.timeout-publishes-will",
      "A connection closed for Keep Alive publishes its Will",
      v3=("MQTT-3.1.2-8", "MQTT-3.1.2-24"), v5=("MQTT-3.1.2-8", "MQTT-3.1.2-22"))
def timeout_will(ctx: CaseContext) -> None:
    topic = ctx.topic("will")
    w = watcher(ctx, topic)
    expected = will(ctx, topic, qos=1)
    c = ctx.connected("client", keep_alive=1, will=expected)
    keep_alive = effective_keep_alive(ctx, c, 1)
    # "as if the network had failed": the Will goes out (3.1.1 section 3.1.2.5)
    expect_will(w, expected, "the Keep Alive ran out", timeout=1.5 * keep_alive + SLACK + 1)


@case("keepalive.v5-server-keep-alive-enforced",
      "MQTT 5: a Server Keep Alive in CONNACK is the Keep Alive the broker enforces",
      v5=("MQTT-3.1.2-22", "MQTT-3.1.2-21"), levels=(5,))
def server_keep_alive(ctx: CaseContext) -> None:
    asked = 60
    c = ctx.connected(keep_alive=asked, properties=Properties())
    assert c.connack is not None
    server = c.connack.properties.server_keep_alive
    if server is None or server == asked:
        not_applicable("the broker keeps the client's Keep Alive (no Server Keep Alive)")
    keep_alive = effective_keep_alive(ctx, c, asked)
    # MQTT-3.1.2-21: the client must use the server's value; the server enforces it
    expect_keep_alive_close(ctx, c, keep_alive)
