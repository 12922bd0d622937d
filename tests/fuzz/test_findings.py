"""Findings: deduplicated by signature, minimised by delta debugging, read back for replay."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.case import Expect, Finding, FuzzCase
from fuzz.findings import FindingStore, ddmin, load_finding, minimise


def finding(case: FuzzCase, signature: str = "reaction|reserved-flags|barrier") -> Finding:
    return Finding("reaction", signature, case, "mosquitto", "mosquitto 2.0.11",
                   "accepted reserved flags", {"ending": "barrier answered"})


def case(*frames: bytes) -> FuzzCase:
    return FuzzCase(seed=7, level=4, frames=frames, generator="malformed:reserved-flags",
                    malformation="reserved-flags", statements=("MQTT-2.2.2-2",),
                    expect=Expect.CLOSE)


def test_a_signature_seen_again_bumps_the_count_and_keeps_the_smaller_case(
        tmp_path: Path) -> None:
    store = FindingStore(tmp_path)
    first, new = store.add(finding(case(b"\xc1\x00\xc0\x00")))
    again, new_again = store.add(finding(case(b"\xc1\x00")))
    other, _ = store.add(finding(case(b"\x31\x00"), signature="reaction|other|barrier"))
    assert (new, new_again) == (True, False) and first == again and other != first
    [record_a, record_b] = sorted(store.records(), key=lambda r: r["count"])
    assert record_b["count"] == 2 and record_b["finding"]["case"]["frames"] == ["c100"]
    assert record_b["replay"] == f"mqttlab fuzz replay {first} --broker mosquitto"
    loaded, _ = load_finding(first)
    assert loaded.case == case(b"\xc1\x00") and loaded.oracle == "reaction"


def test_ddmin_finds_the_one_item_that_matters() -> None:
    items = list(range(100))
    found = ddmin(items, lambda xs: 37 in xs, [1000])
    assert found == [37]


def test_ddmin_keeps_to_its_budget() -> None:
    calls = []

    def fails(xs: list[int]) -> bool:
        calls.append(1)
        return 5 in xs and 90 in xs

    found = ddmin(list(range(100)), fails, [10])
    assert len(calls) <= 10 and 5 in found and 90 in found


def test_minimise_reduces_frames_then_bytes() -> None:
    big = case(b"\x10" * 20, b"\x00\x01\xab\x02\x03", b"\x30\x00" * 8)
    small = minimise(big, lambda c: any(b"\xab" in f for f in c.frames))
    assert small.frames == (b"\xab",)
    assert (small.seed, small.level, small.malformation) == (7, 4, "reserved-flags")


def test_an_unreadable_finding_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    with pytest.raises(ValueError, match="is not a finding file"):
        load_finding(bad)
    with pytest.raises(ValueError, match="no finding file"):
        load_finding(tmp_path / "missing.json")
