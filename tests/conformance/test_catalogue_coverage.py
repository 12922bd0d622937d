"""The catalogue's record of which cases check each statement matches the case registry, and
the suite covers at least 95% of the statements binding the server in each version."""

from __future__ import annotations

from conformance.coverage import CATALOGUE_FILE, catalogue_with_cases, coverage
from conformance.runner import load_cases


def test_catalogue_records_the_cases_of_each_statement() -> None:
    expected = catalogue_with_cases(load_cases().values())
    assert CATALOGUE_FILE.read_text(encoding="utf-8") == expected, (
        "the catalogue's coverage.tests are stale: run python -m conformance.coverage --write")


def test_at_least_95_percent_of_server_statements_have_cases() -> None:
    for version, chapters in coverage(load_cases().values()).items():
        total = sum(c.total for c in chapters.values())
        tested = sum(c.with_cases for c in chapters.values())
        missing = [m for c in chapters.values() for m in c.missing]
        assert tested / total >= 0.95, (version, tested, total, missing)
        assert not missing, f"MQTT {version}: no case and no written reason for {missing}"
