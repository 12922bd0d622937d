"""summary.md: the matrix in a few kilobytes of Markdown, sized for a CI job summary.

Strategy: totals per broker and MQTT version, how many rows the brokers disagree on (in all
and per pair), who did not run and why, one line on the client interop run, then the first
behaviour FAILs of each broker and its malformed-input FAILs counted by class.  Every string
that came from a run (observed text, reasons, versions) goes through `escape`, which cuts it
short and backslash-escapes Markdown and HTML punctuation, so a broker can neither inject
markup nor inflate the summary.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Final

from conformance.case import Outcome
from interop.report.clients import ClientMatrix
from interop.report.model import Matrix, malformation_class, safe_name

FAIL_ROWS: Final = 30
MALFORMED_CLASSES: Final = 20
TEXT_LIMIT: Final = 100
_PUNCTUATION: Final = re.compile(r"([\\`*_{}\[\]<>()#+!|~&])")


def escape(text: str, limit: int = TEXT_LIMIT) -> str:
    """One line, at most `limit` characters (then an ellipsis), markup characters escaped."""
    line = " ".join(text.split())
    if len(line) > limit:
        line = line[:limit] + "…"
    return _PUNCTUATION.sub(r"\\\1", line)


def summary_markdown(matrix: Matrix, clients: ClientMatrix | None,
                     notes: Iterable[str] = ()) -> str:
    lines = ["# MQTT conformance matrix", ""]
    runs = "; ".join(f"{escape(run.name)} ({escape(run.version) or run.status}) started "
                     f"{escape(run.started)}, Python {escape(run.python)}" for run in matrix.runs)
    lines += [f"Runs: {runs}.", ""]
    lines += ["| Broker | Broker version | MQTT | " + " | ".join(o.value for o in Outcome) + " |",
              "|---|---|---|" + "--:|" * len(Outcome)]
    for run in matrix.ran:
        flag = " (died)" if run.status == "died" else ""
        for version, counts in matrix.totals(run.name).items():
            lines.append(f"| {escape(run.name)}{flag} | {escape(run.version)} | {version} | "
                         + " | ".join(str(counts[o]) for o in Outcome) + " |")
    pairs = ", ".join(f"{escape(a)} / {escape(b)}: {n}"
                      for (a, b), n in sorted(matrix.pair_disagreements().items()))
    lines += ["", f"**{len(matrix.disagreements())}** rows (case, MQTT version) where brokers "
                  f"disagree{f' ({pairs})' if pairs else ''}; see disagreements.html.", ""]
    if matrix.not_run or any(run.status == "died" for run in matrix.runs):
        lines += ["## Brokers that did not run to the end", ""]
        lines += [f"- **{escape(run.name)}** ({run.status}): {escape(run.reason, 200)}"
                  for run in matrix.runs if run.status != "ran"]
        lines.append("")
    if clients is not None:
        totals = clients.totals()
        shown_totals = ", ".join(f"{o.value} {totals[o]}" for o in Outcome if totals[o])
        lines += [f"Client interop: {len(clients.results)} results over "
                  f"{len(clients.columns)} client/broker pairs ({shown_totals or 'none'}); "
                  "see clients.html.", ""]
    for run in matrix.ran:
        lines += _fails(matrix, run.name)
    lines += [f"> {escape(note, 200)}" for note in notes]
    return "\n".join(lines).rstrip() + "\n"


def _fails(matrix: Matrix, broker: str) -> list[str]:
    """The first behaviour FAILs one by one, then the malformed-input FAILs counted by class."""
    fails = [r for r in matrix.results_of(broker) if r.outcome is Outcome.FAIL]
    if not fails:
        return []
    behaviour = [r for r in fails if malformation_class(r.case) is None]
    malformed = Counter(malformation_class(r.case) for r in fails if r not in behaviour)
    lines = [f"## FAIL: {escape(broker)} ({len(fails)})", ""]
    lines += [f"- `{safe_name(r.case)}` MQTT {r.version} "
              f"{escape(', '.join(r.statements[:2]))}: {escape(r.observed)}"
              for r in behaviour[:FAIL_ROWS]]
    if len(behaviour) > FAIL_ROWS:
        lines.append(f"- and {len(behaviour) - FAIL_ROWS} more")
    if malformed:
        classes = ", ".join(f"{escape(str(name))} {n}"
                            for name, n in malformed.most_common(MALFORMED_CLASSES))
        more = len(malformed) - MALFORMED_CLASSES
        lines.append(f"- malformed input ({sum(malformed.values())}), by class: {classes}"
                     + (f" and {more} more classes" if more > 0 else ""))
    return [*lines, ""]
