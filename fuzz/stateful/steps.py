"""One handler per action kind, then the end of a run: drain, final probes, cleanup.

Strategy: `execute` looks the action's kind up in `HANDLERS`; a handler returns None when it
carried the action out, or why it could not (its connection is gone: skipped).  The drain
gives every owed message its chance before the verdict: it waits (bounded) for Wills still in
their delay, resumes every session that may still exist (Clean Start 0), puts a PINGREQ
barrier on every connection, waits (bounded) for what is owed, and probes the retained
messages once more.  Cleanup then leaves the broker as it was: every stored session ended
with a Clean Start connection, every retained message of the run cleared, every socket closed.
"""

from __future__ import annotations

from collections.abc import Callable

from fuzz.stateful.actions import LONG_EXPIRY, Action, absolute, will_topic
from fuzz.stateful.clients import ClientState, Conn
from fuzz.stateful.runner import Runner
from fuzz.stateful.verdicts import Violation, statements
from mqttspec import Connect, Publish, Subscribe, Subscription, Unsubscribe

Handler = Callable[[Runner, Action], "str | None"]


def execute(r: Runner, a: Action) -> None:
    r.step = r.model.step = a.step
    r.trace.append(a)
    skipped = HANDLERS[a.kind](r, a)
    if skipped is None:
        r.report.done[a.kind] += 1
    else:
        r.report.skipped[a.kind] += 1


def _live(r: Runner, a: Action) -> Conn | None:
    conn = r.slots[a.slot].conn
    return conn if conn is not None and conn.open else None


def _connect(r: Runner, a: Action) -> str | None:
    if _live(r, a) is not None:
        return "already connected"
    r.open_session(a.slot, a)
    return None


def _disconnect(r: Runner, a: Action) -> str | None:
    conn = _live(r, a)
    if conn is None:
        return "not connected"
    t = r.clock()
    r.close_normally(conn, a.reason)
    r.slots[a.slot].conn = None
    r.model.closed(a.slot, conn.serial, t)
    r.wills.closed(conn.serial, "disconnect-will" if a.reason == 0x04 else "disconnect", t)
    return None


def _drop(r: Runner, a: Action) -> str | None:
    conn = _live(r, a)
    if conn is None:
        return "not connected"
    r.net.close(conn, "dropped without DISCONNECT")
    r._gone(conn, "drop")
    return None


def _takeover(r: Runner, a: Action) -> str | None:
    old = _live(r, a)
    if old is None:
        return "not connected"
    opened = r.open_session(a.slot, a, old=old)
    if opened is None:
        if not old.open:
            r._gone(old, "gave-up")
        return None
    _, go_on = opened
    if r.wait(lambda: not old.open, r.settings.takeover_timeout):
        r.report.checks["takeover"] += 1
    else:  # MQTT-3.1.4-2 (3.1.1) / MQTT-3.1.4-3 (5.0)
        r.model.violation(Violation(
            "takeover", "old-connection-left-open", "a second connection with the same "
            f"ClientID left the first one open for {r.settings.takeover_timeout:g} s",
            statements("takeover", old.level), {"slot": a.slot}, (old.serial,)))
        r.net.close(old, "left open after a takeover")
    t = old.closed_at or r.clock()
    r.model.closed(a.slot, old.serial, t)
    r.wills.closed(old.serial, "takeover", t, resumed=go_on, clean_start=a.clean_start)
    return None


def _subscribe(r: Runner, a: Action) -> str | None:
    conn = _live(r, a)
    if conn is None:
        return "not connected"
    filters = [(absolute(f, r.root), q) for f, q in a.filters]
    r.model.subscribing(a.slot, filters)
    pid = conn.state.next_packet_id()
    conn.send(Subscribe(packet_id=pid, subscriptions=tuple(
        Subscription(topic_filter=f, qos=q) for f, q in filters), protocol_level=conn.level))
    if not r.wait(lambda: pid in conn.replies or not conn.open):
        r.served("suback", "no-suback", "SUBSCRIBE unanswered within "
                 f"{r.settings.timeout:g} s", conn)
        r.give_up(conn, "no SUBACK")
        return None
    reply = conn.replies.pop(pid, None)
    if reply is None:
        return None  # closed meanwhile (already reported)
    codes = reply.reason_codes
    r.model.subscribed(a.slot, [(f, codes[i] if i < len(codes) and codes[i] < 0x80 else None)
                                for i, (f, _) in enumerate(filters)])
    r.report.checks["served"] += 1
    return None


def _unsubscribe(r: Runner, a: Action) -> str | None:
    conn = _live(r, a)
    if conn is None:
        return "not connected"
    filters = tuple(absolute(f, r.root) for f, _ in a.filters)
    pid = conn.state.next_packet_id()
    conn.send(Unsubscribe(packet_id=pid, topic_filters=filters, protocol_level=conn.level))
    if not r.wait(lambda: pid in conn.replies or not conn.open):
        r.served("unsuback", "no-unsuback", "UNSUBSCRIBE unanswered within "
                 f"{r.settings.timeout:g} s", conn)
        r.give_up(conn, "no UNSUBACK")
        return None
    if conn.replies.pop(pid, None) is not None:
        r.model.unsubscribed(a.slot, filters, r.clock())
        r.report.checks["served"] += 1
    return None


def _publish(r: Runner, a: Action) -> str | None:
    conn = _live(r, a)
    if conn is None:
        return "not connected"
    r.publish_to(conn, a.slot, a)
    return None


def _ping(r: Runner, a: Action) -> str | None:
    conn = _live(r, a)
    if conn is None:
        return "not connected"
    r.ping(conn)
    return None


def _probe(r: Runner, a: Action) -> str | None:
    r.probe(a.filters[0][0], a.level)
    return None


def _wait(r: Runner, a: Action) -> str | None:
    r.net.wait(lambda: False, max(0.0, min(a.seconds, r.deadline - r.clock())))
    return None


HANDLERS: dict[str, Handler] = {
    "connect": _connect, "disconnect": _disconnect, "drop": _drop, "takeover": _takeover,
    "subscribe": _subscribe, "unsubscribe": _unsubscribe, "publish": _publish,
    "publish_drop": _publish, "ping": _ping, "probe": _probe, "wait": _wait,
}


# -- the end of a run -------------------------------------------------------------------------

def drain(r: Runner, probe_filters: tuple[str, ...], probe_level: int) -> None:
    r.step = r.model.step = "drain"
    now = r.clock()
    until = min(r.wills.pending_deadline(now), now + r.settings.will_wait)
    r.net.wait(lambda: False, max(0.0, until - now))  # delayed Wills go out first
    for i, rt in enumerate(r.slots):
        if rt.conn is not None and rt.conn.open or r.model.status(i, r.clock()) == "gone":
            continue
        r.open_session(i, Action(step=-1, kind="connect", slot=i, level=rt.level,
                                 clean_start=False, expiry=LONG_EXPIRY if rt.level == 5 else 0))
    for rt in r.slots:
        if rt.conn is not None and rt.conn.open:
            r.ping(rt.conn)
    r.wait(lambda: r.model.outstanding() == 0, r.settings.drain_timeout)
    for f in probe_filters:
        r.probe(f, probe_level)
    r.judge.final()
    r.collect()


def cleanup(r: Runner, level: int) -> None:
    """End the run's stored sessions, clear its retained messages, close every socket."""
    r.quiet, r.step = True, "cleanup"
    for i, rt in enumerate(r.slots):
        if rt.conn is not None and rt.conn.open:
            r.close_normally(rt.conn)
            rt.conn = None
        if rt.ever_persistent:
            session = r.open_session(i, Action(step=-1, kind="connect", slot=i, level=rt.level,
                                               clean_start=True, expiry=0))
            if session is not None:
                r.close_normally(session[0])
    topics = sorted(set(r.model.retained.topics()) | {
        absolute(will_topic(i), r.root) for i in range(len(r.slots))})
    opened = r.net.open(-1, f"fz{r.run_id}x", level, ClientState())
    if not isinstance(opened, str):
        conn = opened
        conn.send(Connect(client_id=conn.client_id, clean_start=True, keep_alive=60,
                          protocol_level=level))
        if r.wait(lambda: conn.connack is not None or not conn.open) and conn.open:
            for topic in topics:
                conn.send(Publish(topic=topic, payload=b"", qos=0, retain=True,
                                  protocol_level=level))
            r.ping(conn)
            r.close_normally(conn)
    r.model.violations.clear()
    r.net.close_all()
