"""The expected state: sessions, subscriptions, messages owed, and what each receipt may be.

Strategy: the model is told what the runner did and saw (a connection accepted with Session
Present x, a subscription granted, a message acknowledged, a PUBLISH received) with the time,
and keeps, per client slot, the server-side session it believes in (an `Epoch`: from the
CONNACK that created it to the one that shows it gone).  When a message is published it works
out, from the subscriptions held at that moment, who is owed it (`Req`: a QoS >= 1 match at
QoS >= 1 on a session that surely exists), how many copies each slot may get (`allow`: one per
matching subscription, MQTT 5 allows one per overlap), and the per-subscriber ordering key
(only when exactly one non-shared subscription matches: MQTT-4.6.0-5/-6 speak of one topic,
one QoS, one publisher).  Receipts are judged at once (QoS 2 copies beyond `allow`, copies to a
slot with no matching subscription, ordering, a second share-group member); what is owed is
judged when its session is resumed and at the end, after the drain (judge.py).

The model errs towards silence.  A requirement is waived, and counted as allowed behaviour,
when the spec lets the broker lose the message: the session ended (Clean Start, expiry,
non-persistent session closed: MQTT-4.1.0-2, MQTT-3.1.2-6 in 3.1.1), the subscriber
unsubscribed while the message was still buffered (MQTT-3.10.4: "MAY continue to deliver"),
the publish was refused (MQTT 5 reason code >= 0x80) or never acknowledged, the offline queue
passed `queue_allow`, a share group lost a member.  Session timing is judged with margins:
a session is "alive" until its expiry minus a margin and the broker's one-second timer grain,
"gone" only well after it; between the two, whatever the broker says is accepted.  When the
broker denies a session the model expected (a finding), what that session held is kept as
"ghost" subscriptions: copies through them are not called unsolicited, nothing is owed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fuzz.stateful.retained import INF, RetainedStore, RUpdate
from fuzz.stateful.verdicts import Violation, statements
from mqttspec.topics import matches, split_shared

GRAIN = 1.0  # brokers keep Session Expiry / Will Delay timers in whole seconds
KEEP_FINISHED = 30.0  # seconds a settled message keeps its full record


@dataclass(slots=True, eq=False)
class Epoch:
    """One server-side session of a slot, as the model believes in it."""

    slot: int
    number: int
    persistent: bool
    expiry: float  # seconds it outlives its connection (INF: the run's whole length)
    subs: dict[str, int] = field(default_factory=dict)  # absolute filter -> granted QoS
    # after the broker denied a session the model expected (a finding already), what it may
    # still hold: copies through these are not unsolicited, but nothing is owed through them
    ghosts: dict[str, int] = field(default_factory=dict)
    closed_at: float | None = None  # offline since; None while a connection is attached
    ended: str = ""  # why it ended ("" while it may exist)
    queued: int = 0  # QoS >= 1 messages owed while offline
    reqs: list[Req] = field(default_factory=list)
    groups: list[GroupReq] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class Req:
    msg: Msg
    slot: int
    epoch: Epoch
    filters: tuple[str, ...]
    online: bool  # the subscriber was connected when it was published
    qos: int
    conn: int | None  # the subscriber's connection then
    state: str = "open"  # open, met, waived
    why: str = ""


@dataclass(slots=True, eq=False)
class GroupReq:
    """A message to a share group: owed to one member (MQTT 5 section 4.8.2)."""

    msg: Msg
    group: str
    members: dict[int, Epoch]
    state: str = "open"
    why: str = ""


@dataclass(slots=True, eq=False)
class Msg:
    mid: str
    kind: str  # "pub" or "will"
    slot: int  # publisher (or the Will's owner)
    level: int
    topic: str
    qos: int
    retain: bool
    empty: bool
    seq: int
    sent_at: float
    status: str = "open"  # pub: open acked refused abandoned; will: must may forbidden
    done_at: float | None = None
    window_end: float = INF  # subscriptions made before this may still match it
    reqs: dict[int, Req] = field(default_factory=dict)
    groups: list[GroupReq] = field(default_factory=list)
    allow: dict[int, int] = field(default_factory=dict)
    maxq: dict[int, int] = field(default_factory=dict)  # highest QoS granted per slot
    order: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    first: dict[int, float] = field(default_factory=dict)
    qos2: dict[int, list[int]] = field(default_factory=dict)
    shared_rx: list[tuple[int, int, int, float]] = field(default_factory=list)
    update: RUpdate | None = None
    owed: bool = True  # pub: acknowledged; will: must be published
    spans: bool = False  # its flow outlived a connection of the publisher
    sends: int = 1  # PUBLISH transmissions by the publisher (QoS 1: each may be a new copy)
    conn: int | None = None  # the publisher's connection
    step: int | str = ""  # the action that published it


@dataclass(slots=True)
class SlotModel:
    index: int
    client_id: str
    level: int
    epoch: Epoch | None = None
    conn: int | None = None  # the connection attached, as far as the model knows
    unsubscribed: dict[str, float] = field(default_factory=dict)


class Model:
    def __init__(self, root: str, tag: str, slots: Sequence[tuple[str, int]], *,
                 settle: float = 0.25, margin: float = 0.5, queue_allow: int = 100) -> None:
        self.root, self.tag = root, tag
        self.slots = [SlotModel(i, cid, level) for i, (cid, level) in enumerate(slots)]
        self.margin, self.queue_allow = margin, queue_allow
        self.retained = RetainedStore(settle)
        self.msgs: dict[str, Msg] = {}
        self.open_window: dict[str, Msg] = {}
        self.order_last: dict[tuple[Any, ...], tuple[int, str]] = {}
        self.conn_closed: dict[int, float] = {}
        self.conn_opened: dict[int, float] = {}  # slot connections: when CONNECT was sent
        self.violations: list[Violation] = []
        self.checks: Counter[str] = Counter()
        self.allowed: Counter[str] = Counter()
        self.delivered = 0
        self.step: int | str = 0  # the action being carried out (for evidence)
        self.started = 0.0  # the clock at the start (evidence shows times from it)
        self._epochs = 0
        self._seq = 0

    def violation(self, v: Violation) -> None:
        self.violations.append(v)

    # -- sessions -------------------------------------------------------------------------

    def status(self, slot: int, t: float) -> str:
        """"alive", "maybe" or "gone": may a conforming broker hold this slot's session?"""
        e = self.slots[slot].epoch
        if e is None or e.ended:
            return "gone"
        if e.closed_at is None:
            return "alive"
        elapsed = t - e.closed_at
        if not e.persistent:
            return "maybe" if elapsed < self.margin + GRAIN else "gone"
        if elapsed < e.expiry - self.margin - GRAIN:
            return "alive"
        return "gone" if elapsed > e.expiry + self.margin + 2 * GRAIN else "maybe"

    def _new_epoch(self, slot: int, persistent: bool, expiry: float) -> Epoch:
        self._epochs += 1
        e = Epoch(slot, self._epochs, persistent, expiry)
        self.slots[slot].epoch = e
        return e

    def end(self, e: Epoch | None, why: str) -> None:
        if e is None or e.ended:
            return
        e.ended = why
        self._waive_all(e, why)

    def _waive_all(self, e: Epoch, why: str) -> None:
        for r in e.reqs:
            if r.state == "open":
                r.state, r.why = "waived", why
                self.allowed[f"waived: {why}"] += 1
        for g in e.groups:
            if g.state == "open":
                g.state, g.why = "waived", why
                self.allowed[f"share group waived: {why}"] += 1

    def connected(self, slot: int, conn: int, t_sent: float, t: float, *, clean_start: bool,
                  persistent: bool, expiry: float, present: bool, takeover: bool) -> bool:
        """A CONNACK accepted a connection; whether the session continues (the client keeps
        its own session state exactly when the broker says Session Present)."""
        sm = self.slots[slot]
        old, level = sm.epoch, sm.level
        details = {"slot": slot, "client_id": sm.client_id, "clean_start": clean_start,
                   "session_present": present}
        go_on = False
        ghosts: dict[str, int] = {}
        if clean_start:
            if present:  # MQTT-3.2.2-1 (3.1.1) / MQTT-3.2.2-2 (5.0)
                self.violation(Violation(
                    "session", "present-on-clean-start", f"CONNACK says Session Present 1 to "
                    f"a Clean Start connection of {sm.client_id}",
                    statements("present-on-clean", level), details, (conn,)))
            else:
                self.checks["session"] += 1
            self.end(old, "Clean Start")
        else:
            before = "alive" if takeover else self.status(slot, t_sent)
            if takeover and old is not None and not old.persistent:
                before = "maybe"  # its session ends with the connection taken over
            after = self.status(slot, t) if not takeover else before
            state = before if before == after else "maybe"
            details["model"] = state
            if old is not None:  # what the lost session held, for the evidence
                details["subscriptions"] = sorted(old.subs)
                details["messages_owed"] = sum(1 for r in old.reqs if r.state == "open")
            if state == "alive" and not present:  # MQTT-3.1.2-5/-23 (5.0), -4/-5 (3.1.1)
                held = "empty-" if old is not None and not old.subs and not any(
                    r.state == "open" for r in old.reqs) else ""
                self.violation(Violation(
                    "session", f"{held}session-lost", f"the stored session of {sm.client_id} "
                    f"was not resumed (Session Present 0 within its expiry)",
                    statements("session-lost", level), details, (conn,)))
                self.end(old, "session lost (reported)")
                ghosts = {} if old is None else {**old.ghosts, **old.subs}
            elif state == "gone" and present and old is not None:
                self.violation(Violation(
                    "session", "ended-session-resumed", f"a session of {sm.client_id} that "
                    "must have ended was resumed (Session Present 1)",
                    statements("session-not-ended", level), details, (conn,)))
                old.ended, go_on = "", True
            elif present and old is not None and not old.ended:
                self.checks["session"] += 1
                go_on = True
            elif present:  # no session was ever made for this ClientID
                self.violation(Violation(
                    "session", "unknown-session-resumed", f"Session Present 1 for "
                    f"{sm.client_id}, which never had a session", statements(
                        "session-not-ended", level), details, (conn,)))
            else:
                self.checks["session"] += 1
                if state == "maybe" and old is not None and not old.ended:
                    self.allowed["session ended within its expiry margin"] += 1
                self.end(old, "session ended" if state != "alive" else "session lost")
        e = old if go_on and old is not None else self._new_epoch(slot, persistent, expiry)
        e.persistent, e.expiry, e.closed_at = persistent, expiry, None
        e.ghosts.update(ghosts)
        sm.conn = conn
        self.conn_opened[conn] = t_sent
        return go_on

    def closed(self, slot: int, conn: int, t: float) -> None:
        """A connection of `slot` has closed (whoever closed it)."""
        self.conn_closed[conn] = t
        sm = self.slots[slot]
        if sm.conn != conn:
            return  # an older connection (taken over): the session went on without it
        sm.conn = None
        e = sm.epoch
        if e is None:
            return
        e.closed_at, e.queued = t, 0
        if not e.persistent:
            self._waive_all(e, "session ended with its connection")

    def subscribing(self, slot: int, filters: Sequence[tuple[str, int]]) -> None:
        """A SUBSCRIBE is on its way: a message whose publication is still in progress (a Will
        during its delay, an unacknowledged PUBLISH) may reach the slot through it."""
        for msg in self.open_window.values():
            hits = [q for f, q in filters if _matches(f, msg.topic)]
            if hits:
                msg.allow[slot] = msg.allow.get(slot, 0) + len(hits)
                msg.maxq[slot] = max(msg.maxq.get(slot, 0), *hits)

    def subscribed(self, slot: int, granted: Sequence[tuple[str, int | None]]) -> None:
        e = self.slots[slot].epoch
        if e is None:
            return
        for topic_filter, qos in granted:
            if qos is not None:
                e.subs[topic_filter] = qos
                e.ghosts.pop(topic_filter, None)

    def unsubscribed(self, slot: int, filters: Sequence[str], t: float) -> None:
        sm = self.slots[slot]
        e = sm.epoch
        for f in filters:
            sm.unsubscribed[f] = t
            if e is None:
                continue
            e.subs.pop(f, None)
            e.ghosts.pop(f, None)
            for r in e.reqs:  # buffered messages MAY be dropped (MQTT-3.10.4)
                if r.state == "open" and f in r.filters:
                    r.state, r.why = "waived", "unsubscribed"
                    self.allowed["waived: unsubscribed before delivery"] += 1
            for g in e.groups:
                if g.state == "open" and g.group == f:
                    g.state, g.why = "waived", "a member unsubscribed"
                    self.allowed["share group waived: a member unsubscribed"] += 1

    # -- messages -------------------------------------------------------------------------

    def next_mid(self, prefix: str) -> tuple[str, int]:
        self._seq += 1
        return f"{prefix}{self._seq}", self._seq

    def payload(self, mid: str) -> bytes:
        return f"{self.tag}:{mid}".encode()

    def publish(self, slot: int, conn: int, topic: str, qos: int, retain: bool, empty: bool,
                t: float, spans: bool = False) -> Msg:
        """We are about to send an application message (`spans`: its flow will outlive the
        connection, so no ordering is asserted for it)."""
        mid, seq = self.next_mid("p")
        msg = Msg(mid, "pub", slot, self.slots[slot].level, topic, qos, retain, empty, seq, t,
                  spans=spans, conn=conn, step=self.step)
        self.msgs[mid] = msg
        # a zero-byte payload carries no id: its copies cannot be told apart, nothing is owed
        msg.owed = not empty
        self.fan_out(msg, t, owed=not empty, ordered=not spans and not empty)
        self.open_window[mid] = msg
        if retain:
            msg.update = self.retained.add(topic, RUpdate(
                None if empty else mid, t, INF, False,
                droppable=msg.level != 5 and qos == 0), t)  # MQTT-3.3.1-7 (3.1.1)
        return msg

    def fan_out(self, msg: Msg, t: float, *, owed: bool, ordered: bool) -> None:
        """Who may get `msg` and who is owed it, from the subscriptions held at `t`."""
        groups: dict[str, dict[int, Epoch]] = {}
        for sm in self.slots:
            e, s = sm.epoch, sm.index
            state = self.status(s, t)
            if e is None or state == "gone":
                continue
            plain = tuple(f for f in e.subs if not f.startswith("$share/")
                          and matches(f, msg.topic))
            shared = [f for f in e.subs if f.startswith("$share/") and _matches(f, msg.topic)]
            for f in shared:
                groups.setdefault(f, {})[s] = e
            ghosts = [q for f, q in e.ghosts.items() if _matches(f, msg.topic)]
            if plain or shared or ghosts:
                msg.allow[s] = len(plain) + len(shared) + len(ghosts)
                msg.maxq[s] = max([e.subs[f] for f in (*plain, *shared)] + ghosts)
            if not plain:
                continue
            qos = min(msg.qos, max(e.subs[f] for f in plain))
            if ordered and len(plain) == 1 and msg.qos and state == "alive":
                msg.order[s] = (msg.slot, msg.topic, msg.qos, s, e.number, plain[0], qos)
            if not owed or qos == 0 or state != "alive":
                continue
            online = e.closed_at is None
            if not online:
                e.queued += 1
                if e.queued > self.queue_allow:
                    self.allowed["not owed: offline queue past its allowance"] += 1
                    continue
            req = Req(msg, s, e, plain, online, qos, sm.conn)
            msg.reqs[s] = req
            e.reqs.append(req)
        for group, members in groups.items():
            if owed and msg.qos and all(e.subs[group] > 0 for e in members.values()) and all(
                    self.status(s, t) == "alive" for s in members):
                g = GroupReq(msg, group, dict(members))
                msg.groups.append(g)
                for e in members.values():
                    e.groups.append(g)

    def done(self, msg: Msg, t: float, reason: int) -> None:
        """The publish flow ended: PUBACK / PUBCOMP (or the barrier after QoS 0), or a v5
        refusal (reason code >= 0x80: the message is not the broker's)."""
        msg.done_at, msg.window_end = t, t
        self.open_window.pop(msg.mid, None)
        if reason >= 0x80:
            msg.status, msg.owed = "refused", False
            self.cancel(msg, "refused by the broker")
            if msg.update is not None:
                msg.update.void = True
            return
        msg.status = "acked"
        if msg.update is not None:
            msg.update.hi, msg.update.certain = t, True

    def abandon(self, msg: Msg, t: float) -> None:
        """We gave the message up before its acknowledgement: the broker may have it or not."""
        msg.done_at, msg.window_end = t, t
        self.open_window.pop(msg.mid, None)
        msg.status, msg.owed = "abandoned", False
        self.cancel(msg, "never acknowledged")
        if msg.update is not None:
            msg.update.hi = t

    def cancel(self, msg: Msg, why: str) -> None:
        for r in msg.reqs.values():
            if r.state == "open":
                r.state, r.why = "waived", why
        for g in msg.groups:
            if g.state == "open":
                g.state, g.why = "waived", why

    def close_windows(self, t: float) -> None:
        for mid, msg in list(self.open_window.items()):
            if msg.window_end < t:
                del self.open_window[mid]

    def compact(self, t: float) -> None:
        """Shrink the records of messages settled long ago (long runs stay small)."""
        for msg in self.msgs.values():
            if msg.reqs and msg.done_at is not None and t - msg.done_at > KEEP_FINISHED and all(
                    r.state != "open" for r in msg.reqs.values()) and all(
                    g.state != "open" for g in msg.groups):
                msg.reqs, msg.groups, msg.order = {}, [], {}
        for sm in self.slots:
            if sm.epoch is not None:
                sm.epoch.reqs = [r for r in sm.epoch.reqs if r.state == "open"]
                sm.epoch.groups = [g for g in sm.epoch.groups if g.state == "open"]

    def outstanding(self) -> int:
        """Requirements not yet met (the drain waits for them)."""
        open_reqs = {id(r) for sm in self.slots if sm.epoch is not None for r in sm.epoch.reqs
                     if r.state == "open" and r.msg.owed}
        open_groups = {id(g) for sm in self.slots if sm.epoch is not None
                       for g in sm.epoch.groups if g.state == "open" and g.msg.owed}
        return len(open_reqs) + len(open_groups)


def _matches(topic_filter: str, topic: str) -> bool:
    """Does a (possibly shared) filter match a topic name?"""
    return matches(split_shared(topic_filter)[1], topic)
