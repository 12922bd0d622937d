"""How much of the spec the suite covers, computed from the statement catalogue.

Strategy: every statement binding the server (applies_to server or both) must be checked by a
case, or carry a written reason in the catalogue why the wire cannot show it.  The numbers are
never kept by hand: they come from the catalogue and the case registry at run time, per
version and spec chapter.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

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
