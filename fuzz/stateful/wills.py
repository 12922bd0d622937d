"""Will Messages in the model: when one must, may or must not be published.

Strategy: a `WillRec` is armed with its connection and resolved when that connection ends:
- a normal DISCONNECT (5.0: reason code 0x00) deletes it: it must never be published
  (MQTT-3.1.2-10);
- a close without DISCONNECT (ours, or the broker's), or a 5.0 DISCONNECT 0x04, publishes it
  (MQTT-3.1.2-8) once the Will Delay Interval has passed or the session has ended, whichever
  comes first (5.0 section 3.1.3.2.2), unless a new connection resumes the session before
  then, which cancels it (MQTT-3.1.3-9);
- a takeover: in 5.0 a resumption before a non-zero delay ends cancels it (MQTT-3.1.3-9);
  otherwise the spec reads two ways (the new connection came "before the delay elapsed", or
  the session ends).  In 3.1.1, MQTT-3.1.2-8 read strictly publishes it (the connection closed
  without DISCONNECT), but brokers in wide use drop it when the session goes on.  Both: may,
  with what the broker did counted.
The publication instant is only known within a window: from the close (plus the delay, less a
margin and the broker's one-second timer grain) to a deadline.  A Will that must be published
becomes a message owed to the subscribers that held a matching QoS >= 1 subscription at the
close (judged like any message), a retained update when Will Retain is 1.  Receipts are judged
when the Will's fate is known: any copy of a Will that must not be published is a violation,
and so is one that arrives before its window opens, or (to a subscriber connected all along)
well after it closes.
"""

from __future__ import annotations

from dataclasses import dataclass

from fuzz.stateful.model import GRAIN, Model, Msg
from fuzz.stateful.retained import INF, RUpdate
from fuzz.stateful.verdicts import Violation, statements


@dataclass(slots=True, eq=False)
class WillRec:
    wid: str
    slot: int
    conn: int
    level: int
    topic: str
    qos: int
    retain: bool
    delay: int
    status: str = "armed"  # armed, must, may, forbidden
    why: str = ""
    closed_at: float | None = None
    earliest: float = -INF  # published before this is early (and a resumption cancels it)
    hold: float = INF  # a new connection was sent then: it may end the session (due at once)
    deadline: float = INF
    msg: Msg | None = None
    receipts: tuple[tuple[int, int, float], ...] = ()  # (slot, connection, time)


class Wills:
    def __init__(self, model: Model) -> None:
        self.model = model
        self.by_id: dict[str, WillRec] = {}
        self.armed: dict[int, WillRec] = {}  # connection serial -> its Will
        self.pending: dict[int, list[WillRec]] = {}  # slot -> Wills that may still be due

    def arm(self, slot: int, conn: int, topic: str, qos: int, retain: bool, delay: int
            ) -> WillRec:
        mid, _ = self.model.next_mid("w")
        rec = WillRec(mid, slot, conn, self.model.slots[slot].level, topic, qos, retain, delay)
        self.by_id[mid] = rec
        self.armed[conn] = rec
        return rec

    def closed(self, conn: int, how: str, t: float, *, resumed: bool = False,
               clean_start: bool = False) -> None:
        """The Will's connection ended: `how` is "disconnect" (normal), "disconnect-will"
        (5.0 reason 0x04), "drop" (ours, no DISCONNECT), "server" (the broker closed it),
        "gave-up" (we closed it after the broker stopped answering) or "takeover" (with
        whether the new connection resumed the session, and its Clean Start)."""
        rec = self.armed.pop(conn, None)
        if rec is None:
            return
        rec.closed_at = t
        model, v5 = self.model, rec.level == 5
        epoch = model.slots[rec.slot].epoch
        expiry = epoch.expiry if epoch is not None and epoch.persistent else 0.0
        fire = min(float(rec.delay), expiry) if v5 else 0.0
        rec.earliest = t + fire - model.margin - GRAIN if fire > 0 else -INF
        rec.deadline = t + fire + model.margin + (GRAIN if fire > 0 else 0.0)
        if how == "disconnect":
            self._resolve(rec, "forbidden", "normal DISCONNECT")
            return
        if how == "gave-up":
            self._publishable(rec, t, "may", "closed by us after the broker stopped answering")
        elif how == "takeover" and not v5:
            # MQTT-3.1.2-8 read strictly publishes it (closed without DISCONNECT); brokers
            # (Mosquitto, HiveMQ) drop it when the session goes on: not asserted
            self._publishable(rec, t, "may", "3.1.1 takeover" + (
                ", session resumed" if resumed else ", session not resumed"))
        elif how == "takeover":
            if rec.delay > 0 and resumed and not clean_start and expiry > 0:
                self._resolve(rec, "forbidden", "session resumed by a takeover within the "
                              "Will Delay Interval")
            else:
                if not resumed or clean_start:
                    rec.earliest = -INF  # the session ended with the takeover: due at once
                self._publishable(rec, t, "may", "MQTT 5 takeover" + (
                    ", session resumed" if resumed else ", session not resumed"))
        else:
            self._publishable(rec, t, "must", how)

    def _publishable(self, rec: WillRec, t: float, status: str, why: str) -> None:
        model = self.model
        msg = Msg(rec.wid, "will", rec.slot, rec.level, rec.topic, rec.qos, rec.retain, False,
                  model.next_mid("")[1], t, status=status, window_end=rec.deadline,
                  owed=status == "must")
        rec.msg = msg
        model.msgs[rec.wid] = msg
        model.open_window[rec.wid] = msg
        model.fan_out(msg, t, owed=status == "must", ordered=False)
        if status == "must" and rec.level == 5:
            self.pending.setdefault(rec.slot, []).append(rec)
        for slot, _, seen_at in rec.receipts:  # copies that came before we saw the close
            msg.first.setdefault(slot, seen_at)
            req = msg.reqs.get(slot)
            if req is not None and req.state == "open":
                req.state = "met"
        if rec.retain:
            msg.update = model.retained.add(rec.topic, RUpdate(
                rec.wid, t, rec.deadline, status == "must",
                droppable=rec.level != 5 and rec.qos == 0), t)
        self._resolve(rec, status, why)

    def _resolve(self, rec: WillRec, status: str, why: str) -> None:
        rec.status, rec.why = status, why
        msg = rec.msg
        if msg is not None and status != "must":
            msg.status, msg.owed = status, False
            self.model.cancel(msg, f"Will {status}: {why}")
            if msg.update is not None:
                msg.update.certain = False
                msg.update.void = status == "forbidden"
        for slot, conn, t in rec.receipts:
            self._judge(rec, slot, conn, t)

    def connecting(self, slot: int, t: float) -> None:
        """A new connection of `slot` is on its way: until its CONNACK tells, a Will copy
        after `t` is not early (the connection may end the session)."""
        for rec in self._due(slot, t):
            rec.hold = min(rec.hold, t)

    def reconnected(self, slot: int, t_sent: float, t: float, resumed: bool) -> None:
        """A new connection of `slot`, sent at `t_sent`, was accepted at `t` (CONNACK).  A Will
        still in its delay is cancelled by a resumption (MQTT-3.1.3-9); a connection that does
        not resume the session ends it, which makes the Will due at once ("or the Session
        ends", MQTT-3.1.2-8) though the same sentence cancels it for a new connection: may."""
        for rec in self._due(slot, t_sent):
            if resumed and t < rec.earliest:
                self._resolve(rec, "forbidden", "session resumed within the Will Delay "
                              "Interval")
                continue
            if not resumed:
                rec.earliest = min(rec.earliest, t_sent)
            self._resolve(rec, "may", "a new connection before the end of the delay")

    def _due(self, slot: int, t: float) -> list[WillRec]:
        """The slot's MQTT 5 Wills that must be published and are not yet due at `t` (3.1.1
        has no Will Delay: published at the close, whatever follows)."""
        recs = [r for r in self.pending.get(slot, ()) if r.status == "must" and t < r.deadline]
        self.pending[slot] = recs
        return list(recs)

    def receipt(self, rec: WillRec, slot: int, conn: int, t: float) -> None:
        rec.receipts += ((slot, conn, t),)
        if rec.status != "armed":
            self._judge(rec, slot, conn, t)

    def _judge(self, rec: WillRec, slot: int, conn: int, t: float) -> None:
        model = self.model
        details = {"will": rec.wid, "topic": rec.topic, "owner_slot": rec.slot,
                   "delay": rec.delay, "why": rec.why, "receiver_slot": slot,
                   "after_close": None if rec.closed_at is None else round(
                       t - rec.closed_at, 3)}
        conns = (rec.conn, conn)
        if rec.status == "forbidden":
            check, gist = (("will-after-disconnect", "published-after-normal-disconnect")
                           if rec.why == "normal DISCONNECT" else
                           ("will-despite-reconnect", "published-despite-resumption"))
            model.violation(Violation("will", gist, f"the Will of slot {rec.slot} was "
                                      f"published although {rec.why}",
                                      statements(check, rec.level), details, conns))
        elif t < min(rec.earliest, rec.hold):
            model.violation(Violation("will", "published-before-delay", f"the Will of slot "
                                      f"{rec.slot} was published {t - (rec.closed_at or t):.2f}"
                                      f" s after the close, before its {rec.delay} s delay",
                                      statements("will-early", rec.level), details, conns))
        elif (rec.status == "must" and t > rec.deadline + GRAIN and rec.closed_at is not None
              and model.conn_opened.get(conn, INF) <= rec.closed_at):
            model.violation(Violation("will", "published-late", f"the Will of slot {rec.slot} "
                                      f"came {t - rec.closed_at:.2f} s after the close, due "
                                      f"within {rec.deadline - rec.closed_at:.2f} s ({rec.why})",
                                      statements("will-missing", rec.level), details, conns))
        else:
            model.checks["will"] += 1

    def pending_deadline(self, now: float) -> float:
        """The latest deadline of a Will that must still be published (for the drain)."""
        return max((r.deadline for recs in self.pending.values() for r in recs
                    if r.status == "must" and r.deadline > now), default=now)
