"""Judging receipts as they come, and what is still owed at the end.

Strategy: every PUBLISH a slot receives is traced back to its message by the id in its
payload ("<run tag>:<message id>") and judged at once:
- RETAIN 1 on a copy of a message published without RETAIN: the broker stored or flagged a
  non-retained message (MQTT-3.3.1-12 / -9 in 3.1.1, MQTT-3.3.1-8 / -12 in 5.0); other RETAIN 1
  copies answer a SUBSCRIBE and are left to the probes;
- a copy to a slot that held no matching subscription while the message was being published:
  unsolicited (MQTT-3.10.4-2 after an UNSUBACK; MQTT-3.1.2-6 / MQTT-3.1.2-4 after a new session);
- a copy at a QoS above min(published, highest granted) (MQTT-3.8.4-6 / MQTT-3.8.4-8);
- more QoS 2 copies than the slot had matching subscriptions: a duplicate (exactly once,
  MQTT-4.3.3), whether on one connection or across a resumption;
- the first copy of each message, per ordering key, must come in publish order
  (MQTT-4.6.0-5/-6, only where the key is exact: see model.py);
- a message on a shared-subscription topic reaching a second member, unless the first got it at
  QoS <= 1 and lost its connection before the second copy (MQTT 5 section 4.8.2 lets the server
  re-send such a QoS 1 message to another member; never a QoS 2 one, MQTT-4.8.2-4/-5), or the
  publisher re-sent a QoS 1 PUBLISH (each copy may be a new message).
What is owed is judged twice: when a session is resumed, what it stored must come within the
runner's bound after a PINGREQ barrier (`not_sent`: MQTT-4.4.0-1, MQTT-3.1.2-5 / -23); and at the
end (`final`), every requirement still open whose subscriber is connected to the same session
is a lost message (MQTT-4.5.0-1) or an undelivered Will (MQTT-3.1.2-8).
"""

from __future__ import annotations

from fuzz.stateful.model import Model, Msg, Req, _matches
from fuzz.stateful.retained import INF
from fuzz.stateful.verdicts import Violation, statements
from fuzz.stateful.wills import Wills
from mqttspec import Publish


class Judge:
    def __init__(self, model: Model, wills: Wills, shared_prefix: str,
                 bound: float = 5.0) -> None:
        self.model, self.wills = model, wills
        self._bound = bound  # seconds a resumed session's stored messages may take
        self.shared_prefix = shared_prefix  # topics only share groups subscribe to
        self._tag = model.tag.encode() + b":"

    def message_id(self, payload: bytes) -> str | None:
        if not payload.startswith(self._tag):
            return None
        return payload[len(self._tag):].decode("ascii", "replace")

    def receipt(self, slot: int, conn: int, p: Publish, t: float) -> None:
        m = self.model
        mid = self.message_id(p.payload)
        if mid is None:
            m.allowed["zero-byte PUBLISH (a retained clear) forwarded" if not p.payload
                      else "PUBLISH with a payload not ours (ignored)"] += 1
            return
        msg = m.msgs.get(mid)
        rec = self.wills.by_id.get(mid)
        if p.retain:
            published_retained = msg.retain if msg is not None else (rec is not None
                                                                     and rec.retain)
            if (msg is not None or rec is not None) and not published_retained:
                level = m.slots[slot].level
                m.violation(Violation(
                    "retained", "non-retained-message-sent-retained", f"slot {slot} got "
                    f"{mid}, published without RETAIN, with RETAIN 1",
                    ("MQTT-3.3.1-12", "MQTT-3.3.1-9") if level != 5 else ("MQTT-3.3.1-8",
                                                                        "MQTT-3.3.1-12"),
                    {"message": mid, "topic": p.topic, "receiver_slot": slot}, (conn,)))
            m.allowed["retained copies on new subscriptions (judged by probes)"] += 1
            return
        m.delivered += 1
        if rec is not None:
            self.wills.receipt(rec, slot, conn, t)
        if msg is not None:
            self._copy(msg, slot, conn, p, t)

    def _copy(self, msg: Msg, slot: int, conn: int, p: Publish, t: float) -> None:
        m = self.model
        allow = msg.allow.get(slot, 0)
        level = m.slots[slot].level
        if allow == 0:
            self._unsolicited(msg, slot, conn, t)
            return
        top = min(msg.qos, msg.maxq.get(slot, 2))
        if p.qos > top:  # MQTT-3.8.4-6 (3.1.1) / MQTT-3.8.4-8 (5.0), MQTT-4.8.2-3
            m.violation(Violation(
                "granted-qos", "above-granted", f"slot {slot} got {msg.mid} at QoS {p.qos}: "
                f"published at QoS {msg.qos}, highest QoS granted {msg.maxq.get(slot)}",
                statements("granted-qos", level),
                {"message": msg.mid, "topic": msg.topic, "receiver_slot": slot,
                 "published_qos": msg.qos, "granted": msg.maxq.get(slot)}, (conn,)))
        elif p.qos:
            m.checks["granted-qos"] += 1
        if slot not in msg.first:
            msg.first[slot] = t
            req = msg.reqs.get(slot)
            if req is not None and req.state == "open":
                req.state = "met"
                m.checks["no-loss" if msg.kind == "pub" else "will"] += 1
            for g in msg.groups:
                if g.state == "open" and slot in g.members:
                    g.state = "met"
                    m.checks["no-loss"] += 1
            self._order(msg, slot, conn, t)
        elif p.qos == 1:
            m.allowed["QoS 1 message delivered more than once"] += 1
        if p.qos == 2:
            copies = msg.qos2.setdefault(slot, [])
            copies.append(conn)
            if len(copies) > allow:
                how = "same-connection" if len(set(copies)) == 1 else "across-connections"
                m.violation(Violation(
                    "qos2-no-duplicate", how, f"slot {slot} got QoS 2 message {msg.mid} "
                    f"{len(copies)} times ({allow} matching subscription(s))",
                    statements("qos2-duplicate", level),
                    {"message": msg.mid, "topic": msg.topic, "publisher_slot": msg.slot,
                     "receiver_slot": slot, "connections": copies,
                     "publisher_resent": msg.spans}, tuple(dict.fromkeys(copies))))
            else:
                m.checks["qos2-no-duplicate"] += 1
        if msg.topic.startswith(self.shared_prefix):
            self._shared(msg, slot, conn, p.qos, t)

    def _unsolicited(self, msg: Msg, slot: int, conn: int, t: float) -> None:
        m = self.model
        sm = m.slots[slot]
        gone = [f for f, when in sm.unsubscribed.items() if _matches(f, msg.topic)
                and when <= msg.sent_at and (sm.epoch is None or f not in sm.epoch.subs)]
        check = "after-unsubscribe" if gone else "not-subscribed"
        why = (f"after UNSUBSCRIBE {gone[0]}" if gone else
               "with no matching subscription in its session")
        m.violation(Violation(
            "unsolicited", check, f"slot {slot} got {msg.mid} ({msg.kind} on {msg.topic}) "
            f"{why}", statements(check, sm.level),
            {"message": msg.mid, "topic": msg.topic, "receiver_slot": slot,
             "publisher_slot": msg.slot, "published_step": msg.step,
             "published_at": round(msg.sent_at - m.started, 3),
             "received_at": round(t - m.started, 3),
             "subscriptions_then": sorted(sm.epoch.subs) if sm.epoch else [],
             "unsubscribed": {f: round(w - m.started, 3) for f, w in sm.unsubscribed.items()}},
            (conn,) + ((msg.conn,) if msg.conn else ())))

    def _order(self, msg: Msg, slot: int, conn: int, t: float) -> None:
        m = self.model
        key = msg.order.get(slot)
        if key is None:
            return
        last = m.order_last.get(key)
        if last is not None and last[0] > msg.seq:
            level = m.slots[slot].level
            m.violation(Violation(
                "order", f"q{msg.qos}", f"slot {slot} got {msg.mid} after {last[1]}, which "
                f"slot {msg.slot} published later on {msg.topic} at QoS {msg.qos}",
                statements("order", level),
                {"message": msg.mid, "overtaken_by": last[1], "topic": msg.topic,
                 "publisher_slot": msg.slot, "receiver_slot": slot, "filter": key[5]},
                (conn,) + ((msg.conn,) if msg.conn else ())))
            return
        if last is not None:
            m.checks["order"] += 1
        if last is None or msg.seq > last[0]:
            m.order_last[key] = (msg.seq, msg.mid)

    def _shared(self, msg: Msg, slot: int, conn: int, qos: int, t: float) -> None:
        m = self.model
        counted = {slot}
        excused = 0
        for other, other_conn, other_qos, _ in msg.shared_rx:
            if other == slot:
                continue
            if other_qos <= 1 and m.conn_closed.get(other_conn, INF) <= t:
                excused += 1  # the first member lost its connection: MAY go to another
            else:
                counted.add(other)
        # a QoS 1 PUBLISH the publisher re-sent may be a new message each time (MQTT-4.3.2)
        limit = msg.sends if msg.qos == 1 else 1
        msg.shared_rx.append((slot, conn, qos, t))
        if len(counted) > limit:
            first = next(r for r in msg.shared_rx if r[0] in counted and r[0] != slot)
            m.violation(Violation(
                "shared", f"two-members-q{first[2]}", f"{msg.mid} on {msg.topic} reached "
                f"{len(counted)} members of its share group (slots {sorted(counted)}), "
                f"published {msg.sends} time(s)",
                statements("shared-qos2" if first[2] == 2 else "shared", 5),
                {"message": msg.mid, "topic": msg.topic, "members": sorted(counted),
                 "publisher_sends": msg.sends}, (first[1], conn)))
            return
        m.checks["shared"] += 1
        if excused:
            m.allowed["share group: re-sent to another member after a connection loss"] += 1
        elif len(counted) > 1:
            m.allowed["share group: a QoS 1 message the publisher re-sent went to another "
                      "member"] += 1

    # -- the end --------------------------------------------------------------------------

    def final(self) -> None:
        m = self.model
        for msg in m.msgs.values():
            owed = msg.owed and msg.status in ("acked", "must")
            for r in msg.reqs.values():
                if r.state == "open" and owed:
                    self._missing(msg, r)
            for g in msg.groups:
                if g.state != "open" or not owed:
                    continue
                if any(m.slots[s].conn is None or m.slots[s].epoch is not e
                       for s, e in g.members.items()):
                    g.state, g.why = "waived", "a member was not resumed"
                    m.allowed["share group waived: a member was not resumed"] += 1
                    continue
                g.state = "missing"
                m.violation(Violation(
                    "no-loss", "shared", f"{msg.mid} (QoS {msg.qos} on {msg.topic}), "
                    f"acknowledged, reached no member of {g.group}",
                    ("MQTT-4.5.0-1",), {"message": msg.mid, "group": g.group,
                                        "members": sorted(g.members)},
                    tuple(c for c in (msg.conn,) if c)))
            if msg.kind == "pub" and msg.status == "acked":
                for s in msg.allow:
                    if s not in msg.first and s not in msg.reqs:
                        m.allowed["not delivered where nothing was owed (QoS 0, session "
                                  "not surely alive)"] += 1
        for rec in self.wills.by_id.values():
            if rec.status == "may" and rec.msg is not None and rec.msg.allow:
                seen = "published" if rec.receipts else "not seen"
                m.allowed[f"Will {seen} where either is allowed ({rec.why})"] += 1

    def not_sent(self, reqs: list[Req], conn: int) -> None:
        """Messages stored for a session that was resumed, not sent within the bound."""
        for r in reqs:
            r.state = "missing"
            self._report(r.msg, r, "-after-resumption", f" within {self._bound:g} s of "
                         "the session's resumption", (conn,))

    def _missing(self, msg: Msg, r: Req) -> None:
        m = self.model
        sm = m.slots[r.slot]
        if r.epoch.ended or sm.epoch is not r.epoch or sm.conn is None:
            r.state, r.why = "waived", "session not resumed at the end"
            m.allowed["waived: session not resumed at the end"] += 1
            return
        r.state = "missing"
        self._report(msg, r, "", "", (sm.conn,))

    def _report(self, msg: Msg, r: Req, gist: str, when: str, conns: tuple[int, ...]) -> None:
        m = self.model
        where = "online" if r.online else "offline"

        def at(t: float | None) -> float | None:
            return None if t is None else round(t - m.started, 3)

        details = {"message": msg.mid, "topic": msg.topic, "qos": msg.qos,
                   "publisher_slot": msg.slot, "receiver_slot": r.slot,
                   "filters": list(r.filters), "subscriber_was": where,
                   "publisher_resent": msg.spans, "step": msg.step,
                   "sent_at": at(msg.sent_at), "acknowledged_at": at(msg.done_at),
                   "receiver_connection": r.conn,
                   "receiver_connection_closed_at": at(m.conn_closed.get(r.conn or 0))}
        evidence = tuple(dict.fromkeys(c for c in (msg.conn, r.conn, *conns) if c))
        if msg.kind == "will":
            m.violation(Violation(
                "will", "not-delivered" + gist, f"the Will of slot {msg.slot} ({msg.topic}, "
                f"QoS {msg.qos}) never reached slot {r.slot}, subscribed at QoS {r.qos}"
                + when, statements("will-missing", msg.level), details, evidence))
            return
        m.violation(Violation(
            "no-loss", f"q{r.qos}-{where}" + ("-publisher-resent" if msg.spans else "") + gist,
            f"{msg.mid} (QoS {msg.qos} from slot {msg.slot} on {msg.topic}), acknowledged, "
            f"never reached slot {r.slot} ({where} when it was published)" + when,
            statements("loss-offline" if gist or not r.online else "loss-online",
                       m.slots[r.slot].level), details, evidence))
