"""Shrinking a recorded action list to the few actions that still produce a finding.

Strategy: delta debugging (fuzz.findings.ddmin) over the actions, in order: a candidate list
is replayed against the broker (each replay on a fresh run root, so runs do not interfere) and
kept when a finding with the same signature comes back.  Actions keep their step numbers, so
the result reads against the original trace.  The number of replays is bounded; a replay
costs its actions plus the drain (shorten it with `settings`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fuzz.findings import ddmin
from fuzz.stateful.actions import Action
from fuzz.stateful.run import replay_actions
from fuzz.stateful.runner import Settings


def minimise_actions(host: str, port: int, actions: Sequence[Action], signature: str, *,
                     max_runs: int = 150, settings: Settings | None = None,
                     on_step: Callable[[int, int], None] | None = None) -> list[Action]:
    """The shortest sub-list ddmin finds whose replay still gives a finding `signature`
    (the list itself when even it does not)."""
    runs = [0]

    def still_fails(candidate: list[Action]) -> bool:
        runs[0] += 1
        report = replay_actions(host, port, candidate, settings=settings)
        found = any(f.signature == signature for f in report.findings)
        if on_step is not None:
            on_step(len(candidate), int(found))
        return found

    if not still_fails(list(actions)):
        return list(actions)
    return ddmin(actions, still_fails, [max_runs - 1])
