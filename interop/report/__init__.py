"""Reports rendered from results JSON: the HTML matrix, where brokers disagree, a page per
case, summary.md, JUnit XML and packet captures of the failing cells.

Strategy: the results JSON is the one source (one `<broker>.json` per broker, and an optional
clients.json); `render_reports` loads it once into the matrix model and hands that to each
renderer.  Captures are written first so the case pages link only to those that exist.  Files
that an earlier render left in the report's own folders (cases/, pcap/, junit/) and this one
did not write are removed, so a committed copy never carries stale pages.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Final

from interop.report.clients import ClientMatrix, load_clients
from interop.report.html import write_html
from interop.report.junit import write_junit
from interop.report.markdown import summary_markdown
from interop.report.model import CLIENTS_FILE, Matrix, ResultsError, RowKey, load_matrix
from interop.report.pcap import write_captures
from interop.report.views import LOG_MODES
from mqttspec.catalogue import load_catalogue

__all__ = ["LOG_MODES", "ClientMatrix", "Matrix", "ResultsError", "RowKey", "load_clients",
           "load_matrix", "render_reports"]

OWN_FOLDERS: Final = {"cases": ".html", "pcap": ".pcap", "junit": ".xml"}
_log = logging.getLogger(__name__)


def render_reports(results_dir: Path, out_dir: Path, *, logs: str = "all") -> list[Path]:
    """Render every report of `results_dir` into `out_dir`; returns the files written.

    `logs="problems"` keeps wire logs only in sections that are not PASS / NOT APPLICABLE or
    whose row is a disagreement (the others point to the JSON results).  Raises ResultsError
    for a missing directory or a file that does not follow the results schema.
    """
    if logs not in LOG_MODES:
        raise ValueError(f"logs must be one of {LOG_MODES}, not {logs!r}")
    matrix = load_matrix(results_dir)
    clients_path = results_dir / CLIENTS_FILE
    clients = load_clients(clients_path) if clients_path.exists() else None
    out_dir.mkdir(parents=True, exist_ok=True)
    captures = write_captures(matrix, out_dir)
    notes = [captures.note] if captures.note else []
    for note in notes:
        _log.warning("%s", note)
    written = [out_dir / path for path in captures.paths.values()]
    written += write_junit(matrix, out_dir)
    written += write_html(matrix, clients, load_catalogue(), out_dir, logs=logs,
                          captures={key: path.as_posix()
                                    for key, path in captures.paths.items()},
                          notes=notes)
    summary = out_dir / "summary.md"
    summary.write_text(summary_markdown(matrix, clients, notes), encoding="utf-8")
    written.append(summary)
    _remove_stale(out_dir, set(written), clients is not None)
    return written


def _remove_stale(out_dir: Path, written: set[Path], has_clients: bool) -> None:
    for folder, suffix in OWN_FOLDERS.items():
        for path in sorted((out_dir / folder).rglob(f"*{suffix}")):
            if path not in written:
                path.unlink()
    for broker_dir in (out_dir / "pcap").glob("*"):
        if broker_dir.is_dir() and not any(broker_dir.iterdir()):
            broker_dir.rmdir()
    if not has_clients:
        (out_dir / "clients.html").unlink(missing_ok=True)
