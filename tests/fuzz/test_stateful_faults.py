"""Each invariant of the stateful mode can fail: a reference broker lacking one behaviour
(monkeypatched in this process, as conformance/faults does) makes the matching finding
appear, and only invariants of that kind are blamed where the fault is narrow."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from conformance.faults import Patcher, load_faults
from fuzz.stateful import Action, Settings, replay_actions, run_stateful
from fuzz.stateful.minimise import minimise_actions
from mqttspec import Packet, Pingreq, Publish, Unsubscribe
from reference_broker import BrokerConfig, ThreadedBroker, subscribing
from reference_broker.connection import Connection
from reference_broker.core import Core
from reference_broker.model import Delivery
from reference_broker.session import Session

FAST = Settings(timeout=1.0, takeover_timeout=1.0, drain_timeout=1.0, retained_grace=0.3,
                will_wait=3.5)


def lose_every_fifth(p: Patcher) -> None:
    """Every fifth QoS 1/2 message for a subscriber is never queued: plainly lost."""
    count = [0]

    def deliver(original: Callable[..., None], core: Core, session: Session, d: Delivery,
                now: float) -> None:
        if d.qos:
            count[0] += 1
            if count[0] % 5 == 0:
                return
        original(core, session, d, now)

    p.wrap(Core, "deliver", deliver)


def deliver_qos2_twice(p: Patcher) -> None:
    def deliver(original: Callable[..., None], core: Core, session: Session, d: Delivery,
                now: float) -> None:
        original(core, session, d, now)
        if d.qos == 2:
            original(core, session, d, now)

    p.wrap(Core, "deliver", deliver)


def ignore_pingreq(p: Patcher) -> None:
    p.incoming(lambda conn, packet: None if isinstance(packet, Pingreq) else packet)


def swap_pairs(p: Patcher) -> None:
    """A QoS 1/2 PUBLISH to a client waits for the next packet to that client, then follows
    it: two PUBLISH packets in a row leave in the wrong order."""
    held: dict[int, Publish] = {}

    def rewrite(conn: Connection, packet: Packet) -> Packet | list[Packet] | None:
        waiting = held.pop(id(conn), None)
        if isinstance(packet, Publish) and packet.qos and not packet.dup:
            if waiting is None:
                held[id(conn)] = packet
                return None  # as if sent
            return [packet, waiting]
        return packet if waiting is None else [waiting, packet]

    p.outgoing(rewrite)


def unsubscribe_ignored(p: Patcher) -> None:
    """UNSUBACK sent, the subscriptions kept."""
    def unsubscribe(original: Callable[..., None], conn: Connection, session: Session,
                    u: Unsubscribe) -> None:
        kept = dict(session.subscriptions)
        original(conn, session, u)
        for topic_filter, options in kept.items():
            if topic_filter not in session.subscriptions:
                session.subscriptions[topic_filter] = options
                conn.core.index.add(session.client_id, topic_filter, options)

    p.wrap(subscribing, "unsubscribe", unsubscribe)


def known(fault_id: str) -> Callable[[Patcher], None]:
    return load_faults()[fault_id].install


CASES: list[tuple[str, Callable[[Patcher], None], str, dict[str, Any]]] = [
    ("lost QoS 1/2", lose_every_fifth, "no-loss", {}),
    ("offline messages dropped", known("session.offline-messages-dropped"), "no-loss", {}),
    ("QoS 2 twice", deliver_qos2_twice, "qos2-no-duplicate", {}),
    ("retained forgotten", known("retain.not-stored"), "retained", {}),
    ("swapped", swap_pairs, "order", {}),
    ("no PINGRESP", ignore_pingreq, "served", {"wait": 0}),
    ("every member", known("shared.every-member-gets-it"), "shared", {}),
    ("Clean Start resumes", known("session.clean-start-resumes"), "session", {}),
    ("UNSUBSCRIBE ignored", unsubscribe_ignored, "unsolicited", {}),
    ("takeover leaves it open", known("session.takeover-leaves-old-connection-open"),
     "takeover", {}),
    ("QoS raised to the granted one", known("qos.upgraded-to-granted"), "granted-qos", {}),
]


@pytest.fixture
def patcher() -> Iterator[Patcher]:
    p = Patcher()
    try:
        yield p
    finally:
        p.undo()


@pytest.mark.parametrize("install, invariant, weights",
                         [pytest.param(i, inv, w, id=name) for name, i, inv, w in CASES])
def test_a_faulty_broker_is_caught(patcher: Patcher, install: Callable[[Patcher], None],
                                   invariant: str, weights: dict[str, float]) -> None:
    install(patcher)
    broker = ThreadedBroker(BrokerConfig()).start()
    try:
        settings = FAST if install is not ignore_pingreq else replace(
            FAST, timeout=0.2, drain_timeout=0.2)  # every barrier times out: keep it short
        report = run_stateful("127.0.0.1", broker.port, seed=4242, seconds=1.5,
                              settings=settings, weights=weights)
    finally:
        broker.stop()
    oracles = {f.oracle for f in report.findings}
    assert f"invariant:{invariant}" in oracles, "\n".join(report.summary())
    finding = next(f for f in report.findings if f.oracle == f"invariant:{invariant}")
    assert finding.case is None and finding.signature.startswith(f"invariant:{invariant}:")
    evidence = finding.evidence
    assert evidence["seed"] == 4242 and evidence["trace"] and "replay" in evidence
    assert "--seed 4242" in evidence["replay"]


def _script(*lines: dict[str, Any]) -> list[Action]:
    return [Action.from_json({"step": i, **line}) for i, line in enumerate(lines)]


WATCH = ({"kind": "connect", "slot": 0, "level": 4, "clean_start": False},
         {"kind": "subscribe", "slot": 0, "level": 4, "filters": [["w/#", 1]]})
WILL_SCRIPTS = {
    "dropped": _script(*WATCH, {"kind": "connect", "slot": 1, "level": 4,
                                "will": {"qos": 1, "retain": False}},
                       {"kind": "drop", "slot": 1, "level": 4}, {"kind": "ping", "slot": 0}),
    "disconnected": _script(*WATCH, {"kind": "connect", "slot": 1, "level": 5, "expiry": 60,
                                     "will": {"qos": 1, "retain": False}},
                            {"kind": "disconnect", "slot": 1, "level": 5},
                            {"kind": "ping", "slot": 0}),
    "resumed-within-delay": _script(
        *WATCH, {"kind": "connect", "slot": 1, "level": 5, "expiry": 60, "clean_start": False,
                 "will": {"qos": 1, "retain": False, "delay": 3}},
        {"kind": "drop", "slot": 1, "level": 5},
        {"kind": "connect", "slot": 1, "level": 5, "expiry": 60, "clean_start": False},
        {"kind": "ping", "slot": 0}),
}
WILL_FAULTS = [
    ("will.never-published", "dropped", "invariant:will:not-delivered"),
    ("will.published-after-normal-disconnect", "disconnected",
     "invariant:will:published-after-normal-disconnect"),
    ("will.delay-ignored", "resumed-within-delay", "invariant:will:"),
]


@pytest.mark.parametrize("script", sorted(WILL_SCRIPTS))
def test_will_scripts_pass_on_the_reference_broker(script: str) -> None:
    broker = ThreadedBroker(BrokerConfig()).start()
    try:
        report = replay_actions("127.0.0.1", broker.port, WILL_SCRIPTS[script], settings=FAST)
    finally:
        broker.stop()
    assert not report.findings, "\n".join(report.summary())
    assert report.checks["session"] >= 2 and report.skipped.total() == 0


@pytest.mark.parametrize("fault_id, script, signature", WILL_FAULTS)
def test_will_faults_are_caught(patcher: Patcher, fault_id: str, script: str,
                                signature: str) -> None:
    known(fault_id)(patcher)
    broker = ThreadedBroker(BrokerConfig()).start()
    try:
        report = replay_actions("127.0.0.1", broker.port, WILL_SCRIPTS[script], settings=FAST)
    finally:
        broker.stop()
    assert any(f.signature.startswith(signature) for f in report.findings), (
        "\n".join(report.summary()))


def test_a_finding_shrinks_to_its_cause(patcher: Patcher) -> None:
    """ddmin over the actions keeps the few that still lose the Will."""
    noise = _script({"kind": "connect", "slot": 2, "level": 5, "expiry": 60},
                    {"kind": "publish", "slot": 2, "level": 5, "topic": "d/a", "qos": 1})
    script = [noise[0], *WILL_SCRIPTS["dropped"], noise[1]]
    known("will.never-published")(patcher)
    broker = ThreadedBroker(BrokerConfig()).start()
    try:
        smaller = minimise_actions("127.0.0.1", broker.port, script,
                                   "invariant:will:not-delivered",
                                   settings=replace(FAST, drain_timeout=0.2, margin=0.2),
                                   max_runs=40)
    finally:
        broker.stop()
    assert [a.kind for a in smaller] == ["connect", "subscribe", "connect", "drop"]
