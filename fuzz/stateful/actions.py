"""The stateful fuzzer's actions and the seeded random walk that chooses them.

Strategy: an `Action` is plain, JSON round-trippable data naming everything needed to redo it
(client slot, protocol level, Clean Start, Session Expiry, Will, filters, topic, QoS, ...), with
topics relative to the run's root, so a recorded list replays against any broker.  The
`Planner` chooses the next action from the seed and from what it *asked for* so far (which
slots it connected, with what sessions and subscriptions), never from what the broker answered
or when, so the same seed and broker capabilities always give the same sequence.  What the
broker did instead (refused, closed, lost a session) is the model's business (model.py); an
action that no longer applies (its connection is gone) is skipped by the runner, not re-planned.

The topic space is small and fixed, so the model's expectations stay exact: data topics under
`d/` (plain subscriptions, retained messages), shared-subscription topics under `s/`, each
matched by exactly one share group (so "one member per message" is checkable), and one Will
topic per slot under `w/`.  Plain filters never reach `s/`, shared ones never leave it.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from mqttspec.topics import matches

DATA_TOPICS = ("d/a", "d/b", "d/a/x", "d/a/y", "d/b/x")
SHARED_TOPICS = ("s/a", "s/b/x")
PLAIN_FILTERS = ("d/a", "d/b", "d/a/x", "d/b/x", "d/+", "d/+/x", "d/a/+", "d/#", "d/a/#",
                 "w/+", "w/#")
EXACT_FILTERS = ("d/a", "d/b", "d/a/x", "d/b/x")
SHARED_FILTERS = ("$share/g1/s/a", "$share/g2/s/b/+")  # one group per shared topic
PROBE_FILTERS = ("d/#", "d/+", "d/a/+", "d/+/x", "d/a/x", "w/#", "w/+")
SHORT_EXPIRY = 2  # seconds: a session that may expire during the run
LONG_EXPIRY = 3600  # seconds: a session that outlives the run (removed at cleanup)
UNLIMITED = 0xFFFFFFFF  # Session Expiry Interval meaning "never"
KEEP_ALIVE = 60
QUEUE_LIMIT = 40  # messages that may queue for an offline session before it is resumed
MAX_SUBS = 6

WEIGHTS: dict[str, float] = {
    "connect": 10, "disconnect": 3, "drop": 3, "takeover": 2, "subscribe": 8, "unsubscribe": 3,
    "publish": 40, "publish_drop": 2, "ping": 2, "probe": 3, "wait": 0.15,
}
CONNECTED_KINDS = ("disconnect", "drop", "takeover", "subscribe", "unsubscribe", "publish",
                   "publish_drop", "ping")


def will_topic(slot: int) -> str:
    return f"w/{slot}"


def absolute(relative: str, root: str) -> str:
    """A relative topic or filter under the run's root; "$share/g/f" -> "$share/g/<root>/f"."""
    if relative.startswith("$share/"):
        _, group, rest = relative.split("/", 2)
        return f"$share/{group}/{root}/{rest}"
    return f"{root}/{relative}"


@dataclass(frozen=True, slots=True)
class WillPlan:
    qos: int
    retain: bool
    delay: int = 0  # Will Delay Interval (MQTT 5 only), seconds


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    step: int
    kind: str  # connect disconnect drop takeover subscribe unsubscribe publish publish_drop
    #            ping probe wait
    slot: int = -1
    level: int = 0
    clean_start: bool = True
    expiry: int = 0  # MQTT 5 Session Expiry Interval (3.1.1: the session persists iff not clean)
    will: WillPlan | None = None
    filters: tuple[tuple[str, int], ...] = ()  # (relative filter, requested QoS)
    topic: str = ""
    qos: int = 0
    retain: bool = False
    empty: bool = False  # a zero-byte payload (with retain: clears the retained message)
    reason: int = 0  # MQTT 5 DISCONNECT reason code (0x00, or 0x04: with Will Message)
    seconds: float = 0.0
    stage: str = ""  # publish_drop: drop after "publish" or (QoS 2) after "pubrel"

    @property
    def persistent(self) -> bool:
        """Does the session asked for outlive its connection?"""
        return self.expiry > 0 if self.level == 5 else not self.clean_start

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"step": self.step, "kind": self.kind}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in data or value == f.default:
                continue
            if f.name == "will":
                data["will"] = asdict(value)
            elif f.name == "filters":
                data["filters"] = [list(pair) for pair in value]
            else:
                data[f.name] = value
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Action:
        values = dict(data)
        if values.get("will") is not None:
            values["will"] = WillPlan(**values["will"])
        if "filters" in values:
            values["filters"] = tuple((str(f), int(q)) for f, q in values["filters"])
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown action fields {sorted(unknown)}")
        return cls(**values)

    def describe(self) -> str:
        """One short line, for traces and progress."""
        bits = [f"#{self.step} {self.kind}"]
        if self.slot >= 0:
            bits.append(f"c{self.slot}")
        if self.kind in ("connect", "takeover"):
            bits.append(f"v{self.level} clean={int(self.clean_start)}")
            if self.level == 5:
                bits.append(f"expiry={self.expiry}")
            if self.will is not None:
                w = self.will
                bits.append(f"will(q{w.qos}{' r' if w.retain else ''} d{w.delay})")
        if self.filters:
            bits.append(",".join(f"{f}@{q}" for f, q in self.filters))
        if self.topic:
            bits.append(f"{self.topic} q{self.qos}" + (" retain" if self.retain else "")
                        + (" empty" if self.empty else "") + (f" {self.stage}" if self.stage
                                                              else ""))
        if self.reason:
            bits.append(f"reason=0x{self.reason:02X}")
        if self.seconds:
            bits.append(f"{self.seconds:g}s")
        return " ".join(bits)


@dataclass(frozen=True, slots=True)
class Caps:
    """What the broker offers, probed once before the run (the plan depends on it)."""

    levels: tuple[int, ...]
    maximum_qos: int = 2
    retain: bool = True
    shared: bool = False  # MQTT 5 shared subscriptions
    wildcards: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"levels": list(self.levels), "maximum_qos": self.maximum_qos,
                "retain": self.retain, "shared": self.shared, "wildcards": self.wildcards}


@dataclass(slots=True)
class _SlotPlan:
    level: int
    connected: bool = False
    persistent: bool = False  # as asked: the session may outlive the connection
    subs: dict[str, int] = field(default_factory=dict)
    offline: int = 0  # messages that may have queued while it was away
    resume_next: bool = False  # after publish_drop: come back to finish the flow


class Planner:
    """The seeded random walk: `next()` is the next action, from the seed alone."""

    def __init__(self, seed: int, clients: int, caps: Caps,
                 weights: Mapping[str, float] | None = None) -> None:
        if clients < 2:
            raise ValueError("the stateful mode needs at least 2 clients")
        if not caps.levels:
            raise ValueError("no protocol level to use")
        self.rng = random.Random(seed)
        self.caps = caps
        self.weights = {**WEIGHTS, **(weights or {})}
        order = list(caps.levels)
        self.rng.shuffle(order)
        self.slots = [_SlotPlan(order[i % len(order)]) for i in range(clients)]
        self.step = 0

    def next(self) -> Action:
        action = self._choose()
        self._apply(action)
        self.step += 1
        return action

    # -- choosing -------------------------------------------------------------------------

    def _choose(self) -> Action:
        rng, step = self.rng, self.step
        for i, s in enumerate(self.slots):  # a session must not queue past the broker's limit
            if not s.connected and s.persistent and s.offline >= QUEUE_LIMIT:
                return self._connect(i, resume=True)
        offline = [i for i, s in enumerate(self.slots) if not s.connected]
        online = [i for i, s in enumerate(self.slots) if s.connected]
        kinds: list[str] = ["probe", "wait"]
        if offline:
            kinds.append("connect")
        if online:
            kinds += [k for k in CONNECTED_KINDS if k != "unsubscribe"]
            if any(self.slots[i].subs for i in online):
                kinds.append("unsubscribe")
        if self.caps.maximum_qos == 0 and "publish_drop" in kinds:
            kinds.remove("publish_drop")
        kind = rng.choices(kinds, [self.weights.get(k, 0) for k in kinds])[0]
        if kind == "connect":
            return self._connect(rng.choice(offline))
        if kind == "probe":
            return Action(step=step, kind="probe", level=rng.choice(self.caps.levels),
                          filters=((rng.choice(self._probe_filters()), 1),))
        if kind == "wait":
            return Action(step=step, kind="wait",
                          seconds=rng.choices((0.3, 0.8, 1.5, 2.5), (4, 3, 2, 1))[0])
        if kind == "unsubscribe":
            online = [i for i in online if self.slots[i].subs]
        slot = rng.choice(online)
        return getattr(self, f"_{kind}")(slot)  # type: ignore[no-any-return]

    def _qos(self, lo: int = 0) -> int:
        top = self.caps.maximum_qos
        return self.rng.choice([q for q in (0, 1, 1, 2, 2) if lo <= q <= top] or [top])

    def _session(self, slot: int, resume: bool) -> tuple[bool, int]:
        """(Clean Start, Session Expiry) for a new connection of `slot`."""
        rng, s = self.rng, self.slots[slot]
        if s.level == 5:
            expiry = rng.choices((0, SHORT_EXPIRY, LONG_EXPIRY), (3, 2, 5))[0]
            clean = False if resume else rng.random() < (0.2 if s.persistent else 0.5)
            if resume:
                expiry = LONG_EXPIRY
            return clean, expiry
        clean = False if resume else rng.random() < 0.35
        return clean, 0

    def _will(self, level: int) -> WillPlan | None:
        rng = self.rng
        if rng.random() >= 0.35:
            return None
        delay = 0
        if level == 5 and rng.random() < 0.4:
            delay = rng.choice((1, 3))
        return WillPlan(self._qos(), self.caps.retain and rng.random() < 0.25, delay)

    def _connect(self, slot: int, resume: bool = False) -> Action:
        s = self.slots[slot]
        resume = resume or (s.resume_next and self.rng.random() < 0.85)
        clean, expiry = self._session(slot, resume)
        return Action(step=self.step, kind="connect", slot=slot, level=s.level,
                      clean_start=clean, expiry=expiry, will=self._will(s.level))

    def _takeover(self, slot: int) -> Action:
        s = self.slots[slot]
        clean, expiry = self._session(slot, resume=self.rng.random() < 0.75)
        return Action(step=self.step, kind="takeover", slot=slot, level=s.level,
                      clean_start=clean, expiry=expiry, will=self._will(s.level))

    def _disconnect(self, slot: int) -> Action:
        level = self.slots[slot].level
        reason = 0x04 if level == 5 and self.rng.random() < 0.15 else 0
        return Action(step=self.step, kind="disconnect", slot=slot, level=level, reason=reason)

    def _drop(self, slot: int) -> Action:
        return Action(step=self.step, kind="drop", slot=slot, level=self.slots[slot].level)

    def _ping(self, slot: int) -> Action:
        return Action(step=self.step, kind="ping", slot=slot, level=self.slots[slot].level)

    def _plain_filters(self) -> tuple[str, ...]:
        return PLAIN_FILTERS if self.caps.wildcards else EXACT_FILTERS

    def _probe_filters(self) -> tuple[str, ...]:
        return PROBE_FILTERS if self.caps.wildcards else EXACT_FILTERS

    def _subscribe(self, slot: int) -> Action:
        rng, s = self.rng, self.slots[slot]
        shared_ok = s.level == 5 and self.caps.shared
        chosen: list[tuple[str, int]] = []
        for _ in range(1 if rng.random() < 0.7 else 2):
            if len(s.subs) >= MAX_SUBS:
                topic_filter = rng.choice(sorted(s.subs))  # replace one it has
            elif shared_ok and rng.random() < 0.3:
                topic_filter = rng.choice(SHARED_FILTERS)
            else:
                topic_filter = rng.choice(self._plain_filters())
            if all(f != topic_filter for f, _ in chosen):
                chosen.append((topic_filter, self._qos()))
        return Action(step=self.step, kind="subscribe", slot=slot, level=s.level,
                      filters=tuple(chosen))

    def _unsubscribe(self, slot: int) -> Action:
        s = self.slots[slot]
        subs = sorted(s.subs)
        picked = self.rng.sample(subs, 2 if len(subs) > 1 and self.rng.random() < 0.2 else 1)
        return Action(step=self.step, kind="unsubscribe", slot=slot, level=s.level,
                      filters=tuple((f, 0) for f in picked))

    def _topic(self) -> str:
        if self.caps.shared and self.rng.random() < 0.2:
            return self.rng.choice(SHARED_TOPICS)
        return self.rng.choice(DATA_TOPICS)

    def _publish(self, slot: int) -> Action:
        rng = self.rng
        topic = self._topic()
        retain = topic.startswith("d/") and self.caps.retain and rng.random() < 0.25
        empty = retain and rng.random() < 0.3
        return Action(step=self.step, kind="publish", slot=slot, level=self.slots[slot].level,
                      topic=topic, qos=self._qos(), retain=retain, empty=empty)

    def _publish_drop(self, slot: int) -> Action:
        qos = self._qos(lo=1)
        stage = "pubrel" if qos == 2 and self.rng.random() < 0.5 else "publish"
        return Action(step=self.step, kind="publish_drop", slot=slot,
                      level=self.slots[slot].level, topic=self._topic(), qos=qos, stage=stage)

    # -- what the plan asked for ----------------------------------------------------------

    def _apply(self, a: Action) -> None:
        if a.kind == "publish":
            for s in self.slots:
                if not s.connected and s.persistent and any(
                        matches(f, a.topic) for f in s.subs if not f.startswith("$")):
                    s.offline += 1
            return
        if a.slot < 0:
            return
        s = self.slots[a.slot]
        if a.kind in ("connect", "takeover"):
            if a.clean_start:
                s.subs.clear()
            s.connected, s.persistent, s.offline, s.resume_next = True, a.persistent, 0, False
        elif a.kind in ("disconnect", "drop", "publish_drop"):
            s.connected = False
            s.resume_next = a.kind == "publish_drop"
            if not s.persistent:
                s.subs.clear()
        elif a.kind == "subscribe":
            s.subs.update(a.filters)
        elif a.kind == "unsubscribe":
            for f, _ in a.filters:
                s.subs.pop(f, None)
