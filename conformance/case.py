"""Conformance cases: declared once, with a stable ID, the statements they check, and a verdict.

Strategy (after h2spec and Autobahn): a case is a plain function decorated with `@case(...)`,
which records its stable ID, the statement IDs it checks per MQTT version, the level of the
statement (MUST / SHOULD), the protocol levels it runs under and the optional capability it
needs.  The function drives test clients through a `CaseContext` and ends in a verdict:
returning normally is PASS; `fail()`, `non_strict()`, `not_applicable()` and `info()` raise
the other outcomes with expected vs observed.  Any other exception is ERROR: the harness could
not run the case (a broker that closes or stays silent where the case expected otherwise is
turned into FAIL by the case, not left as ERROR).
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NoReturn

from conformance.client import ClientError, TestClient
from conformance.target import VERSION_OF_LEVEL, Target
from conformance.wirelog import WireLog


class Outcome(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"  # a MUST / MUST NOT broken
    NON_STRICT = "NON-STRICT"  # a SHOULD not met: still conformant
    NOT_APPLICABLE = "NOT APPLICABLE"  # the broker declares the feature absent
    INFO = "INFO"  # behaviour recorded, no verdict
    ERROR = "ERROR"  # the harness could not run the case


class Verdict(Exception):
    def __init__(self, outcome: Outcome, expected: str = "", observed: str = "") -> None:
        super().__init__(f"{outcome}: expected {expected}; observed {observed}")
        self.outcome = outcome
        self.expected = expected
        self.observed = observed


def fail(expected: str, observed: str) -> NoReturn:
    raise Verdict(Outcome.FAIL, expected, observed)


def non_strict(expected: str, observed: str) -> NoReturn:
    raise Verdict(Outcome.NON_STRICT, expected, observed)


def not_applicable(reason: str) -> NoReturn:
    raise Verdict(Outcome.NOT_APPLICABLE, "", reason)


def info(observed: str) -> NoReturn:
    raise Verdict(Outcome.INFO, "", observed)


class SetupFailed(Exception):
    """The case could not get to what it checks (e.g. a plain CONNECT was refused): ERROR."""


_COUNTER = itertools.count(1)


@dataclass
class CaseContext:
    """What a running case gets: its target, protocol level, wire log and name space."""

    target: Target
    level: int
    case_id: str
    log: WireLog = field(default_factory=WireLog)
    clients: list[TestClient] = field(default_factory=list)
    _unique: str = field(default_factory=lambda: f"{os.getpid():x}{next(_COUNTER):x}")

    retained_topics: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    deadline: float = float("inf")  # monotonic: every wait of every client ends by then

    def client(self, name: str | None = None, level: int | None = None, *,
               transport: str = "tcp") -> TestClient:
        """A new network connection to the target, no CONNECT yet (closed when the case
        ends); `transport="websocket"` goes through the target's WebSocket listener."""
        c = TestClient(self.target, self.log, name or f"c{len(self.clients) + 1}",
                       level or self.level, on_retain=self.retained_topics.add,
                       transport=transport)
        c.case_deadline = self.deadline
        self.clients.append(c)
        return c

    def connected(self, name: str | None = None, *, client_id: str | None = None,
                  level: int | None = None, transport: str = "tcp",
                  **fields: Any) -> TestClient:
        """A client that has CONNECTed and been accepted.  `client_id` defaults to one
        unique to this case and client name; `fields` go to CONNECT (clean_start, keep_alive,
        will, properties, username, password).  A refusal is a harness ERROR (`SetupFailed`):
        the case cannot run, it says nothing about the statement it checks."""
        c = self.client(name, level, transport=transport)
        cid = self.client_id(c.name) if client_id is None else client_id
        try:
            c.connack = c.connect(cid, **fields)
        except ClientError as exc:
            raise SetupFailed(f"{c.name} could not connect: {exc}") from None
        if c.connack.reason_code != 0:
            raise SetupFailed(f"{c.name} was refused: CONNACK {c.connack.reason_code:#04x}")
        return c

    def note(self, text: str) -> None:
        """Record what the case saw (e.g. which of the allowed behaviours), kept in the result
        even when it passes."""
        self.notes.append(text)
        self.log.note(text)

    def client_id(self, suffix: str = "") -> str:
        """A Client Identifier no other case uses (23 characters at most, for 3.1)."""
        return f"t{self._unique}{suffix}"[:23]

    def topic(self, *levels: str) -> str:
        """A topic under a root no other case uses."""
        return "/".join((f"mqttlab/{self._unique}", *levels))

    def close_all(self) -> None:
        for c in self.clients:
            c.close()
        if self.retained_topics:
            self._clear_retained()

    def _clear_retained(self) -> None:
        """Leave no retained message behind: an empty retained PUBLISH on every topic the
        case retained a message to (MQTT-3.3.1-10 / MQTT-3.3.1-6 in 5.0)."""
        topics, self.retained_topics = sorted(self.retained_topics), set()
        try:
            with TestClient(self.target, WireLog(), "cleanup", self.level) as c:
                if c.connect(self.client_id("cleanup")).reason_code == 0:
                    for topic in topics:
                        c.publish(topic, b"", qos=1, retain=True)
                    c.disconnect()
        except (ClientError, OSError):
            pass  # best effort: a broker that cannot take it has failed elsewhere


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    title: str
    statements: dict[str, tuple[str, ...]]  # "3.1.1" / "5.0" -> statement IDs
    level: str  # MUST, MUST NOT, SHOULD ...
    levels: tuple[int, ...]
    needs: tuple[str, ...]  # Capabilities field names
    run: Callable[[CaseContext], None]
    module: str

    def statements_for(self, level: int) -> tuple[str, ...]:
        return self.statements.get("5.0" if level == 5 else "3.1.1", ())


REGISTRY: dict[str, Case] = {}


def case(case_id: str, title: str, *, v3: tuple[str, ...] | str = (),
         v5: tuple[str, ...] | str = (), level: str = "MUST",
         levels: tuple[int, ...] = (3, 4, 5), needs: tuple[str, ...] = ()
         ) -> Callable[[Callable[[CaseContext], None]], Callable[[CaseContext], None]]:
    """Declare a conformance case; `v3` / `v5` are the statement IDs it checks in the
    MQTT 3.1.1 / 5.0 numbering (3.1 runs use the 3.1.1 IDs)."""
    def as_tuple(value: tuple[str, ...] | str) -> tuple[str, ...]:
        return (value,) if isinstance(value, str) else value

    def register(fn: Callable[[CaseContext], None]) -> Callable[[CaseContext], None]:
        if case_id in REGISTRY:
            raise ValueError(f"case ID {case_id} declared twice")
        statements = {"3.1.1": as_tuple(v3), "5.0": as_tuple(v5)}
        runs = tuple(lv for lv in levels if statements["5.0" if lv == 5 else "3.1.1"])
        REGISTRY[case_id] = Case(case_id, title, statements, level, runs, needs, fn,
                                 fn.__module__)
        return fn

    return register


@dataclass(frozen=True, slots=True)
class Result:
    case_id: str
    title: str
    version: str  # "3.1", "3.1.1", "5.0"
    statements: tuple[str, ...]
    level: str
    outcome: Outcome
    expected: str
    observed: str
    log: WireLog
    duration: float

    def line(self) -> str:
        """One line: outcome, case, version, statements, expected and observed."""
        return (f"{self.outcome.value:5} {self.case_id} [MQTT {self.version}] "
                f"{', '.join(self.statements)}: expected {self.expected}; "
                f"observed {self.observed}")

    def render(self) -> str:
        """What a reader needs to judge a non-PASS outcome, wire log included."""
        return "\n".join([
            f"{self.outcome.value}: {self.case_id} [MQTT {self.version}] {self.title}",
            f"statements: {', '.join(self.statements)} ({self.level})",
            f"expected: {self.expected}", f"observed: {self.observed}", "wire log:",
            self.log.render()])


def run_case(c: Case, target: Target, level: int) -> Result:
    """Run one case under one protocol level and turn whatever happens into a Result."""
    ctx = CaseContext(target, level, c.id, deadline=time.monotonic() + target.case_timeout)
    started = time.monotonic()
    expected = observed = ""
    missing = [n for n in c.needs if not target.capabilities.has(n)]
    try:
        if missing:
            not_applicable(f"the broker does not offer {', '.join(missing)}")
        if level not in target.levels:
            why = dict(target.untested).get(level, "not asked for")
            not_applicable(f"MQTT {VERSION_OF_LEVEL[level]} is not tested on this target: {why}")
        c.run(ctx)
        outcome, observed = Outcome.PASS, "; ".join(ctx.notes)
    except Verdict as verdict:
        outcome, expected, observed = verdict.outcome, verdict.expected, verdict.observed
    except ClientError as exc:  # the broker did not do what the case needed: a failure
        outcome, expected, observed = Outcome.FAIL, "the behaviour this case checks", str(exc)
    except Exception as exc:  # noqa: BLE001 - anything else: the harness could not run it
        outcome, observed = Outcome.ERROR, f"{type(exc).__name__}: {exc}"
    finally:
        ctx.close_all()
    return Result(c.id, c.title, VERSION_OF_LEVEL[level], c.statements_for(level), c.level,
                  outcome, expected, observed, ctx.log, round(time.monotonic() - started, 4))


def result_json(r: Result) -> dict[str, object]:
    """One result in the JSON every report is rendered from."""
    return {"case": r.case_id, "title": r.title, "version": r.version,
            "statements": list(r.statements), "level": r.level, "outcome": r.outcome.value,
            "expected": r.expected, "observed": r.observed, "duration": r.duration,
            "wire_log": r.log.to_json()}
