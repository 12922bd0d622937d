"""Every statement ID the broker names is a real one, of the version it is counted under."""

from __future__ import annotations

import ast
from pathlib import Path

from mqttspec.catalogue import load_catalogue
from reference_broker import core, delivery, flows, outgoing
from reference_broker.trace import Trace, coverage_lines

SOURCE = Path(__file__).resolve().parents[2] / "reference_broker"


def _strings(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value] if node.value else []
    if isinstance(node, ast.IfExp):
        return _strings(node.body) + _strings(node.orelse)
    return []


def named_ids() -> set[tuple[str, str]]:
    """(version, ID) for every ID written in a hit(...) call: positional string arguments
    are (3.1.1 ID, 5.0 ID) in that order."""
    found: set[tuple[str, str]] = set()
    for path in SOURCE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name != "hit":
                continue
            args = [a for a in node.args if _strings(a) or (
                isinstance(a, ast.Constant) and a.value == "")]
            for version, arg in zip(("3.1.1", "5.0"), args, strict=False):
                found.update((version, s) for s in _strings(arg))
    return found


def test_every_named_statement_exists() -> None:
    catalogue = load_catalogue()
    ids = named_ids()
    assert len(ids) > 100
    missing = sorted(f"{v} {i}" for v, i in ids if i not in catalogue.for_version(v).ids)
    assert missing == []


def test_trace_counts_per_version(tmp_path: Path) -> None:
    trace = Trace()
    trace.hit(4, "MQTT-3.1.0-1", "MQTT-3.1.0-2")
    trace.hit(3, "MQTT-3.1.0-1")
    trace.hit(5, "MQTT-3.1.0-1", "MQTT-3.1.0-2")
    trace.hit(5, "MQTT-3.1.0-1", "")
    trace.hit_ids(5, ("MQTT-3.3.1-4",))
    assert trace.snapshot() == {"3.1.1": {"MQTT-3.1.0-1": 2},
                                "5.0": {"MQTT-3.1.0-2": 1, "MQTT-3.3.1-4": 1}}
    trace.write(tmp_path / "t.json")
    assert '"MQTT-3.1.0-1": 2' in (tmp_path / "t.json").read_text()


def test_coverage_lines_list_missing_and_untestable_statements_apart() -> None:
    lines = coverage_lines({"3.1.1": {"MQTT-3.1.0-2": 1, "MQTT-9.9.9-9": 1}, "5.0": {}})
    v311 = [line for line in lines if not line.startswith("MQTT 5.0")][:5]
    assert v311[0].startswith("MQTT 3.1.1: 1 of ") and v311[0].endswith(" untestable")
    missing = next(line for line in lines if line.startswith("  not exercised:"))
    assert "MQTT-3.1.0-2" not in missing.split() and "MQTT-7.1.1-1" not in missing.split()
    assert any(line.startswith("  untestable") and "MQTT-7.1.1-1" in line for line in lines)
    assert "  not in the catalogue: MQTT-9.9.9-9" in lines


def test_statement_tables_name_real_statements() -> None:
    """IDs recorded from tables rather than hit(...) calls: the groups of rules recorded
    together (delivery, flows, core) and outgoing's tables."""
    catalogue = load_catalogue()
    groups = [*delivery._BUILT.values(), delivery._QUOTA_REACHED, *flows._ANSWERED.values(),
              core._NOT_RETAINED]
    for v3_ids, v5_ids in groups:
        assert v3_ids or v5_ids
        assert set(v3_ids.split()) <= catalogue.for_version("3.1.1").ids
        assert set(v5_ids.split()) <= catalogue.for_version("5.0").ids
    assert all(v3 and v5 for v3, v5 in delivery._BUILT.values())
    assert all(("MQTT-4.6.0-6" in v5.split()) != shared
               for (_, shared), (_, v5) in delivery._BUILT.items())
    for rules in outgoing._RULES.values():
        assert set(rules) <= catalogue.for_version("5.0").ids
