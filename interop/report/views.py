"""What the HTML pages show, decided here so that the templates only loop and print.

Strategy: the matrix model is turned into small frozen view objects: the tables of one MQTT
family (3.1 + 3.1.1, or 5.0) with their rows grouped by spec chapter and first statement, the
malformed-input rows grouped by malformation class with per-column counts, the disagreement
rows, and one page per case whose wire logs are typed rows, cut short where they are long
(summaries, hex, event counts) and, in "problems" mode, kept only where someone will look.
Every link is relative; a cell links to `cases/<case>.html#<broker>--<version>`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import groupby
from typing import Final

from conformance.case import Outcome
from conformance.wirelog import WireEvent
from interop.report.model import (
    FAMILIES,
    PROBLEMS,
    BrokerRun,
    CaseResult,
    Column,
    Matrix,
    Row,
    RowKey,
    find_statement,
    numeric_key,
    safe_name,
    version_order,
)
from mqttspec.catalogue import Catalogue, Statement
from mqttspec.types import PacketType

LOG_MODES: Final = ("all", "problems")
SUMMARY_LIMIT: Final = 300
HEX_LIMIT: Final = 96  # bytes
LOG_LIMIT: Final = 60  # events; a longer log shows its head and tail
LOG_HEAD: Final = 40
LOG_TAIL: Final = 10
QUIET: Final = frozenset({Outcome.PASS, Outcome.NOT_APPLICABLE})


def anchor(broker: str, version: str) -> str:
    return f"{safe_name(broker)}--{version}"


def case_page(case: str) -> str:
    return f"{safe_name(case)}.html"


def row_anchor(key: RowKey) -> str:
    return f"row--{safe_name(key.case)}--{key.family}"


@dataclass(frozen=True, slots=True)
class Cell:
    result: CaseResult
    href: str


@dataclass(frozen=True, slots=True)
class MatrixRow:
    row: Row
    keys: tuple[RowKey, ...]
    anchor: str
    page: str
    cells: tuple[Cell | None, ...]
    disagree: bool
    problem: bool


@dataclass(frozen=True, slots=True)
class StatementGroup:
    statement_id: str
    statement: Statement | None
    rows: tuple[MatrixRow, ...]

    @property
    def disagree(self) -> bool:
        return any(row.disagree for row in self.rows)

    @property
    def problem(self) -> bool:
        return any(row.problem for row in self.rows)


@dataclass(frozen=True, slots=True)
class ChapterGroup:
    chapter: str
    title: str
    statements: tuple[StatementGroup, ...]

    @property
    def disagree(self) -> bool:
        return any(group.disagree for group in self.statements)

    @property
    def problem(self) -> bool:
        return any(group.problem for group in self.statements)


@dataclass(frozen=True, slots=True)
class MalformationGroup:
    name: str
    anchor: str
    rows: tuple[MatrixRow, ...]
    counts: tuple[tuple[tuple[Outcome, int], ...], ...]  # per column: (outcome, count)

    @property
    def disagree(self) -> bool:
        return any(row.disagree for row in self.rows)

    @property
    def problem(self) -> bool:
        return any(row.problem for row in self.rows)


@dataclass(frozen=True, slots=True)
class FamilyTable:
    family: str
    title: str
    columns: tuple[Column, ...]
    chapters: tuple[ChapterGroup, ...]
    malformations: tuple[MalformationGroup, ...]

    @property
    def brokers(self) -> list[tuple[BrokerRun, int]]:
        """Each broker with how many version columns it spans."""
        return [(run, len(list(cols))) for run, cols in
                groupby(self.columns, key=lambda column: column.broker)]


def family_tables(matrix: Matrix, catalogue: Catalogue) -> list[FamilyTable]:
    """A table per family with rows: one row per case, its versions side by side."""
    titles: dict[tuple[str, str], str] = {(s.version, s.section): s.title for s in catalogue}
    tables = []
    for family in FAMILIES:
        columns = tuple(matrix.columns(family))
        by_case = groupby(matrix.rows(family), key=lambda row: row.key.case)
        rows = [_matrix_row(matrix, [r.key for r in of_case], columns, "cases/", anchored=True)
                for _, of_case in by_case]
        if not rows:
            continue
        versions = sorted({c.version for c in columns} | {k.version for r in rows for k in r.keys},
                          key=version_order)
        plain = [r for r in rows if r.row.malformation is None]
        malformed = [r for r in rows if r.row.malformation is not None]
        tables.append(FamilyTable(
            family=family, title="MQTT " + " and ".join(versions), columns=columns,
            chapters=tuple(_chapters(plain, family, catalogue, titles)),
            malformations=tuple(_malformations(malformed, family, len(columns)))))
    return tables


def _matrix_row(matrix: Matrix, keys: list[RowKey], columns: Iterable[Column], prefix: str,
                anchored: bool = False) -> MatrixRow:
    """The row of `keys` (one case, its versions); a column shows its own version's cell.
    Only the matrix's own rows are `anchored` (an id that case pages link back to)."""
    first = matrix.row(keys[0])
    cells = []
    for column in columns:
        result = matrix.cells(RowKey(first.key.case, column.version)).get(column.broker.name)
        cells.append(None if result is None else Cell(
            result, f"{prefix}{case_page(result.case)}#{anchor(result.broker, result.version)}"))
    return MatrixRow(
        row=first, keys=tuple(keys), anchor=row_anchor(first.key) if anchored else "",
        page=prefix + case_page(first.key.case), cells=tuple(cells),
        disagree=any(matrix.is_disagreement(key) for key in keys),
        problem=any(r.outcome in PROBLEMS for key in keys for r in matrix.cells(key).values()))


def _chapters(rows: list[MatrixRow], family: str, catalogue: Catalogue,
              titles: Mapping[tuple[str, str], str]) -> Iterable[ChapterGroup]:
    def chapter(r: MatrixRow) -> tuple[int, ...]:
        return numeric_key(r.row.chapter)

    def statement(r: MatrixRow) -> tuple[tuple[int, ...], str]:
        return numeric_key(r.row.first_statement), r.row.first_statement

    ordered = sorted(rows, key=lambda r: (chapter(r), statement(r), r.row.key.case))
    for _, in_chapter in groupby(ordered, key=chapter):
        members = list(in_chapter)
        name = members[0].row.chapter
        groups = tuple(
            StatementGroup(sid, find_statement(catalogue, sid, family) if sid else None,
                           tuple(of_statement))
            for (_, sid), of_statement in groupby(members, key=statement))
        yield ChapterGroup(name, _chapter_title(name, family, titles), groups)


def _chapter_title(chapter: str, family: str, titles: Mapping[tuple[str, str], str]) -> str:
    if (family, chapter) in titles:
        return titles[family, chapter]
    major, _, minor = chapter.partition(".")  # chapter 3.n describes packet type n
    if major == "3" and minor.isdigit():
        try:
            return PacketType(int(minor)).name
        except ValueError:
            return ""
    return ""


def _malformations(rows: list[MatrixRow], family: str,
                   width: int) -> Iterable[MalformationGroup]:
    def name(r: MatrixRow) -> str:
        return r.row.malformation or ""

    for group, members in groupby(sorted(rows, key=lambda r: (name(r), r.row.key)), key=name):
        in_group = tuple(members)
        counts = []
        for index in range(width):
            cells = (r.cells[index] for r in in_group)
            seen = Counter(cell.result.outcome for cell in cells if cell is not None)
            counts.append(tuple((o, seen[o]) for o in Outcome if seen[o]))
        yield MalformationGroup(group, f"malformed--{family}--{safe_name(group)}", in_group,
                                tuple(counts))


@dataclass(frozen=True, slots=True)
class TotalsRow:
    run: BrokerRun
    version: str
    counts: tuple[int, ...]  # in Outcome order
    total: int


def totals_rows(matrix: Matrix) -> list[TotalsRow]:
    rows = []
    for run in matrix.ran:
        for version, counts in matrix.totals(run.name).items():
            rows.append(TotalsRow(run, version, tuple(counts[o] for o in Outcome),
                                  sum(counts.values())))
    return rows


def disagreement_groups(matrix: Matrix, catalogue: Catalogue) -> list[StatementGroup]:
    """Disagreement rows under their first statement, a column per broker: per family, the
    behaviour cases in chapter order, then the malformed-input ones."""
    def order(key: RowKey) -> tuple[str, bool, tuple[int, ...], tuple[int, ...], str, int]:
        row = matrix.row(key)
        return (key.family, row.malformation is not None, numeric_key(row.chapter),
                numeric_key(row.first_statement), key.case, version_order(key.version))

    def statement(key: RowKey) -> tuple[str, str]:
        return key.family, matrix.row(key).first_statement

    groups = []
    for (family, sid), keys in groupby(sorted(matrix.disagreements(), key=order), key=statement):
        rows = tuple(_matrix_row(matrix, [key], [Column(run, key.version) for run in matrix.ran],
                                 "cases/") for key in keys)
        groups.append(StatementGroup(
            sid, find_statement(catalogue, sid, family) if sid else None, rows))
    return groups


@dataclass(frozen=True, slots=True)
class ShownEvent:
    """A wire-log event as shown: summary and hex cut to a readable length."""

    at: float
    client: str
    kind: str
    summary: str
    hex: str
    statements: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LogView:
    head: tuple[ShownEvent, ...]
    left_out: int
    tail: tuple[ShownEvent, ...]


def log_view(events: tuple[WireEvent, ...]) -> LogView:
    if len(events) > LOG_LIMIT:
        return LogView(tuple(map(_shown, events[:LOG_HEAD])), len(events) - LOG_HEAD - LOG_TAIL,
                       tuple(map(_shown, events[-LOG_TAIL:])))
    return LogView(tuple(map(_shown, events)), 0, ())


def _shown(event: WireEvent) -> ShownEvent:
    summary = event.summary
    if len(summary) > SUMMARY_LIMIT:
        summary = summary[:SUMMARY_LIMIT] + "…"
    octets = event.hex.split()
    shown_hex = event.hex
    if len(octets) > HEX_LIMIT:
        shown_hex = " ".join(octets[:HEX_LIMIT]) + f" … ({len(octets)} bytes)"
    return ShownEvent(event.at, event.client, event.kind.value, summary, shown_hex,
                      event.statements)


@dataclass(frozen=True, slots=True)
class Section:
    """One (MQTT version, broker) section of a case page."""

    result: CaseResult
    anchor: str
    log: LogView | None  # None: left to the JSON results ("problems" mode)
    capture: str | None


@dataclass(frozen=True, slots=True)
class VersionBlock:
    """A case under one MQTT version: its statements once, then a section per broker."""

    version: str
    statements: tuple[tuple[str, Statement | None], ...]
    disagree: bool
    back: str
    sections: tuple[Section, ...]


@dataclass(frozen=True, slots=True)
class CasePage:
    case: str
    title: str
    file: str
    overview: tuple[MatrixRow, ...]
    versions: tuple[VersionBlock, ...]


def case_pages(matrix: Matrix, catalogue: Catalogue, logs: str,
               captures: Mapping[tuple[str, RowKey], str]) -> Iterable[CasePage]:
    """One page per case ID: a block per MQTT version, in it a section per broker.  With
    `logs="problems"`, a section keeps its wire log only if it is not PASS / NOT APPLICABLE
    or its row is a disagreement."""
    for case, keys in matrix.case_rows().items():
        blocks = []
        for key in keys:
            disagree = matrix.is_disagreement(key)
            sections = []
            for run in matrix.ran:
                result = matrix.cells(key).get(run.name)
                if result is None:
                    continue
                keep = logs == "all" or disagree or result.outcome not in QUIET
                capture = captures.get((run.name, key))
                sections.append(Section(
                    result=result, anchor=anchor(run.name, key.version),
                    log=log_view(result.wire_log) if keep else None,
                    capture=None if capture is None else "../" + capture))
            blocks.append(VersionBlock(
                version=key.version, disagree=disagree, back=f"../index.html#{row_anchor(key)}",
                statements=tuple((sid, find_statement(catalogue, sid, key.version))
                                 for sid in matrix.row(key).statements),
                sections=tuple(sections)))
        overview = tuple(_matrix_row(matrix, [key], [Column(run, key.version)
                                                     for run in matrix.ran], "")
                         for key in keys)
        yield CasePage(case, matrix.row(keys[0]).title, case_page(case), overview, tuple(blocks))
