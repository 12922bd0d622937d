"""What a run of the engine reports: counts, endings, and the cases around a broker's end.

Strategy: plain data, picklable (worker processes send it to the parent).  `RunStats.recent`
is the ring of the last cases finished, with their times on the machine-wide monotonic clock,
and `in_flight` the cases abandoned when a watcher stopped the run: together they say which
cases were on the wire when a broker died (fuzz/oracles.py ranks them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from fuzz.case import Ending, FuzzCase


@dataclass(frozen=True, slots=True)
class InFlight:
    """A case whose connection was open when the run stopped."""

    index: int
    case: FuzzCase
    state: str
    sent_at: float  # time.monotonic() of the last write on its connection (0: nothing sent)
    history: tuple[tuple[int, FuzzCase], ...] = ()  # earlier cases on the same connection


@dataclass(frozen=True, slots=True)
class Done:
    """A finished case, as the ring of recent cases keeps it (for crash attribution)."""

    index: int
    case: FuzzCase
    started: float  # time.monotonic(), as every process on the machine reads it
    ended: float
    sent_at: float  # the last write on its connection
    ending: Ending
    detail: str


@dataclass(slots=True)
class RunStats:
    started: int = 0
    finished: int = 0
    endings: Counter[Ending] = field(default_factory=Counter)
    elapsed: float = 0.0
    stopped: str = ""  # why the run ended early ("" when it ran out of cases or time)
    in_flight: list[InFlight] = field(default_factory=list)
    recent: list[Done] = field(default_factory=list)  # the last cases finished, in order
    connections: int = 0  # TCP connections opened (fewer than cases with reuse)

    @property
    def rate(self) -> float:
        return self.finished / self.elapsed if self.elapsed > 0 else 0.0


def check_bounded(cases: Iterable[FuzzCase], limit: int | None, seconds: float | None) -> None:
    """A run over an open-ended iterator must have a count or a time bound."""
    if limit is None and seconds is None and not isinstance(cases, Collection):
        raise ValueError("an unbounded run: give `limit` or `seconds` (or a list of cases)")
