"""The retained-message part of the model: what a new subscription may get, topic by topic.

Strategy: per topic, the history of updates (a retained PUBLISH, a clear, a retained Will),
each with the window in which the broker applied it: `lo` (we sent it, or the Will's connection
closed) to `hi` (we had its acknowledgement or barrier, or the Will's deadline; infinite while
unknown).  Updates whose windows overlap may have been applied in either order, so rather than
one "current value" the model keeps the set of values a conforming broker may hold at a given
time: every update not surely superseded, where "surely" means some later *certain* update
started after it was applied and has itself settled (`settle` seconds after its `hi`, for
brokers that apply a retained message slightly after acknowledging it).  A Will that may or
may not be published (takeover in MQTT 5, ...) is an uncertain update: allowed, never
superseding.  MQTT 3.1.1 lets a server discard a QoS 0 retained message at any time
(MQTT-3.3.1-7), so after one, "no retained message" is allowed too.

A probe is a fresh connection subscribing to one filter: per matching topic, what it gets with
RETAIN 1 must be one of the allowed values (MQTT-3.3.1-5/-6; one message, the last: several
copies of it are counted, not judged), never an empty one (MQTT-3.3.1-11 / MQTT-3.3.1-7 in
5.0), and something when "none" is not allowed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fuzz.stateful.verdicts import Violation, statements
from mqttspec.topics import matches

INF = float("inf")
EMPTY = "<empty>"  # a received message with a zero-byte payload


@dataclass(slots=True, eq=False)
class RUpdate:
    value: str | None  # the message id; None: the retained message is cleared
    lo: float
    hi: float  # INF while it may still be applied later
    certain: bool  # it surely happened (by `hi`)
    droppable: bool = False  # MQTT 3.1.1 QoS 0: the server MAY discard it at any time
    void: bool = False  # it never happened (e.g. a Will that must not be published)


@dataclass(frozen=True, slots=True)
class Seen:
    """One PUBLISH a probe received."""

    topic: str
    value: str  # message id, EMPTY, or "?<hex>" for a payload that is not ours
    retain: bool


class RetainedStore:
    def __init__(self, settle: float) -> None:
        self.settle = settle
        self._updates: dict[str, list[RUpdate]] = {}
        self.values: dict[str, set[str]] = {}  # every value ever retained per topic

    def add(self, topic: str, update: RUpdate, now: float) -> RUpdate:
        ups = self._updates.setdefault(topic, [RUpdate(None, -INF, -INF, True)])
        ups.append(update)
        if update.value is not None:
            self.values.setdefault(topic, set()).add(update.value)
        self._updates[topic] = [u for u in ups if not self._superseded(u, ups, now)]
        return update

    def _superseded(self, u: RUpdate, ups: list[RUpdate], t: float) -> bool:
        return any(j.certain and not j.void and j is not u and j.lo >= u.hi
                   and j.hi + self.settle <= t for j in ups)

    def allowed(self, topic: str, t_lo: float, t_hi: float) -> set[str | None]:
        """The values a conforming broker may hold for `topic` when a subscription made
        between `t_lo` and `t_hi` is processed."""
        ups = self._updates.get(topic, [RUpdate(None, -INF, -INF, True)])
        out: set[str | None] = set()
        for u in ups:
            if u.void or u.lo > t_hi or self._superseded(u, ups, t_lo):
                continue
            out.add(u.value)
            if u.droppable:
                out.add(None)
        return out

    def unsettled(self, topic: str, t: float) -> bool:
        """Could an update of `topic` still be in progress at `t` (a live copy is then no
        evidence about the retained one)?"""
        return any(u.hi > t - self.settle for u in self._updates.get(topic, ()))

    def history(self, topic: str, origin: float) -> list[dict[str, object]]:
        """The updates still in play for `topic`, for a finding's evidence."""
        def at(t: float) -> float | str:
            return round(t - origin, 3) if abs(t) != INF else ("inf" if t > 0 else "-inf")

        return [{"value": u.value, "from": at(u.lo), "by": at(u.hi), "certain": u.certain,
                 "droppable": u.droppable, "void": u.void}
                for u in self._updates.get(topic, ())]

    def topics(self) -> list[str]:
        """Every topic that may hold a retained message (to clear at the end)."""
        return sorted(t for t, ups in self._updates.items() if any(
            u.value is not None and not u.void for u in ups))


def check_probe(store: RetainedStore, universe: Iterable[str], topic_filter: str,
                seen: list[Seen], t_lo: float, t_hi: float, level: int,
                conn: int) -> tuple[list[Violation], int, int]:
    """Judge what a fresh subscription to `topic_filter` received; (violations, checks
    passed, topics whose retained message came more than once: QoS 1 allows it)."""
    found: list[Violation] = []
    passed = repeated = 0

    def bad(check: str, gist: str, summary: str, **details: object) -> None:
        found.append(Violation("retained", gist, summary, statements(check, level),
                               {"filter": topic_filter, **details}, (conn,)))

    for topic in universe:
        if not matches(topic_filter, topic):
            continue
        allowed = store.allowed(topic, t_lo, t_hi)
        shown = sorted("none" if v is None else v for v in allowed)
        got = [s for s in seen if s.topic == topic and s.retain]
        if any(s.value == EMPTY for s in got):
            bad("retained-empty", "empty-message-retained", f"a new subscription to "
                f"{topic_filter} got a zero-byte retained message on {topic}", topic=topic)
        elif len({s.value for s in got}) > 1:  # only the last one may be sent
            bad("retained-several", "several-for-one-topic", f"a new subscription got "
                f"{len(got)} different retained messages for {topic}", topic=topic,
                got=[s.value for s in got], allowed=shown)
        elif got and got[0].value not in allowed:
            value = got[0].value
            kind = "stale" if value in store.values.get(topic, ()) else "unexpected"
            bad("retained-stale", f"{kind}-value", f"a new subscription got retained "
                f"{value} on {topic}; a conforming broker holds one of {shown}",
                topic=topic, got=value, allowed=shown)
        elif not got and None not in allowed:
            live = [s for s in seen if s.topic == topic and not s.retain]
            if any(s.value in allowed for s in live):
                if store.unsettled(topic, t_hi):
                    continue  # a live copy during an update proves nothing
                bad("retained-flag", "sent-with-retain-0", f"the retained message on {topic} "
                    f"reached a new subscription with RETAIN 0", topic=topic, allowed=shown)
            else:
                bad("retained-missing", "missing", f"a new subscription to {topic_filter} got "
                    f"no retained message on {topic}; expected one of {shown}",
                    topic=topic, allowed=shown)
        else:
            passed += 1
            if len(got) > 1:
                repeated += 1
    return found, passed, repeated
