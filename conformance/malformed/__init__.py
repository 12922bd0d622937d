"""The malformed-input table: every way a client's bytes can break the spec, with the
reaction the spec requires and the statements it checks.

Strategy: rows are data (rows.py), generated per family of malformations by the modules
below from the spec's tables (spec_tables.py) and well-formed packet shapes (shapes.py); each
row's bytes are built per protocol level with mqttspec's raw builder, never its strict
encoder.  `ROWS` is the whole table, in a stable order, IDs unique;
conformance/cases/malformed.py registers each row as a conformance case and run.py runs it.
"""

from __future__ import annotations

from conformance.malformed import (
    connect,
    header,
    lengths,
    properties,
    reason_codes,
    state,
    strings,
    topics,
)
from conformance.malformed.rows import Expect, Malformation, Names, NotApplicable, Row, State

FAMILIES = (header, lengths, strings, properties, reason_codes, topics, connect, state)


def _all_rows() -> tuple[Row, ...]:
    rows = tuple(row for family in FAMILIES for row in family.rows())
    seen: set[str] = set()
    for row in rows:
        if row.id in seen:
            raise ValueError(f"malformed row {row.id} declared twice")
        seen.add(row.id)
    return rows


ROWS: tuple[Row, ...] = _all_rows()

__all__ = ["ROWS", "Expect", "Malformation", "Names", "NotApplicable", "Row", "State"]
