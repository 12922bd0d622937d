"""Loading results JSON into the matrix model: columns, rows, disagreements, totals, errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conformance.case import Outcome
from conformance.wirelog import EventKind
from interop.report.clients import load_clients
from interop.report.model import (
    Matrix,
    ResultsError,
    RowKey,
    load_matrix,
    malformation_class,
    safe_name,
)
from tests.interop.report_support import (
    alpha_results,
    clients_document,
    document,
    result,
    write_json,
    write_sample,
)


@pytest.fixture
def matrix(tmp_path: Path) -> Matrix:
    return load_matrix(write_sample(tmp_path / "results"))


def test_runs_are_sorted_and_split_by_whether_they_ran(matrix: Matrix) -> None:
    assert [run.name for run in matrix.runs] == ["alpha", "beta", "gamma"]
    assert [run.name for run in matrix.ran] == ["alpha", "beta"]
    [gamma] = matrix.not_run
    assert gamma.status == "not available" and "--gamma PATH" in gamma.reason


def test_columns_per_family_include_refused_versions(matrix: Matrix) -> None:
    columns = [(c.broker.name, c.version, c.refused) for c in matrix.columns("3.1.1")]
    assert columns == [("alpha", "3.1", None), ("alpha", "3.1.1", None),
                       ("beta", "3.1", "CONNACK return code 0x01"), ("beta", "3.1.1", None)]
    assert [(c.broker.name, c.version) for c in matrix.columns("5.0")] == [
        ("alpha", "5.0"), ("beta", "5.0")]


def test_rows_are_typed_and_mqtt_31_sits_in_the_311_family(matrix: Matrix) -> None:
    keys = [row.key for row in matrix.rows("3.1.1")]
    assert RowKey("connect.first-packet", "3.1") in keys
    assert all(key.version in ("3.1", "3.1.1") for key in keys)
    row = matrix.row(RowKey("connect.first-packet", "5.0"))
    assert (row.chapter, row.first_statement, row.malformation) == ("3.1", "MQTT-3.1.0-1", None)
    cell = matrix.cells(RowKey("publish.delivered", "5.0"))["beta"]
    assert cell.outcome is Outcome.FAIL
    assert [e.kind for e in cell.wire_log][-2:] == [EventKind.BROKER_VIOLATION,
                                                  EventKind.CLOSED_BY_BROKER]
    assert cell.wire_log[-2].statements == ("MQTT-3.3.1-1",)


def test_disagreement_ignores_not_applicable_and_error(matrix: Matrix) -> None:
    # publish.delivered PASS/FAIL and reserved-flags-0001 PASS/FAIL disagree; qos.ordering
    # (NON-STRICT/ERROR) and reason-code-0x02 (PASS/N/A) do not; a row only alpha ran cannot
    assert matrix.disagreements() == [RowKey("malformed.connect.reserved-flags-0001", "3.1.1"),
                                      RowKey("publish.delivered", "5.0")]
    assert matrix.pair_disagreements() == {("alpha", "beta"): 2}
    assert not matrix.is_disagreement(RowKey("qos.ordering", "3.1.1"))


def test_pair_counts_with_three_brokers(tmp_path: Path) -> None:
    rows = {"a": ["PASS", "PASS"], "b": ["FAIL", "PASS"], "c": ["FAIL", "NON-STRICT"]}
    for name, outcomes in rows.items():
        write_json(tmp_path / f"{name}.json", document(name, [
            result(f"case.{i}", "5.0", o, ("MQTT-3.1.0-1",)) for i, o in enumerate(outcomes)]))
    matrix = load_matrix(tmp_path)
    assert len(matrix.disagreements()) == 2
    assert matrix.pair_disagreements() == {("a", "b"): 1, ("a", "c"): 2, ("b", "c"): 1}


def test_totals_count_outcomes_per_version(matrix: Matrix) -> None:
    totals = matrix.totals("beta")
    assert list(totals) == ["3.1.1", "5.0"]
    assert totals["3.1.1"] == {Outcome.PASS: 2, Outcome.ERROR: 1, Outcome.FAIL: 1}
    assert totals["5.0"] == {Outcome.PASS: 1, Outcome.FAIL: 1, Outcome.NOT_APPLICABLE: 1}


def test_died_broker_still_has_columns(tmp_path: Path) -> None:
    write_json(tmp_path / "d.json", document("d", alpha_results()[:2], status="died",
                                             reason="exited with signal 11"))
    matrix = load_matrix(tmp_path)
    assert [run.name for run in matrix.ran] == ["d"]
    assert [c.version for c in matrix.columns("3.1.1")] == ["3.1", "3.1.1"]


def test_a_result_goes_back_to_its_schema_shape(tmp_path: Path) -> None:
    original = alpha_results()[0]
    write_json(tmp_path / "x.json", document("x", [original]))
    [loaded] = load_matrix(tmp_path).results_of("x")
    assert loaded.to_json() == original


@pytest.mark.parametrize(("case_id", "expected"), [
    # rows of the table: their own class
    ("malformed.connect.reserved-flags-0001", "reserved-flags"),
    ("malformed.puback.reason-code-0x02", "invalid-reason-code"),
    ("malformed.connect.forbidden-property-0x12-assigned-client-identifier",
     "forbidden-property"),
    ("malformed.connect.protocol-name.overlong-slash", "ill-formed-utf8"),
    ("malformed.connect.protocol-level-255", "protocol-level"),
    # IDs the table no longer has (old results): read from the ID
    ("malformed.puback.reason-code-0x00", "reason-code"),
    ("malformed.connect.gone-class.variant", "gone-class"),
    ("connect.first-packet-must-be-connect", None),
])
def test_malformation_class(case_id: str, expected: str | None) -> None:
    assert malformation_class(case_id) == expected


def test_safe_name_keeps_ids_and_neutralises_paths() -> None:
    assert safe_name("connect.first-packet") == "connect.first-packet"
    assert safe_name("../../etc/passwd") == "_.._etc_passwd"
    assert "/" not in safe_name("a/b") and safe_name("") == "_"


def _break(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(doc: dict[str, Any]) -> None:
        doc["results"][0][field] = value
    return apply


@pytest.mark.parametrize(("damage", "message"), [
    (lambda doc: doc.update(schema="other/1"), "not a mqttlab/results-1 document"),
    (lambda doc: doc["run"]["broker"].update(status="exploded"), "unknown status 'exploded'"),
    (_break("outcome", "MAYBE"), "unknown outcome 'MAYBE'"),
    (_break("version", "4.0"), "unknown MQTT version '4.0'"),
    (_break("statements", "MQTT-3.1.0-1"), "'statements' must be a list"),
    (_break("duration", "fast"), "'duration' must be a number"),
    (lambda doc: doc["results"].append(doc["results"][0]), "is there twice"),
    (lambda doc: doc["results"][0]["wire_log"][0].update(kind="teleported"),
     "unknown kind 'teleported'"),
    (lambda doc: doc["results"][0]["wire_log"][0].update(hex="zz 10"), "'hex' is not hex"),
])
def test_a_bad_file_names_itself_and_the_field(
        tmp_path: Path, damage: Callable[[dict[str, Any]], None], message: str) -> None:
    doc = document("x", alpha_results())
    damage(doc)
    write_json(tmp_path / "x.json", doc)
    with pytest.raises(ResultsError, match="x.json") as raised:
        load_matrix(tmp_path)
    assert message in str(raised.value)


def test_unreadable_inputs(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match="no such directory"):
        load_matrix(tmp_path / "absent")
    with pytest.raises(ResultsError, match="no <broker>.json"):
        load_matrix(tmp_path)
    (tmp_path / "x.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ResultsError, match="cannot read JSON"):
        load_matrix(tmp_path)


def test_two_files_for_one_broker_are_refused(tmp_path: Path) -> None:
    write_json(tmp_path / "a.json", document("same", []))
    write_json(tmp_path / "b.json", document("same", []))
    with pytest.raises(ResultsError, match="'same' has a results file already"):
        load_matrix(tmp_path)


def test_clients_file_loads_into_its_own_matrix(tmp_path: Path) -> None:
    clients = load_clients(write_json(tmp_path / "clients.json", clients_document()))
    assert [(c.name, b.name) for c, b in clients.columns] == [("paho-mqtt", "alpha"),
                                                              ("paho-mqtt", "beta")]
    assert [p.name for p in clients.not_run] == ["mqttjs"]
    [row] = clients.rows
    beta = clients.cell(row, "paho-mqtt", "beta")
    assert beta is not None and beta.outcome is Outcome.FAIL
    assert clients.totals() == {Outcome.PASS: 1, Outcome.FAIL: 1}
    broken = clients_document()
    broken["results"][0]["outcome"] = "SO-SO"
    with pytest.raises(ResultsError, match="unknown outcome"):
        load_clients(write_json(tmp_path / "clients.json", broken))


def test_clients_json_is_not_read_as_a_broker(tmp_path: Path) -> None:
    write_sample(tmp_path)
    assert "clients" not in {run.name for run in load_matrix(tmp_path).runs}
    assert json.loads((tmp_path / "clients.json").read_text())["schema"] == "mqttlab/clients-1"
