"""The stateful mode against the in-process reference broker: a short run is clean and does a
healthy amount of everything; the action sequence is the seed's; actions round-trip as JSON;
the command line refuses mistakes with one line."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fuzz.stateful import Action, Caps, Planner, replay_actions, run_stateful
from fuzz.stateful.__main__ import main
from fuzz.stateful.actions import WEIGHTS
from reference_broker import BrokerConfig, ThreadedBroker

CAPS = Caps((4, 5), shared=True)


@pytest.fixture
def broker() -> Iterator[ThreadedBroker]:
    b = ThreadedBroker(BrokerConfig()).start()
    try:
        yield b
    finally:
        b.stop()


def test_short_run_is_clean_and_busy(broker: ThreadedBroker) -> None:
    report = run_stateful("127.0.0.1", broker.port, seed=20240601, seconds=3.0)
    assert not report.findings, "\n".join(report.summary())
    assert report.caps is not None and report.caps.levels == (4, 5) and report.caps.shared
    assert set(report.slot_levels) == {4, 5}
    for kind in WEIGHTS:
        if kind != "wait":
            assert report.done[kind] >= 3, (kind, report.done)
    assert report.actions_done >= 300
    assert all(report.published[f"q{q}"] >= 20 for q in (0, 1, 2)), report.published
    assert report.delivered >= 100
    for invariant in ("no-loss", "qos2-no-duplicate", "retained", "served", "session",
                      "takeover", "order", "shared", "will"):
        assert report.checks[invariant] > 0, (invariant, report.checks)
    assert report.stopped == "time is up"


def test_the_seed_decides_the_actions() -> None:
    first = [Planner(7, 4, CAPS).next() for _ in range(1)]
    a, b = Planner(7, 4, CAPS), Planner(7, 4, CAPS)
    seq_a = [a.next() for _ in range(500)]
    assert seq_a == [b.next() for _ in range(500)]
    assert seq_a[0] == first[0]
    other = Planner(8, 4, CAPS)
    assert seq_a != [other.next() for _ in range(500)]
    kinds = {x.kind for x in seq_a}
    assert kinds >= set(WEIGHTS) - {"wait"}


def test_a_run_follows_its_seed_and_replays(broker: ThreadedBroker) -> None:
    runs = [run_stateful("127.0.0.1", broker.port, seed=99, seconds=30, max_actions=120)
            for _ in range(2)]
    planner = Planner(99, 4, runs[0].caps or CAPS)
    expected = [planner.next() for _ in range(120)]
    assert runs[0].actions == runs[1].actions == expected
    assert runs[0].stopped == "action count reached"
    replayed = replay_actions("127.0.0.1", broker.port, runs[0].actions)
    assert replayed.actions == expected and not replayed.findings
    assert replayed.slot_levels == runs[0].slot_levels


def test_actions_round_trip_as_json() -> None:
    planner = Planner(3, 3, CAPS)
    for _ in range(300):
        action = planner.next()
        assert Action.from_json(action.to_json()) == action
    with pytest.raises(ValueError):
        Action.from_json({"step": 1, "kind": "publish", "bogus": 1})


def test_planner_needs_two_clients_and_a_level() -> None:
    with pytest.raises(ValueError):
        Planner(1, 1, CAPS)
    with pytest.raises(ValueError):
        Planner(1, 2, Caps(()))


def test_no_shared_subscriptions_unless_offered() -> None:
    planner = Planner(5, 4, Caps((4, 5), shared=False))
    actions = [planner.next() for _ in range(2000)]
    assert not any(f.startswith("$share/") for a in actions for f, _ in a.filters)
    assert not any(a.topic.startswith("s/") for a in actions)


@pytest.mark.parametrize("argv, words", [
    (["--broker", "nonesuch"], "unknown broker"),
    (["--broker", "127.0.0.1:1", "--seconds", "1"], "nothing answers"),
    (["--broker", "reference", "--levels", "3"], "--levels"),
    (["--broker", "reference", "--clients", "1"], "--clients"),
    (["--broker", "reference", "--replay", "/nonexistent.json"], "--replay"),
])
def test_cli_mistakes_are_one_line(argv: list[str], words: str,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and "\n" not in err
