"""Carrying out actions against the broker, one at a time, and telling the model what happened.

Strategy: each action runs to completion before the next one (a CONNECT waits for its CONNACK,
a SUBSCRIBE for its SUBACK, a QoS 1/2 PUBLISH for its PUBACK / PUBCOMP, a QoS 0 PUBLISH for a
PINGREQ barrier), so the model always knows which subscriptions held while a message was
being published; the concurrency is in the deliveries, which arrive on every connection while
any action waits.  Every wait is bounded (`Settings.timeout`); a broker that does not answer
is a finding of the "served" invariant and that connection is given up.  An action whose
connection has gone (the broker closed it) is skipped, not re-planned, so the action list
stays the seed's.  Probes (the retained-message check) use a fresh, clean connection of their
own.  A resumed session (Session Present 1) gets a PINGREQ barrier and a bounded wait for
what it stored before anything else happens, so a broker that keeps stored messages back is
caught while the model still knows they are owed.  The action handlers, the drain, the final
probes and the cleanup are in steps.py.
"""

from __future__ import annotations

import contextlib
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from fuzz.case import Finding
from fuzz.stateful.actions import (
    DATA_TOPICS,
    KEEP_ALIVE,
    UNLIMITED,
    Action,
    absolute,
    will_topic,
)
from fuzz.stateful.clients import ClientState, Conn, Net, Outbound
from fuzz.stateful.judge import Judge
from fuzz.stateful.model import Model
from fuzz.stateful.report import StatefulReport
from fuzz.stateful.retained import EMPTY, INF, Seen, check_probe
from fuzz.stateful.verdicts import Violation, statements
from fuzz.stateful.wills import Wills
from mqttspec import (
    NO_PROPERTIES,
    Connect,
    Disconnect,
    Properties,
    Publish,
    Subscribe,
    Subscription,
    Will,
)
from mqttspec.topics import matches


@dataclass(frozen=True, slots=True)
class Settings:
    timeout: float = 5.0  # CONNACK, SUBACK, UNSUBACK, PUBACK / PUBCOMP, PINGRESP
    takeover_timeout: float = 3.0  # the old connection closed after a takeover
    drain_timeout: float = 5.0  # owed messages still arriving at the end
    retained_grace: float = 1.0  # retained messages arriving after a probe's barrier
    settle: float = 0.25  # a retained update applied this long after its acknowledgement
    margin: float = 0.5  # timing margin around Will Delay and Session Expiry
    will_wait: float = 5.0  # at most this long for delayed Wills at the end
    trace_len: int = 40  # actions kept in a finding's evidence


@dataclass(slots=True)
class SlotRt:
    client_id: str
    level: int
    conn: Conn | None = None
    state: ClientState | None = None
    ever_persistent: bool = False


class Runner:
    def __init__(self, host: str, port: int, run_id: str, slot_levels: list[int],
                 report: StatefulReport, settings: Settings,
                 replay_hint: str = "") -> None:
        self.run_id, self.root = run_id, f"fuzz/{run_id}"
        self.report, self.settings, self.replay_hint = report, settings, replay_hint
        self.slots = [SlotRt(f"fz{run_id}c{i}", level) for i, level in enumerate(slot_levels)]
        self.model = Model(self.root, run_id, [(s.client_id, s.level) for s in self.slots],
                           settle=settings.settle, margin=settings.margin)
        self.wills = Wills(self.model)
        self.judge = Judge(self.model, self.wills, f"{self.root}/s/", settings.timeout)
        self.net = Net(host, port, on_publish=self._on_publish, on_done=self._on_done,
                       on_close=self._on_close, connect_timeout=settings.timeout)
        self.clock = self.net.clock
        self.model.started = self.net.started
        self.trace: deque[Action] = deque(maxlen=settings.trace_len)
        self.step: int | str = 0
        self.quiet = False  # cleanup: nothing is judged any more
        self.deadline = INF  # the end of the run's main phase (wait actions stop there)
        self._probes = 0
        self.universe = [absolute(t, self.root) for t in DATA_TOPICS] + [
            absolute(will_topic(i), self.root) for i in range(len(self.slots))]

    # -- events from the network ----------------------------------------------------------

    def _on_publish(self, conn: Conn, p: Publish) -> None:
        if conn.slot < 0:
            conn.received.append(p)
        elif not self.quiet:
            self.judge.receipt(conn.slot, conn.serial, p, self.clock())

    def _on_done(self, conn: Conn, out: Outbound, reason: int) -> None:
        msg = self.model.msgs.get(out.mid)
        if msg is not None and msg.status == "open":
            self.model.done(msg, self.clock(), reason)

    def _on_close(self, conn: Conn) -> None:
        """The broker closed a connection (or it broke)."""
        if conn.expect_close or self.quiet:
            return
        detail = conn.close_detail
        if conn.server_disconnect is not None:
            detail += f" after DISCONNECT 0x{conn.server_disconnect.reason_code:02X}"
        gist = "malformed-packet" if "malformed" in detail else "closed-unexpectedly"
        self.served("malformed" if gist == "malformed-packet" else "closed", gist,
                    f"the broker closed a client's connection unprovoked: {detail}", conn)
        if conn.slot >= 0:
            self._gone(conn, "server")

    def _gone(self, conn: Conn, how: str) -> None:
        """A slot's connection is over: tell the model and the Wills."""
        t = conn.closed_at or self.clock()
        rt = self.slots[conn.slot]
        if rt.conn is conn:
            rt.conn = None
        self.model.closed(conn.slot, conn.serial, t)
        self.wills.closed(conn.serial, how, t)

    def give_up(self, conn: Conn, why: str) -> None:
        """Close a connection whose broker stopped answering (its Will: may)."""
        self.net.close(conn, why)
        if conn.slot >= 0:
            self._gone(conn, "gave-up")

    # -- findings -------------------------------------------------------------------------

    def served(self, check: str, gist: str, summary: str, conn: Conn | None,
               level: int = 4) -> None:
        if self.quiet:
            return
        level = conn.level if conn is not None else level
        self.model.violation(Violation("served", gist, summary, statements(check, level),
                                       {}, (conn.serial,) if conn is not None else ()))

    def collect(self) -> None:
        """Turn the model's violations into findings, with the trace and packet logs."""
        model, report = self.model, self.report
        while model.violations:
            v = model.violations.pop(0)
            logs = {}
            for serial in v.conns:
                c = self.net.find(serial)
                if c is not None:
                    logs[c.name()] = list(c.log)
            evidence = {
                "seed": report.seed, "step": self.step, "run_id": self.run_id,
                "statements": list(v.statements), "details": v.details,
                "trace": [a.to_json() for a in self.trace], "packets": logs,
                "replay": self.replay_hint.format(actions=len(report.actions)),
            }
            report.add(Finding(f"invariant:{v.invariant}", v.signature, None, report.broker,
                               report.broker_version, v.line(), evidence))
        report.checks.update(model.checks)
        model.checks.clear()
        report.allowed.update(model.allowed)
        model.allowed.clear()
        report.delivered = model.delivered

    # -- connections ----------------------------------------------------------------------

    def wait(self, done: Callable[[], bool], timeout: float | None = None) -> bool:
        return self.net.wait(done, self.settings.timeout if timeout is None else timeout)

    def open_session(self, slot: int, a: Action, old: Conn | None = None
                     ) -> tuple[Conn, bool] | None:
        """Connect `slot` as `a` says; (connection, session continued), or None."""
        rt, model = self.slots[slot], self.model
        level = rt.level
        state = ClientState() if a.clean_start or rt.state is None else rt.state
        t0 = self.clock()
        opened = self.net.open(slot, rt.client_id, level, state)
        if isinstance(opened, str):
            self.served("connack", "connection-refused", f"a fresh connection was refused: "
                        f"{opened}", None, level)
            return None
        conn = opened
        will = None
        if a.will is not None:
            topic = absolute(will_topic(slot), self.root)
            rec = self.wills.arm(slot, conn.serial, topic, a.will.qos, a.will.retain,
                                 a.will.delay if level == 5 else 0)
            props = (Properties(will_delay_interval=a.will.delay)
                     if level == 5 and a.will.delay else NO_PROPERTIES)
            will = Will(topic=topic, payload=model.payload(rec.wid), qos=a.will.qos,
                        retain=a.will.retain, properties=props)
        props = (Properties(session_expiry_interval=a.expiry)
                 if level == 5 and a.expiry else NO_PROPERTIES)
        if old is not None:
            old.expect_close = True
        self.wills.connecting(slot, t0)
        conn.send(Connect(client_id=rt.client_id, clean_start=a.clean_start,
                          keep_alive=KEEP_ALIVE, will=will, properties=props,
                          protocol_level=level))
        if not self._accepted(conn):
            self.wills.armed.pop(conn.serial, None)
            if old is not None and old.open:
                old.expect_close = False
            return None
        assert conn.connack is not None
        t1 = self.clock()
        cp = conn.connack.properties
        conn.keep_alive = cp.server_keep_alive if cp.server_keep_alive else KEEP_ALIVE
        if level == 5:
            expiry = a.expiry if cp.session_expiry_interval is None else cp.session_expiry_interval
            persistent, span = expiry > 0, INF if expiry == UNLIMITED else float(expiry)
        else:
            persistent, span = not a.clean_start, INF if not a.clean_start else 0.0
        rt.ever_persistent = rt.ever_persistent or persistent
        go_on = model.connected(slot, conn.serial, t0, t1, clean_start=a.clean_start,
                                persistent=persistent, expiry=span,
                                present=conn.connack.session_present, takeover=old is not None)
        if not go_on:
            if rt.state is not None and rt.state is state:
                state = ClientState()  # the client discards its session too (MQTT-4.1.0-1)
                conn.state = state
            self._abandon(rt.state)
        rt.conn, rt.state = conn, state
        self.wills.reconnected(slot, t0, t1, go_on)
        if go_on:
            self._resumed(conn, slot, t0)
        if go_on and state.outbound and conn.open:
            self.net.resend(conn)  # MQTT-4.4.0-1
            for out in state.outbound.values():
                msg = model.msgs.get(out.mid)
                if msg is not None and out.stage == "publish":
                    msg.sends += 1
            if not self.wait(lambda: not state.outbound or not conn.open):
                self.served("puback", "no-ack-for-resent-publish", "re-sent PUBLISH / PUBREL "
                            "packets were not acknowledged", conn)
                self.give_up(conn, "no acknowledgement of re-sent messages")
                return None
        return conn, go_on

    def _resumed(self, conn: Conn, slot: int, t0: float) -> None:
        """A resumed session's stored messages are due at once: unacknowledged ones re-sent
        (MQTT-4.4.0-1), queued ones sent (MQTT-3.1.2-5 / MQTT-3.1.2-23).  After a PINGREQ
        barrier and `timeout` seconds, those still missing are findings."""
        epoch = self.model.slots[slot].epoch
        if epoch is None:
            return
        due = [r for r in epoch.reqs if r.state == "open" and r.msg.owed
               and r.msg.status in ("acked", "must") and r.msg.window_end < t0]
        if not due or not self.ping(conn):
            return
        if not self.wait(lambda: all(r.state != "open" for r in due) or not conn.open):
            self.judge.not_sent([r for r in due if r.state == "open"], conn.serial)

    def _accepted(self, conn: Conn) -> bool:
        """Wait for the CONNACK; a finding and the connection closed if it is not a success."""
        self.wait(lambda: conn.connack is not None or not conn.open)
        connack = conn.connack
        if connack is None:
            if conn.open:
                self.served("connack", "no-connack", "a fresh connection got no CONNACK "
                            f"within {self.settings.timeout:g} s", conn)
                self.net.close(conn, "no CONNACK")
            else:
                self.served("connack", "closed-before-connack", "a fresh connection was "
                            f"closed before its CONNACK: {conn.close_detail}", conn)
            return False
        if connack.reason_code != 0:
            self.served("connack", f"connack-refused-0x{connack.reason_code:02X}",
                        f"a valid CONNECT was refused with code 0x{connack.reason_code:02X}",
                        conn)
            self.net.close(conn, "CONNACK refused")
            return False
        self.report.checks["served"] += 1
        return True

    def _abandon(self, state: ClientState | None) -> None:
        """Our unacknowledged messages of a session that did not continue are given up."""
        if state is None:
            return
        t = self.clock()
        for out in state.outbound.values():
            msg = self.model.msgs.get(out.mid)
            if msg is not None and msg.status == "open":
                self.model.abandon(msg, t)
        state.outbound.clear()

    def close_normally(self, conn: Conn, reason: int = 0) -> None:
        """DISCONNECT, half-close, and wait (bounded) for the broker to close."""
        conn.expect_close = True
        conn.send(Disconnect(reason_code=reason if conn.level == 5 else 0,
                             protocol_level=conn.level))
        if conn.sock is not None:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_WR)
        self.wait(lambda: not conn.open, 2.0)
        self.net.close(conn, "after DISCONNECT")

    def ping(self, conn: Conn) -> bool:
        want = conn.ping()
        if self.wait(lambda: conn.pings_answered >= want or not conn.open):
            if conn.open:
                self.report.checks["served"] += 1
            return conn.open
        self.served("pingresp", "no-pingresp", f"PINGREQ unanswered within "
                    f"{self.settings.timeout:g} s", conn)
        self.give_up(conn, "no PINGRESP")
        return False

    def housekeeping(self) -> None:
        """Keep idle connections alive; a PINGREQ left unanswered too long is a finding."""
        now = self.clock()
        for rt in self.slots:
            conn = rt.conn
            if conn is None or not conn.open:
                continue
            if conn.ping_since is not None and now - conn.ping_since > self.settings.timeout:
                self.served("pingresp", "no-pingresp", "a keep-alive PINGREQ was unanswered "
                            f"for {self.settings.timeout:g} s", conn)
                self.give_up(conn, "no PINGRESP")
            elif now - conn.last_sent > conn.keep_alive / 2:
                conn.ping()
        self.model.close_windows(now)

    # -- probes ---------------------------------------------------------------------------

    def probe(self, relative_filter: str, level: int) -> None:
        """A fresh, clean subscriber to one filter: are the retained messages right?"""
        self._probes += 1
        topic_filter = absolute(relative_filter, self.root)
        opened = self.net.open(-1, f"fz{self.run_id}p{self._probes}", level, ClientState())
        if isinstance(opened, str):
            self.served("connack", "connection-refused", f"a fresh connection was refused: "
                        f"{opened}", None, level)
            return
        conn = opened
        conn.send(Connect(client_id=conn.client_id, clean_start=True, keep_alive=KEEP_ALIVE,
                          protocol_level=level))
        if not self._accepted(conn):
            return
        t_sub = self.clock()
        conn.send(Subscribe(packet_id=1, subscriptions=(Subscription(topic_filter=topic_filter,
                                                                     qos=1),),
                            protocol_level=level))
        if not self.wait(lambda: 1 in conn.replies or not conn.open):
            self.served("suback", "no-suback", "SUBSCRIBE unanswered", conn)
            self.net.close(conn, "no SUBACK")
            return
        t_ack = self.clock()
        reply = conn.replies.get(1)
        if reply is None or not reply.reason_codes or reply.reason_codes[0] >= 0x80:
            self.net.close(conn, "subscription refused")
            return
        store = self.model.retained
        needed = [t for t in self.universe if matches(topic_filter, t)
                  and None not in store.allowed(t, t_sub, t_ack)]

        def arrived() -> bool:
            have = {p.topic for p in conn.received if p.retain}
            return all(t in have for t in needed) or not conn.open

        if self.ping(conn):
            self.wait(arrived, self.settings.retained_grace)
            if conn.open:
                self.ping(conn)  # whatever else was coming has come
        if not conn.open:
            return
        seen = [Seen(p.topic, self._value(p.payload), p.retain) for p in conn.received]
        found, passed, repeated = check_probe(store, self.universe, topic_filter, seen, t_sub,
                                              t_ack, level, conn.serial)
        if repeated:
            self.model.allowed["retained message sent more than once to one subscription"] += (
                repeated)
        for v in found:
            topic = str(v.details.get("topic", ""))
            v.details["history"] = store.history(topic, self.net.started)
            v.details["wills"] = {rec.wid: f"{rec.status}: {rec.why}" for rec in
                                  self.wills.by_id.values() if rec.topic == topic
                                  and rec.status != "armed"}
        self.model.violations.extend(found)
        self.model.checks["retained"] += passed
        self.close_normally(conn)

    def _value(self, payload: bytes) -> str:
        if not payload:
            return EMPTY
        mid = self.judge.message_id(payload)
        return mid if mid is not None else "?" + payload[:16].hex()

    def publish_to(self, conn: Conn, slot: int, a: Action) -> None:
        """Publish as `a` says on `conn`; publish_drop drops the connection mid-flow."""
        state = conn.state
        topic = absolute(a.topic, self.root)
        spans = a.kind == "publish_drop"
        msg = self.model.publish(slot, conn.serial, topic, a.qos, a.retain, a.empty,
                                 self.clock(), spans=spans)
        payload = b"" if a.empty else self.model.payload(msg.mid)
        self.report.published[f"q{a.qos}"] += 1
        if a.qos == 0:
            conn.send(Publish(topic=topic, payload=payload, retain=a.retain,
                              protocol_level=conn.level))
            if self.ping(conn):
                self.model.done(msg, self.clock(), 0)
            else:
                self.model.abandon(msg, self.clock())
            return
        pid = state.next_packet_id()
        p = Publish(topic=topic, payload=payload, qos=a.qos, retain=a.retain, packet_id=pid,
                    protocol_level=conn.level)
        state.outbound[pid] = Outbound(p, msg.mid)
        conn.send(p)
        if spans:
            if a.stage == "pubrel":
                self.wait(lambda: state.outbound.get(pid, Outbound(p, "")).stage == "pubrel"
                          or pid not in state.outbound or not conn.open)
            if conn.open:
                self.net.close(conn, f"dropped during the QoS {a.qos} flow")
                self._gone(conn, "drop")
            return
        if not self.wait(lambda: pid not in state.outbound or not conn.open):
            check = "puback" if a.qos == 1 else (
                "pubcomp" if state.outbound[pid].stage == "pubrel" else "pubrec")
            self.served(check, f"no-{check}", f"QoS {a.qos} PUBLISH: no {check.upper()} "
                        f"within {self.settings.timeout:g} s", conn)
            self.give_up(conn, f"no {check.upper()}")
