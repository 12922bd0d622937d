"""The normative-statement catalogue of MQTT 3.1.1 and 5.0, as typed project data.

Strategy: the catalogue is data, not code.  `mqttspec/data/statements.json` holds one entry per
labelled statement (141 of 3.1.1, then 251 of 5.0, in spec order) with its level, whom it binds,
a one-line summary in our own words (never the spec's sentence), a link to its OASIS section and
its coverage (test IDs, or why it cannot be seen on the wire).  This module only loads, checks
and indexes that file; it never edits it.

A statement ID names a rule only within one version: 121 IDs (e.g. MQTT-3.1.0-1) exist in both
3.1.1 and 5.0 with different wording.  The unique key is therefore (version, id): look an ID up
with `get(id, version=...)` or via `for_version(...)`; `get(id)` alone works only when the ID
exists in a single version.

Every entry is validated on load (`parse_statement` / `parse_catalogue`): unknown keys,
versions, levels or applies_to values, bad summaries or URLs and duplicate (version, id) pairs
raise `ValueError` naming the offending entry.  Standard library only.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Final, Literal, cast

Version = Literal["3.1.1", "5.0"]
Level = Literal["MUST", "MUST NOT", "SHOULD", "SHOULD NOT", "MAY"]
AppliesTo = Literal["server", "client", "both"]

VERSIONS: Final[tuple[Version, ...]] = ("3.1.1", "5.0")
LEVELS: Final[tuple[Level, ...]] = ("MUST", "MUST NOT", "SHOULD", "SHOULD NOT", "MAY")
APPLIES_TO: Final[tuple[AppliesTo, ...]] = ("server", "client", "both")

#: The OASIS Standard HTML document of each version; every `url` starts with one of these.
DOC_URLS: Final[Mapping[Version, str]] = {
    "3.1.1": "https://docs.oasis-open.org/mqtt/mqtt/v3.1.1/os/mqtt-v3.1.1-os.html",
    "5.0": "https://docs.oasis-open.org/mqtt/mqtt/v5.0/os/mqtt-v5.0-os.html",
}

SUMMARY_MAX: Final = 140
REQUIRED_KEYS: Final = frozenset(
    {"id", "version", "section", "title", "level", "applies_to", "summary", "url", "coverage"}
)
OPTIONAL_KEYS: Final = frozenset({"review_note"})

_ID_RE: Final = re.compile(r"MQTT-\d+(?:\.\d+)+-\d+")
_SECTION_RE: Final = re.compile(r"\d+(?:\.\d+)*")
_DATA_PACKAGE: Final = "mqttspec"
_DATA_PATH: Final = ("data", "statements.json")


@dataclass(frozen=True, slots=True)
class Coverage:
    """How a statement is covered: conformance test IDs, or why it cannot be observed."""

    tests: tuple[str, ...] = ()
    untestable: str | None = None


@dataclass(frozen=True, slots=True)
class Statement:
    """One labelled normative statement of one protocol version."""

    id: str
    version: Version
    section: str
    title: str
    level: Level
    applies_to: AppliesTo
    summary: str
    url: str
    coverage: Coverage
    review_note: str | None = None

    @property
    def binds_server(self) -> bool:
        """True when a Server's behaviour is constrained (applies_to server or both)."""
        return self.applies_to != "client"


def _where(entry: Mapping[str, object], index: int | None) -> str:
    sid = entry.get("id")
    version = entry.get("version")
    label = f"{sid!r}" if isinstance(sid, str) else "<no id>"
    if isinstance(version, str):
        label += f" ({version})"
    return f"statement {label}" + ("" if index is None else f" at index {index}")


def _text(entry: Mapping[str, object], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: {key!r} must be a non-empty string, got {value!r}")
    return value


def _choice(value: str, allowed: tuple[str, ...], key: str, where: str) -> str:
    if value not in allowed:
        raise ValueError(f"{where}: unknown {key} {value!r} (expected one of {allowed})")
    return value


def _coverage(raw: object, where: str) -> Coverage:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: 'coverage' must be an object, got {raw!r}")
    extra = set(raw) - {"tests", "untestable"}
    if extra or "tests" not in raw or "untestable" not in raw:
        raise ValueError(f"{where}: 'coverage' must have exactly the keys 'tests' and 'untestable'")
    tests = raw["tests"]
    if not isinstance(tests, list) or not all(isinstance(t, str) and t for t in tests):
        raise ValueError(f"{where}: coverage 'tests' must be a list of test IDs, got {tests!r}")
    if len(set(tests)) != len(tests):
        raise ValueError(f"{where}: coverage 'tests' lists a test ID twice")
    untestable = raw["untestable"]
    if untestable is not None and (not isinstance(untestable, str) or not untestable.strip()):
        raise ValueError(
            f"{where}: coverage 'untestable' must be null or a reason, got {untestable!r}"
        )
    return Coverage(tests=tuple(cast(list[str], tests)), untestable=untestable)


def parse_statement(entry: object, index: int | None = None) -> Statement:
    """Validate one JSON entry and build its `Statement`; ValueError names the bad entry."""
    if not isinstance(entry, Mapping):
        where = "statement" + ("" if index is None else f" at index {index}")
        raise ValueError(f"{where}: expected an object, got {type(entry).__name__}")
    fields = cast(Mapping[str, object], entry)
    where = _where(fields, index)
    keys = set(fields)
    missing = REQUIRED_KEYS - keys
    unknown = keys - REQUIRED_KEYS - OPTIONAL_KEYS
    if missing:
        raise ValueError(f"{where}: missing key(s) {sorted(missing)}")
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}")

    sid = _text(fields, "id", where)
    if not _ID_RE.fullmatch(sid):
        raise ValueError(f"{where}: id {sid!r} is not of the form MQTT-x.y.z-n")
    version = cast(Version, _choice(_text(fields, "version", where), VERSIONS, "version", where))
    section = _text(fields, "section", where)
    if not _SECTION_RE.fullmatch(section):
        raise ValueError(f"{where}: section {section!r} is not a dotted section number")
    level = cast(Level, _choice(_text(fields, "level", where), LEVELS, "level", where))
    applies_to = cast(
        AppliesTo, _choice(_text(fields, "applies_to", where), APPLIES_TO, "applies_to", where)
    )
    summary = _text(fields, "summary", where)
    if "\n" in summary or "\r" in summary or len(summary) > SUMMARY_MAX:
        raise ValueError(f"{where}: summary must be one line of at most {SUMMARY_MAX} chars")
    url = _text(fields, "url", where)
    doc = DOC_URLS[version]
    if url != doc and not url.startswith(doc + "#"):
        raise ValueError(f"{where}: url {url!r} does not point into {doc}")
    review_note = fields.get("review_note")
    if review_note is not None and (not isinstance(review_note, str) or not review_note.strip()):
        raise ValueError(f"{where}: 'review_note' must be a non-empty string when present")
    return Statement(
        id=sid,
        version=version,
        section=section,
        title=_text(fields, "title", where),
        level=level,
        applies_to=applies_to,
        summary=summary,
        url=url,
        coverage=_coverage(fields["coverage"], where),
        review_note=review_note,
    )


def parse_catalogue(raw: object) -> Catalogue:
    """Validate the whole decoded JSON document (a list of entries) into a `Catalogue`."""
    if not isinstance(raw, list):
        raise ValueError(f"catalogue: expected a JSON list, got {type(raw).__name__}")
    return Catalogue(parse_statement(entry, index) for index, entry in enumerate(raw))


class Catalogue:
    """An ordered, immutable set of statements keyed by (version, id)."""

    __slots__ = ("_statements", "_by_key", "_by_id")

    def __init__(self, statements: Iterable[Statement]) -> None:
        ordered = tuple(statements)
        by_key: dict[tuple[str, str], Statement] = {}
        by_id: dict[str, list[Statement]] = {}
        for statement in ordered:
            key = (statement.version, statement.id)
            if key in by_key:
                raise ValueError(
                    f"statement {statement.id!r} ({statement.version}): duplicate ID "
                    f"within version {statement.version}"
                )
            by_key[key] = statement
            by_id.setdefault(statement.id, []).append(statement)
        self._statements = ordered
        self._by_key = by_key
        self._by_id = {sid: tuple(found) for sid, found in by_id.items()}

    def __len__(self) -> int:
        return len(self._statements)

    def __iter__(self) -> Iterator[Statement]:
        return iter(self._statements)

    def __contains__(self, item: object) -> bool:
        """An ID string (in any version) or a `Statement` of this catalogue."""
        if isinstance(item, Statement):
            return self._by_key.get((item.version, item.id)) == item
        return isinstance(item, str) and item in self._by_id

    def __repr__(self) -> str:
        return f"<Catalogue of {len(self)} statements, versions {self.versions}>"

    @property
    def versions(self) -> tuple[Version, ...]:
        """The protocol versions present, in catalogue order."""
        seen: dict[Version, None] = {}
        for statement in self._statements:
            seen.setdefault(statement.version)
        return tuple(seen)

    @property
    def ids(self) -> frozenset[str]:
        """Distinct statement IDs over all versions (fewer than len(): IDs repeat)."""
        return frozenset(self._by_id)

    def get(self, statement_id: str, version: str | None = None) -> Statement:
        """The statement with this ID (in `version`, if given).

        KeyError if the ID is unknown (in that version); ValueError if `version` is omitted and
        the ID exists in more than one version.
        """
        if version is not None:
            _check_version(version)
            found = self._by_key.get((version, statement_id))
            if found is None:
                raise KeyError(f"unknown statement ID {statement_id!r} in MQTT {version}")
            return found
        matches = self._by_id.get(statement_id)
        if not matches:
            raise KeyError(f"unknown statement ID {statement_id!r}")
        if len(matches) > 1:
            versions = ", ".join(s.version for s in matches)
            raise ValueError(
                f"statement ID {statement_id!r} exists in MQTT {versions}; pass version="
            )
        return matches[0]

    def for_version(self, version: str) -> Catalogue:
        """The statements of one version ("3.1.1" or "5.0"), as a catalogue of its own."""
        _check_version(version)
        return Catalogue(s for s in self._statements if s.version == version)

    def binding_server(self) -> Catalogue:
        """The statements that constrain a Server (applies_to "server" or "both")."""
        return Catalogue(s for s in self._statements if s.binds_server)


def _check_version(version: str) -> None:
    if version not in VERSIONS:
        raise ValueError(f"unknown MQTT version {version!r} (expected one of {VERSIONS})")


@functools.cache
def load_catalogue() -> Catalogue:
    """Load and validate the packaged catalogue (read once per process)."""
    resource = resources.files(_DATA_PACKAGE)
    for part in _DATA_PATH:
        resource = resource.joinpath(part)
    return parse_catalogue(json.loads(resource.read_text(encoding="utf-8")))
