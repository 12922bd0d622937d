"""HTML pages from the matrix model, through Jinja2 templates with autoescaping on.

Strategy: one `Environment` over the package's templates/ with `autoescape=True` for every
template, so whatever a broker sent (observed strings, wire-log summaries) is escaped, and
`StrictUndefined`, so a template slip fails the render instead of printing nothing.  views.py
decides what the pages show; this module renders and writes them: index.html (the matrix),
disagreements.html, cases/<case>.html, clients.html when there are client results, and the
one shared stylesheet.  Every link is relative and nothing is loaded from elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any, Final

from jinja2 import Environment, PackageLoader, StrictUndefined

from conformance.case import Outcome
from interop.report import views
from interop.report.clients import ClientMatrix
from interop.report.model import BrokerRun, Matrix, RowKey
from mqttspec.catalogue import Catalogue

STYLESHEET: Final = "report.css"
OUTCOME_LABELS: Final[Mapping[Outcome, str]] = {
    Outcome.PASS: "PASS", Outcome.FAIL: "FAIL", Outcome.NON_STRICT: "NS",
    Outcome.NOT_APPLICABLE: "N/A", Outcome.INFO: "INFO", Outcome.ERROR: "ERR",
}
OUTCOME_MEANINGS: Final[Mapping[Outcome, str]] = {
    Outcome.PASS: "the broker did what the statement asks",
    Outcome.FAIL: "a MUST or MUST NOT broken",
    Outcome.NON_STRICT: "a SHOULD not met: still conformant",
    Outcome.NOT_APPLICABLE: "the broker declares the optional feature absent",
    Outcome.INFO: "behaviour recorded, no verdict",
    Outcome.ERROR: "the harness could not run the case",
}


def outcome_class(outcome: str) -> str:
    """'NOT APPLICABLE' -> 'o-not-applicable', the CSS class that colours a cell."""
    return "o-" + str(outcome).lower().replace(" ", "-")


def environment() -> Environment:
    env = Environment(loader=PackageLoader("interop.report", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["outcome_class"] = outcome_class
    env.filters["outcome_label"] = lambda outcome: OUTCOME_LABELS[Outcome(outcome)]
    env.globals["OUTCOMES"] = tuple(Outcome)
    env.globals["MEANINGS"] = OUTCOME_MEANINGS
    return env


@dataclass(frozen=True, slots=True)
class Provenance:
    """When and with what the report was made: shown on every page."""

    runs: tuple[BrokerRun, ...]
    made_with: str
    notes: tuple[str, ...]


def provenance(matrix: Matrix, notes: Iterable[str]) -> Provenance:
    try:
        version = metadata.version("mqtt-conformance-lab")
    except metadata.PackageNotFoundError:
        version = "(version unknown)"
    return Provenance(matrix.runs, f"mqtt-conformance-lab {version}", tuple(notes))


def write_html(matrix: Matrix, clients: ClientMatrix | None, catalogue: Catalogue,
               out_dir: Path, *, logs: str, captures: Mapping[tuple[str, RowKey], str],
               notes: Iterable[str] = ()) -> list[Path]:
    """Every page of the report; returns the files written."""
    env = environment()
    about = provenance(matrix, notes)
    common: dict[str, Any] = {"about": about, "has_clients": clients is not None}
    written = [_write(out_dir / STYLESHEET,
                      resources.files("interop.report").joinpath("templates", STYLESHEET)
                      .read_text(encoding="utf-8"))]
    written.append(_write(out_dir / "index.html", env.get_template("index.html.j2").render(
        root="", matrix=matrix, tables=views.family_tables(matrix, catalogue),
        totals=views.totals_rows(matrix), disagreement_count=len(matrix.disagreements()),
        **common)))
    written.append(_write(out_dir / "disagreements.html", env.get_template(
        "disagreements.html.j2").render(
        root="", matrix=matrix, groups=views.disagreement_groups(matrix, catalogue),
        count=len(matrix.disagreements()),
        pairs=sorted(matrix.pair_disagreements().items()), **common)))
    case_template = env.get_template("case.html.j2")
    for page in views.case_pages(matrix, catalogue, logs, captures):
        written.append(_write(out_dir / "cases" / page.file,
                              case_template.render(root="../", page=page, **common)))
    if clients is not None:
        written.append(_write(out_dir / "clients.html", env.get_template(
            "clients.html.j2").render(root="", clients=clients, **common)))
    return written


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
