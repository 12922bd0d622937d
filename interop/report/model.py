"""Results JSON -> a typed matrix model that every report is rendered from.

Strategy: each `<broker>.json` of a results directory is checked field by field into frozen
dataclasses (a `BrokerRun` and its `CaseResult`s, whose wire logs are the suite's own typed
`WireEvent`s), so templates never guess at dict shapes and a bad file fails on load with one
line naming the file and the field (`ResultsError`).  `Matrix` indexes the results by row
(case, MQTT version) and broker and answers what the reports ask: the columns, the cell of a
row, the rows where brokers disagree, the totals.  MQTT 3.1 rows belong to the 3.1.1 family:
they cite 3.1.1 statement IDs and sit beside 3.1.1 in the tables.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any, Final, TypeVar

from conformance.case import Outcome
from conformance.runner import chapter_of
from conformance.target import LEVEL_OF_VERSION
from conformance.wirelog import EventKind, WireEvent
from mqttspec.catalogue import Catalogue, Statement

RESULTS_SCHEMA: Final = "mqttlab/results-1"
CLIENTS_FILE: Final = "clients.json"
FAMILY_OF_VERSION: Final[Mapping[str, str]] = {"3.1": "3.1.1", "3.1.1": "3.1.1", "5.0": "5.0"}
FAMILIES: Final = ("3.1.1", "5.0")
RAN_STATUSES: Final = frozenset({"ran", "died"})
STATUSES: Final = frozenset({*RAN_STATUSES, "not available", "failed to start"})
NO_VERDICT: Final = frozenset({Outcome.NOT_APPLICABLE, Outcome.ERROR})
PROBLEMS: Final = frozenset({Outcome.FAIL, Outcome.ERROR})

# 'reserved-flags-0001', 'reason-code-0x02', 'forbidden-property-0x12-assigned-client-identifier'
_MALFORMATION_SUFFIX: Final = re.compile(r"-(?:[01]{4}|0x[0-9a-f]{2}(?:-[a-z0-9-]+)?)$")
_UNSAFE_NAME: Final = re.compile(r"[^A-Za-z0-9._-]")

T = TypeVar("T")


class ResultsError(ValueError):
    """A results file that cannot be read or does not follow its schema."""


def safe_name(name: str) -> str:
    """A file-name-safe form of a case or broker name (IDs are [a-z0-9.-] already)."""
    cleaned = _UNSAFE_NAME.sub("_", name).lstrip(".")
    return cleaned or "_"


def version_order(version: str) -> int:
    return LEVEL_OF_VERSION.get(version, 99)


def numeric_key(dotted: str) -> tuple[int, ...]:
    """'3.1.2' -> (3, 1, 2); 'MQTT-3.1.2-3' -> (3, 1, 2, 3); '?' sorts last."""
    return tuple(int(p) for p in re.findall(r"\d+", dotted)) or (999,)


def malformation_class(case_id: str) -> str | None:
    """The malformed-input table's class of a row ('malformed.connect.reserved-flags-0001' ->
    'reserved-flags'); for an ID the table no longer has, read from the ID; None for cases
    outside the table."""
    parts = case_id.split(".")
    if parts[0] != "malformed" or len(parts) < 3:
        return None
    known = _table_classes().get(case_id)
    return known if known is not None else _MALFORMATION_SUFFIX.sub("", parts[2])


@functools.cache
def _table_classes() -> dict[str, str]:
    from conformance.malformed import ROWS

    return {row.id: row.malformation.value for row in ROWS}


def find_statement(catalogue: Catalogue, statement_id: str, version: str) -> Statement | None:
    """The catalogue entry an ID names in the family of `version`, None if not catalogued."""
    try:
        return catalogue.get(statement_id, version=FAMILY_OF_VERSION.get(version, version))
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class BrokerRun:
    """One broker's run: who it was, whether it ran, and which MQTT versions have columns."""

    name: str
    version: str
    status: str
    reason: str
    log_tail: tuple[str, ...]
    refused: Mapping[str, str]
    started: str
    duration: float
    python: str
    mqtt_versions: tuple[str, ...]

    @property
    def ran(self) -> bool:
        return self.status in RAN_STATUSES


@dataclass(frozen=True, slots=True, order=True)
class RowKey:
    """A row of the matrix: one case under one MQTT version."""

    case: str
    version: str

    @property
    def family(self) -> str:
        return FAMILY_OF_VERSION[self.version]


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One cell: the outcome of a case under one MQTT version against one broker."""

    broker: str
    case: str
    title: str
    version: str
    statements: tuple[str, ...]
    level: str
    outcome: Outcome
    expected: str
    observed: str
    duration: float
    wire_log: tuple[WireEvent, ...]

    @property
    def key(self) -> RowKey:
        return RowKey(self.case, self.version)

    @property
    def has_bytes(self) -> bool:
        return any(event.hex for event in self.wire_log)

    def to_json(self) -> dict[str, Any]:
        """The result in its results-schema shape (what conformance/junit.py reads)."""
        return {"case": self.case, "title": self.title, "version": self.version,
                "statements": list(self.statements), "level": self.level,
                "outcome": self.outcome.value, "expected": self.expected,
                "observed": self.observed, "duration": self.duration,
                "wire_log": [event.to_json() for event in self.wire_log]}


@dataclass(frozen=True, slots=True)
class Row:
    """What a row shows beside its cells: the case's title and statements."""

    key: RowKey
    title: str
    statements: tuple[str, ...]

    @property
    def chapter(self) -> str:
        return chapter_of(self.statements)

    @property
    def first_statement(self) -> str:
        return self.statements[0] if self.statements else ""

    @property
    def malformation(self) -> str | None:
        return malformation_class(self.key.case)


@dataclass(frozen=True, slots=True)
class Column:
    """A (broker, MQTT version) column; a refused version's column carries the reason."""

    broker: BrokerRun
    version: str

    @property
    def refused(self) -> str | None:
        return self.broker.refused.get(self.version)


class Matrix:
    """Every broker's results, indexed by row and broker."""

    def __init__(self, runs: Sequence[BrokerRun], results: Iterable[CaseResult]) -> None:
        self.runs = tuple(sorted(runs, key=lambda run: run.name))
        self._cells: dict[RowKey, dict[str, CaseResult]] = {}
        self._by_broker: dict[str, list[CaseResult]] = {run.name: [] for run in self.runs}
        self._rows: dict[RowKey, Row] = {}
        for result in results:
            self._cells.setdefault(result.key, {})[result.broker] = result
            self._by_broker[result.broker].append(result)
            self._rows.setdefault(result.key, Row(result.key, result.title, result.statements))

    @property
    def ran(self) -> tuple[BrokerRun, ...]:
        return tuple(run for run in self.runs if run.ran)

    @property
    def not_run(self) -> tuple[BrokerRun, ...]:
        return tuple(run for run in self.runs if not run.ran)

    def columns(self, family: str) -> list[Column]:
        return [Column(run, v) for run in self.ran for v in run.mqtt_versions
                if FAMILY_OF_VERSION.get(v) == family]

    def rows(self, family: str | None = None) -> list[Row]:
        """Rows (of one family), by case ID then MQTT version."""
        return [self._rows[key] for key in sorted(self._rows, key=_row_order)
                if family is None or key.family == family]

    def row(self, key: RowKey) -> Row:
        return self._rows[key]

    def cells(self, key: RowKey) -> Mapping[str, CaseResult]:
        """The results of one row, by broker name."""
        return self._cells.get(key, {})

    def results_of(self, broker: str) -> list[CaseResult]:
        """One broker's results, in the order of its results file."""
        return self._by_broker.get(broker, [])

    def is_disagreement(self, key: RowKey) -> bool:
        """Brokers that ran the row reached more than one verdict (N/A and ERROR ignored)."""
        verdicts = {r.outcome for r in self.cells(key).values() if r.outcome not in NO_VERDICT}
        return len(verdicts) > 1

    def disagreements(self) -> list[RowKey]:
        return [row.key for row in self.rows() if self.is_disagreement(row.key)]

    def pair_disagreements(self) -> dict[tuple[str, str], int]:
        """For each pair of brokers that ran: rows where both gave a verdict and they differ."""
        counts = {pair: 0 for pair in combinations((run.name for run in self.ran), 2)}
        for cells in self._cells.values():
            for a, b in counts:
                first, second = cells.get(a), cells.get(b)
                if (first is not None and second is not None
                        and first.outcome not in NO_VERDICT and second.outcome not in NO_VERDICT
                        and first.outcome != second.outcome):
                    counts[a, b] += 1
        return counts

    def totals(self, broker: str) -> dict[str, Counter[Outcome]]:
        """Counts per outcome, per MQTT version, of one broker."""
        per_version: dict[str, Counter[Outcome]] = {}
        for result in self.results_of(broker):
            per_version.setdefault(result.version, Counter())[result.outcome] += 1
        return dict(sorted(per_version.items(), key=lambda item: version_order(item[0])))

    def case_rows(self) -> dict[str, list[RowKey]]:
        """Each case ID with its rows (one per MQTT version), for the detail pages."""
        by_case: dict[str, list[RowKey]] = {}
        for row in self.rows():
            by_case.setdefault(row.key.case, []).append(row.key)
        return by_case


def _row_order(key: RowKey) -> tuple[str, int]:
    return key.case, version_order(key.version)


def load_matrix(results_dir: Path) -> Matrix:
    """Every `<broker>.json` of `results_dir` (not clients.json) as one `Matrix`."""
    if not results_dir.is_dir():
        raise ResultsError(f"{results_dir}: no such directory")
    paths = sorted(p for p in results_dir.glob("*.json") if p.name != CLIENTS_FILE)
    if not paths:
        raise ResultsError(f"{results_dir}: no <broker>.json results files in it")
    runs: list[BrokerRun] = []
    results: list[CaseResult] = []
    for path in paths:
        run, found = load_results_file(path)
        if any(other.name == run.name for other in runs):
            raise ResultsError(f"{path}: broker {run.name!r} has a results file already")
        runs.append(run)
        results.extend(found)
    return Matrix(runs, results)


def read_json(path: Path, schema: str) -> Mapping[str, Any]:
    """A JSON object whose 'schema' is `schema`, or ResultsError saying what is wrong."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(f"{path}: cannot read JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("schema") != schema:
        raise ResultsError(f"{path}: not a {schema} document")
    return document


def load_results_file(path: Path) -> tuple[BrokerRun, list[CaseResult]]:
    document = read_json(path, RESULTS_SCHEMA)
    run = typed(document, "run", dict, str(path))
    broker = typed(run, "broker", dict, f"{path}: run")
    where = f"{path}: run.broker"
    name = typed(broker, "name", str, where) or path.stem
    status = typed(broker, "status", str, where)
    if status not in STATUSES:
        raise ResultsError(f"{where}: unknown status {status!r}")
    refused = {str(k): str(v) for k, v in typed(broker, "refused", dict, where).items()}
    raw_results = typed(document, "results", list, str(path))
    results = [_case_result(raw, name, f"{path}: results[{i}]")
               for i, raw in enumerate(raw_results)]
    seen: set[RowKey] = set()
    for i, found in enumerate(results):
        if found.key in seen:
            raise ResultsError(f"{path}: results[{i}]: {found.case} under MQTT {found.version} "
                               "is there twice")
        seen.add(found.key)
    versions = {r.version for r in results} | set(refused)
    return BrokerRun(
        name=name, version=typed(broker, "version", str, where), status=status,
        reason=typed(broker, "reason", str, where),
        log_tail=tuple(str(line) for line in typed(broker, "log_tail", list, where)),
        refused=refused, started=typed(run, "started", str, f"{path}: run"),
        duration=number(run, "duration", f"{path}: run"),
        python=typed(run, "python", str, f"{path}: run"),
        mqtt_versions=tuple(sorted(versions, key=version_order)),
    ), results


def _case_result(raw: object, broker: str, where: str) -> CaseResult:
    if not isinstance(raw, dict):
        raise ResultsError(f"{where}: expected an object")
    version = typed(raw, "version", str, where)
    if version not in FAMILY_OF_VERSION:
        raise ResultsError(f"{where}: unknown MQTT version {version!r}")
    events = typed(raw, "wire_log", list, where)
    return CaseResult(
        broker=broker, case=typed(raw, "case", str, where), title=typed(raw, "title", str, where),
        version=version, statements=strings(raw, "statements", where),
        level=typed(raw, "level", str, where), outcome=outcome(raw, where),
        expected=typed(raw, "expected", str, where), observed=typed(raw, "observed", str, where),
        duration=number(raw, "duration", where),
        wire_log=tuple(_event(e, f"{where}.wire_log[{i}]") for i, e in enumerate(events)),
    )


def _event(raw: object, where: str) -> WireEvent:
    if not isinstance(raw, dict):
        raise ResultsError(f"{where}: expected an object")
    kind = typed(raw, "kind", str, where)
    try:
        event_kind = EventKind(kind)
    except ValueError:
        raise ResultsError(f"{where}: unknown kind {kind!r}") from None
    hex_text = typed(raw, "hex", str, where)
    try:
        bytes.fromhex(hex_text)
    except ValueError:
        raise ResultsError(f"{where}: 'hex' is not hex bytes: {hex_text:.60}") from None
    return WireEvent(at=number(raw, "at", where), client=typed(raw, "client", str, where),
                     kind=event_kind, summary=typed(raw, "summary", str, where), hex=hex_text,
                     statements=strings(raw, "statements", where))


def typed(obj: Mapping[str, Any], key: str, kind: type[T], where: str) -> T:
    """obj[key] if it is a `kind`, else ResultsError naming the place."""
    value = obj.get(key)
    if not isinstance(value, kind):
        raise ResultsError(f"{where}: {key!r} must be a {kind.__name__}, got {value!r:.60}")
    return value


def number(obj: Mapping[str, Any], key: str, where: str) -> float:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ResultsError(f"{where}: {key!r} must be a number, got {value!r:.60}")
    return float(value)


def strings(obj: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    values = typed(obj, key, list, where)
    if not all(isinstance(v, str) for v in values):
        raise ResultsError(f"{where}: {key!r} must be a list of strings")
    return tuple(values)


def outcome(obj: Mapping[str, Any], where: str) -> Outcome:
    value = typed(obj, "outcome", str, where)
    try:
        return Outcome(value)
    except ValueError:
        raise ResultsError(f"{where}: unknown outcome {value!r}") from None
