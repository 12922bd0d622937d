"""The optional client-interop results (`clients.json`) as a typed client x broker matrix.

Strategy: the same field-by-field checking as the broker results (model.py's helpers and
`ResultsError`), into frozen dataclasses.  A column is a (client library, broker) pair where
both ran; a row is a (scenario, MQTT version); parties that did not run are listed with their
reason instead of having columns.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from conformance.case import Outcome
from interop.report.model import (
    FAMILY_OF_VERSION,
    ResultsError,
    number,
    outcome,
    read_json,
    safe_name,
    typed,
    version_order,
)

CLIENTS_SCHEMA: Final = "mqttlab/clients-1"


@dataclass(frozen=True, slots=True)
class Party:
    """A client library or a broker of the client-interop run."""

    name: str
    version: str
    status: str
    reason: str

    @property
    def ran(self) -> bool:
        return self.status == "ran"


@dataclass(frozen=True, slots=True)
class ClientResult:
    client: str
    broker: str
    version: str
    scenario: str
    title: str
    outcome: Outcome
    observed: str
    duration: float
    log: tuple[str, ...]

    @property
    def anchor(self) -> str:
        return "--".join(safe_name(part) for part in
                         (self.client, self.broker, self.scenario, self.version))


@dataclass(frozen=True, slots=True)
class ClientRow:
    scenario: str
    version: str
    title: str


class ClientMatrix:
    """Client-interop results by (scenario, version) row and (client, broker) column."""

    def __init__(self, started: str, duration: float, clients: tuple[Party, ...],
                 brokers: tuple[Party, ...], results: list[ClientResult]) -> None:
        self.started = started
        self.duration = duration
        self.clients = clients
        self.brokers = brokers
        self.results = results
        self._cells = {(r.scenario, r.version, r.client, r.broker): r for r in results}

    @property
    def columns(self) -> list[tuple[Party, Party]]:
        return [(c, b) for c in self.clients if c.ran for b in self.brokers if b.ran]

    @property
    def not_run(self) -> list[Party]:
        return [p for p in (*self.clients, *self.brokers) if not p.ran]

    @property
    def rows(self) -> list[ClientRow]:
        rows = {(r.scenario, r.version): r.title for r in self.results}
        return [ClientRow(scenario, version, title) for (scenario, version), title in
                sorted(rows.items(), key=lambda i: (i[0][0], version_order(i[0][1])))]

    def cell(self, row: ClientRow, client: str, broker: str) -> ClientResult | None:
        return self._cells.get((row.scenario, row.version, client, broker))

    def totals(self) -> Counter[Outcome]:
        return Counter(r.outcome for r in self.results)


def load_clients(path: Path) -> ClientMatrix:
    document = read_json(path, CLIENTS_SCHEMA)
    run = typed(document, "run", dict, str(path))
    return ClientMatrix(
        started=typed(run, "started", str, f"{path}: run"),
        duration=number(run, "duration", f"{path}: run"),
        clients=_parties(typed(document, "clients", dict, str(path)), f"{path}: clients"),
        brokers=_parties(typed(document, "brokers", dict, str(path)), f"{path}: brokers"),
        results=[_result(raw, f"{path}: results[{i}]")
                 for i, raw in enumerate(typed(document, "results", list, str(path)))],
    )


def _parties(raw: dict[str, object], where: str) -> tuple[Party, ...]:
    parties = []
    for name, entry in sorted(raw.items()):
        if not isinstance(entry, dict):
            raise ResultsError(f"{where}.{name}: expected an object")
        parties.append(Party(name=name, version=typed(entry, "version", str, where),
                             status=typed(entry, "status", str, where),
                             reason=str(entry.get("reason", ""))))
    return tuple(parties)


def _result(raw: object, where: str) -> ClientResult:
    if not isinstance(raw, dict):
        raise ResultsError(f"{where}: expected an object")
    version = typed(raw, "version", str, where)
    if version not in FAMILY_OF_VERSION:
        raise ResultsError(f"{where}: unknown MQTT version {version!r}")
    log = typed(raw, "log", list, where)
    return ClientResult(
        client=typed(raw, "client", str, where), broker=typed(raw, "broker", str, where),
        version=version, scenario=typed(raw, "scenario", str, where),
        title=typed(raw, "title", str, where), outcome=outcome(raw, where),
        observed=typed(raw, "observed", str, where), duration=number(raw, "duration", where),
        log=tuple(str(line) for line in log),
    )
