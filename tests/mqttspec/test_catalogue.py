"""The statement catalogue (mqttspec/data/statements.json) and its loader.

The source lists live outside the repository (../shared/spec/*.tsv).  Where they are present the
catalogue is compared with them entry by entry; everything else is checked against constants
embedded here (counts, and a sha256 of the sorted "version id" keys), so the suite also passes
on a machine without the shared directory.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import re
from pathlib import Path
from typing import Any

import pytest

from mqttspec.catalogue import (
    APPLIES_TO,
    DOC_URLS,
    LEVELS,
    VERSIONS,
    Catalogue,
    Coverage,
    Statement,
    load_catalogue,
    parse_catalogue,
    parse_statement,
)

SPEC_DIR = Path(__file__).resolve().parents[3] / "shared" / "spec"
TSV_FILES = {"3.1.1": "mqtt311_statements.tsv", "5.0": "mqtt5_statements.tsv"}

EXPECTED_COUNTS = {"3.1.1": 141, "5.0": 251}
EXPECTED_BINDING_SERVER = {"3.1.1": 106, "5.0": 202}
# sha256 of "\n".join(sorted(f"{version} {id}")) over all 392 statements.  IDs alone are not
# unique: 121 of them exist in both versions, so the key is (version, id).
KEYS_SHA256 = "00cb917159eb7014a3c828b006a55006fa5d4e8466188c2b520b75b462382634"
DISTINCT_IDS = 141 + 251 - 121
# A summary sharing this many consecutive words with the spec sentence counts as copied.
COPIED_RUN = 8


def _tsv_rows(version: str) -> list[dict[str, str]]:
    path = SPEC_DIR / TSV_FILES[version]
    if not path.is_file():
        pytest.skip(f"{path} not present")
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _longest_shared_run(a: str, b: str) -> int:
    left, right = _words(a), _words(b)
    best = 0
    previous = [0] * (len(right) + 1)
    for i in range(1, len(left) + 1):
        current = [0] * (len(right) + 1)
        for j in range(1, len(right) + 1):
            if left[i - 1] == right[j - 1]:
                current[j] = previous[j - 1] + 1
                best = max(best, current[j])
        previous = current
    return best


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def _good_entry() -> dict[str, Any]:
    return {
        "id": "MQTT-3.1.0-1",
        "version": "5.0",
        "section": "3.1",
        "title": "CONNECT – Connection Request",
        "level": "MUST",
        "applies_to": "client",
        "summary": "Client's first packet on a new connection is CONNECT.",
        "url": DOC_URLS["5.0"] + "#_Toc3901033",
        "coverage": {"tests": [], "untestable": None},
    }


# --- contents ---------------------------------------------------------------------------------


def test_counts_and_versions(catalogue: Catalogue) -> None:
    assert len(catalogue) == sum(EXPECTED_COUNTS.values()) == 392
    assert catalogue.versions == VERSIONS == ("3.1.1", "5.0")
    for version, count in EXPECTED_COUNTS.items():
        assert len(catalogue.for_version(version)) == count
    # spec order: every 3.1.1 entry precedes every 5.0 entry
    versions = [s.version for s in catalogue]
    assert versions == ["3.1.1"] * 141 + ["5.0"] * 251


def test_keys_match_embedded_hash(catalogue: Catalogue) -> None:
    keys = sorted(f"{s.version} {s.id}" for s in catalogue)
    assert hashlib.sha256("\n".join(keys).encode()).hexdigest() == KEYS_SHA256


def test_keys_unique(catalogue: Catalogue) -> None:
    keys = [(s.version, s.id) for s in catalogue]
    assert len(set(keys)) == len(keys)
    for version in VERSIONS:
        ids = [s.id for s in catalogue.for_version(version)]
        assert len(set(ids)) == len(ids), version
    assert len(catalogue.ids) == DISTINCT_IDS


@pytest.mark.parametrize("version", VERSIONS)
def test_matches_source_tsv(catalogue: Catalogue, version: str) -> None:
    rows = _tsv_rows(version)
    mine = list(catalogue.for_version(version))
    assert [s.id for s in mine] == [row["id"] for row in rows]
    for statement, row in zip(mine, rows, strict=True):
        assert statement.section == row["section"], statement.id
        assert statement.title == row["section_title"], statement.id


def test_binding_server_counts(catalogue: Catalogue) -> None:
    for version, expected in EXPECTED_BINDING_SERVER.items():
        bound = catalogue.for_version(version).binding_server()
        assert len(bound) == expected, version
        assert all(s.applies_to in ("server", "both") for s in bound)
    assert len(catalogue.binding_server()) == sum(EXPECTED_BINDING_SERVER.values())


@pytest.mark.parametrize("version", VERSIONS)
def test_applies_to_changes_carry_a_review_note(catalogue: Catalogue, version: str) -> None:
    rows = {row["id"]: row for row in _tsv_rows(version)}
    for statement in catalogue.for_version(version):
        changed = statement.applies_to != rows[statement.id]["applies_to"]
        assert changed == (statement.review_note is not None), statement.id


def test_levels_and_applies_to_valid(catalogue: Catalogue) -> None:
    for s in catalogue:
        assert s.level in LEVELS, s.id
        assert s.applies_to in APPLIES_TO, s.id
        assert s.version in VERSIONS, s.id


def test_summaries_are_single_short_lines(catalogue: Catalogue) -> None:
    for s in catalogue:
        assert s.summary == s.summary.strip(), s.id
        assert "\n" not in s.summary and "\r" not in s.summary, s.id
        assert 0 < len(s.summary) <= 140, s.id


@pytest.mark.parametrize("version", VERSIONS)
def test_summaries_are_not_copied_from_the_spec(catalogue: Catalogue, version: str) -> None:
    texts = {row["id"]: row["text"] for row in _tsv_rows(version)}
    for s in catalogue.for_version(version):
        text = texts[s.id]
        norm_summary = " ".join(_words(s.summary))
        assert norm_summary not in " ".join(_words(text)), s.id
        run = _longest_shared_run(s.summary, text)
        assert run < COPIED_RUN, f"{s.id}: {run} consecutive words copied from the spec"


def test_urls_point_into_the_oasis_documents(catalogue: Catalogue) -> None:
    anchors_by_section: dict[tuple[str, str], set[str]] = {}
    for s in catalogue:
        doc = DOC_URLS[s.version]
        assert s.url == doc or s.url.startswith(doc + "#_Toc"), s.id
        anchors_by_section.setdefault((s.version, s.section), set()).add(s.url)
    # one section, one link
    assert all(len(urls) == 1 for urls in anchors_by_section.values())


def test_coverage_shape(catalogue: Catalogue) -> None:
    for s in catalogue:
        assert isinstance(s.coverage, Coverage)
        assert isinstance(s.coverage.tests, tuple)
        assert s.coverage.untestable is None or s.coverage.untestable.strip()


def test_statements_are_frozen(catalogue: Catalogue) -> None:
    statement = next(iter(catalogue))
    with pytest.raises(dataclasses.FrozenInstanceError):
        statement.level = "MAY"  # type: ignore[misc]
    assert not hasattr(statement, "__dict__")


def test_load_is_cached() -> None:
    assert load_catalogue() is load_catalogue()


# --- lookup -----------------------------------------------------------------------------------


def test_get_and_contains(catalogue: Catalogue) -> None:
    only_311 = catalogue.get("MQTT-7.1.2-1")
    assert only_311.version == "3.1.1"
    first = catalogue.get("MQTT-3.1.0-1", version="5.0")
    assert (first.version, first.applies_to) == ("5.0", "client")
    assert catalogue.for_version("3.1.1").get("MQTT-3.1.0-1").version == "3.1.1"
    assert "MQTT-3.1.0-1" in catalogue
    assert first in catalogue
    assert "MQTT-9.9.9-9" not in catalogue
    assert 42 not in catalogue


def test_get_unknown_raises_key_error(catalogue: Catalogue) -> None:
    with pytest.raises(KeyError, match="MQTT-9.9.9-9"):
        catalogue.get("MQTT-9.9.9-9")
    with pytest.raises(KeyError, match="MQTT-4.8.2-1"):
        catalogue.get("MQTT-4.8.2-1", version="3.1.1")  # shared subscriptions are 5.0 only


def test_get_ambiguous_id_needs_a_version(catalogue: Catalogue) -> None:
    with pytest.raises(ValueError, match="pass version="):
        catalogue.get("MQTT-3.1.0-1")


def test_unknown_version_rejected(catalogue: Catalogue) -> None:
    with pytest.raises(ValueError, match="3.1"):
        catalogue.for_version("3.1")
    with pytest.raises(ValueError):
        catalogue.get("MQTT-3.1.0-1", version="4")


# --- validation -------------------------------------------------------------------------------


def test_good_entry_parses() -> None:
    statement = parse_statement(_good_entry())
    assert isinstance(statement, Statement)
    assert statement.coverage == Coverage(tests=(), untestable=None)
    assert statement.review_note is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"level": "MUSTN'T"}, "unknown level"),
        ({"level": "must"}, "unknown level"),
        ({"applies_to": "broker"}, "unknown applies_to"),
        ({"version": "3.1"}, "unknown version"),
        ({"id": "3.1.0-1"}, "not of the form"),
        ({"summary": "two\nlines"}, "one line"),
        ({"summary": "x" * 141}, "one line"),
        ({"summary": ""}, "non-empty"),
        ({"url": DOC_URLS["3.1.1"] + "#_Toc398718028"}, "does not point into"),
        ({"coverage": {"tests": "T-1", "untestable": None}}, "list of test IDs"),
        ({"coverage": {"tests": []}}, "exactly the keys"),
        ({"review_note": ""}, "review_note"),
        ({"text": "copied spec sentence"}, "unknown key"),
    ],
)
def test_validation_rejects_bad_entry(change: dict[str, object], message: str) -> None:
    entry = _good_entry() | change
    with pytest.raises(ValueError, match=message) as caught:
        parse_statement(entry, index=7)
    assert "index 7" in str(caught.value)
    if "id" not in change:
        assert "MQTT-3.1.0-1" in str(caught.value)


def test_validation_rejects_missing_key() -> None:
    entry = _good_entry()
    del entry["level"]
    with pytest.raises(ValueError, match=r"MQTT-3\.1\.0-1.*missing key"):
        parse_statement(entry)


def test_validation_rejects_non_object() -> None:
    with pytest.raises(ValueError, match="expected an object"):
        parse_statement(["MQTT-3.1.0-1"])
    with pytest.raises(ValueError, match="expected a JSON list"):
        parse_catalogue({"statements": []})


def test_duplicate_ids_rejected() -> None:
    with pytest.raises(ValueError, match=r"MQTT-3\.1\.0-1.*duplicate"):
        parse_catalogue([_good_entry(), _good_entry()])
    # the same ID in two versions is legitimate
    other = _good_entry() | {"version": "3.1.1", "url": DOC_URLS["3.1.1"]}
    assert len(parse_catalogue([_good_entry(), other])) == 2
