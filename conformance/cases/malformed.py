"""The malformed-input table (conformance/malformed/): every row a case, per protocol level.

Each row names the statements it checks; its runner is made here, so the pytest plugin,
which collects a module's cases by the runner's module, finds them under this file.
"""

from __future__ import annotations

from collections.abc import Callable

from conformance.case import CaseContext, case
from conformance.malformed import ROWS, Row
from conformance.malformed.run import run_row


def _runner(row: Row) -> Callable[[CaseContext], None]:
    def run(ctx: CaseContext) -> None:
        run_row(row, ctx)

    run.__qualname__ = run.__name__ = row.id.replace(".", "_").replace("-", "_")
    return run


for _row in ROWS:
    case(_row.id, _row.title, v3=_row.v3, v5=_row.v5, levels=_row.levels,
         needs=_row.needs)(_runner(_row))
