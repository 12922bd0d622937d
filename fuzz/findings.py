"""Findings: one file each, deduplicated by signature, minimised, replayable with one command.

Strategy: a `FindingStore` owns a directory.  A finding whose signature is new gets a file
`<oracle>-<hash of the signature>.json` holding the finding (the case's bytes, seed, broker and
version, oracle, evidence), how often it was seen, when first and last, and the command that
replays it; a finding seen again only bumps its count (and keeps the smaller case).  Cases are
minimised by delta debugging (Zeller's ddmin): first whole frames, then bytes inside each
frame, keeping every reduction for which the caller's `still_fails` predicate (re-run the case
against the broker, ask the same oracle) holds; the number of re-runs is bounded.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from fuzz.case import Finding, FuzzCase

FINDING_SCHEMA = "mqttlab/finding-1"
T = TypeVar("T")


def file_name(finding: Finding) -> str:
    digest = hashlib.sha256(finding.signature.encode()).hexdigest()[:12]
    oracle = "".join(ch if ch.isalnum() else "-" for ch in finding.oracle)
    return f"{oracle}-{digest}.json"


class FindingStore:
    """The findings of one run (or several: a store can be reopened and added to)."""

    def __init__(self, directory: Path, replay_hint: str = "mqttlab fuzz replay") -> None:
        self.directory = directory
        self.replay_hint = replay_hint
        directory.mkdir(parents=True, exist_ok=True)

    def add(self, finding: Finding, minimised: bool = False) -> tuple[Path, bool]:
        """Record `finding`; (its file, whether its signature is new)."""
        path = self.directory / file_name(finding)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if path.exists():
            record = json.loads(path.read_text(encoding="utf-8"))
            record["count"] += 1
            record["last_seen"] = now
            old = record["finding"]["case"]
            if finding.case is not None and (old is None or finding.case.size < sum(
                    len(f) // 2 for f in old["frames"])):
                record["finding"] = finding.to_json()
                record["minimised"] = minimised
            new = False
        else:
            record = {"schema": FINDING_SCHEMA, "finding": finding.to_json(), "count": 1,
                      "first_seen": now, "last_seen": now, "minimised": minimised,
                      "replay": f"{self.replay_hint} {path} --broker {finding.broker}"}
            new = True
        path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        return path, new

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(p.read_text(encoding="utf-8"))
                for p in sorted(self.directory.glob("*.json"))]


def load_finding(path: Path) -> tuple[Finding, dict[str, Any]]:
    """The finding in a file, and the whole record; ValueError with one line if unreadable."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        data = record["finding"]
        case = None if data["case"] is None else FuzzCase.from_json(data["case"])
        finding = Finding(data["oracle"], data["signature"], case, data["broker"],
                          data["broker_version"], data["summary"], data.get("evidence", {}))
    except FileNotFoundError:
        raise ValueError(f"no finding file {path}") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a finding file: {exc}") from None
    return finding, record


def ddmin(items: Sequence[T], still_fails: Callable[[list[T]], bool],
          budget: list[int]) -> list[T]:
    """The smallest sublist (in order) ddmin finds for which `still_fails` holds; `budget`
    is a one-element counter of predicate calls left, shared across calls."""
    current = list(items)
    chunks = 2
    while len(current) >= 2 and budget[0] > 0:
        size = max(1, len(current) // chunks)
        parts = [current[i:i + size] for i in range(0, len(current), size)]
        reduced = False
        for i in range(len(parts)):  # try each complement (remove one part)
            if budget[0] <= 0:
                break
            candidate = [x for j, part in enumerate(parts) if j != i for x in part]
            budget[0] -= 1
            if candidate and still_fails(candidate):
                current, chunks, reduced = candidate, max(chunks - 1, 2), True
                break
        if not reduced:
            if size == 1:
                break
            chunks = min(len(current), chunks * 2)
    return current


def minimise(case: FuzzCase, still_fails: Callable[[FuzzCase], bool],
             max_runs: int = 200) -> FuzzCase:
    """A smaller case for which `still_fails` still holds: fewer frames, then fewer bytes per
    frame; at most `max_runs` calls of the predicate."""
    budget = [max_runs]

    def with_frames(frames: Sequence[bytes]) -> FuzzCase:
        return replace(case, frames=tuple(frames))

    frames = ddmin(case.frames, lambda fs: still_fails(with_frames(fs)), budget)
    for index in range(len(frames)):
        if budget[0] <= 0:
            break
        kept: list[int] = ddmin(list(frames[index]), _frame_predicate(
            frames, index, lambda fs: still_fails(with_frames(fs))), budget)
        frames[index] = bytes(kept)
    return with_frames(frames)


def _frame_predicate(frames: list[bytes], index: int, fails: Callable[[list[bytes]], bool]
                     ) -> Callable[[list[int]], bool]:
    """`fails` asked of `frames` with frame `index` replaced by the candidate bytes."""
    def frame_fails(data: list[int]) -> bool:
        trial = list(frames)
        trial[index] = bytes(data)
        return fails(trial)

    return frame_fails
