"""How much of the spec the suite covers, computed from the statement catalogue.

Strategy: every statement binding the server (applies_to server or both) must be checked by a
case, or carry a written reason in the catalogue why the wire cannot show it.  The numbers are
never kept by hand: they come from the catalogue and the case registry at run time, per
version and spec chapter.  The catalogue also records, per statement, the IDs of the cases
that check it (`coverage.tests`): `python -m conformance.coverage --write` rewrites them from
the registry, and a test fails when they drift apart.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from conformance.case import Case
from mqttspec.catalogue import Catalogue, Statement, load_catalogue


@dataclass
class ChapterCoverage:
    total: int = 0
    with_cases: int = 0
    untestable: int = 0
    missing: list[str] = field(default_factory=list)


def statement_cases(cases: Iterable[Case]) -> dict[tuple[str, str], list[str]]:
    """(version, statement ID) -> IDs of the cases that check it."""
    found: dict[tuple[str, str], list[str]] = {}
    for c in cases:
        for version, ids in c.statements.items():
            for sid in ids:
                found.setdefault((version, sid), []).append(c.id)
    return found


def coverage(cases: Iterable[Case], catalogue: Catalogue | None = None
             ) -> dict[str, dict[str, ChapterCoverage]]:
    """version -> chapter -> counts, over the statements binding the server."""
    by_statement = statement_cases(cases)
    out: dict[str, dict[str, ChapterCoverage]] = {}
    for s in (catalogue or load_catalogue()).binding_server():
        cov = out.setdefault(s.version, {}).setdefault(_chapter(s), ChapterCoverage())
        cov.total += 1
        if (s.version, s.id) in by_statement:
            cov.with_cases += 1
        elif s.coverage.untestable:
            cov.untestable += 1
        else:
            cov.missing.append(s.id)
    return out


def _chapter(s: Statement) -> str:
    parts = s.section.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else parts[0]


def coverage_lines(cases: Iterable[Case], per_chapter: bool = True) -> Iterator[str]:
    """What `mqttlab run` and the pytest plugin print."""
    for version, chapters in sorted(coverage(cases).items()):
        total = sum(c.total for c in chapters.values())
        tested = sum(c.with_cases for c in chapters.values())
        untestable = sum(c.untestable for c in chapters.values())
        missing = [m for c in chapters.values() for m in c.missing]
        yield (f"MQTT {version}: {tested}/{total} server statements have cases "
               f"({100 * tested / total:.1f}%), {untestable} untestable with a reason, "
               f"{len(missing)} uncovered")
        if per_chapter:
            for name, c in sorted(chapters.items(), key=lambda kv: _key(kv[0])):
                line = f"  chapter {name:5} {c.with_cases:3}/{c.total:<3}"
                if c.untestable:
                    line += f" untestable {c.untestable}"
                if c.missing:
                    line += f" uncovered: {', '.join(c.missing)}"
                yield line


def _key(chapter: str) -> list[int]:
    return [int(x) if x.isdigit() else 0 for x in chapter.split(".")]


# -- the catalogue's own record of coverage ----------------------------------------------------

CATALOGUE_FILE = Path(__file__).resolve().parents[1] / "mqttspec" / "data" / "statements.json"


def catalogue_with_cases(cases: Iterable[Case], path: Path = CATALOGUE_FILE) -> str:
    """The catalogue's JSON text with every statement's `coverage.tests` set to the IDs of the
    cases that check it (sorted), everything else unchanged."""
    by_statement = statement_cases(cases)
    entries = json.loads(path.read_text(encoding="utf-8"))
    for entry in entries:
        entry["coverage"]["tests"] = sorted(set(by_statement.get(
            (entry["version"], entry["id"]), ())))
    return json.dumps(entries, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.coverage",
                                     description="coverage of the catalogue by the suite")
    parser.add_argument("--write", action="store_true",
                        help="record each statement's cases in mqttspec/data/statements.json")
    args = parser.parse_args(argv)
    from conformance.runner import load_cases

    cases = list(load_cases().values())
    if args.write:
        CATALOGUE_FILE.write_text(catalogue_with_cases(cases), encoding="utf-8")
        print(f"wrote {CATALOGUE_FILE}")
    for line in coverage_lines(cases):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
