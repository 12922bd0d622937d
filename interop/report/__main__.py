"""`python -m interop.report RESULTS_DIR OUT_DIR [--logs all|problems]`: render every report.

Bad input (a missing directory, a file that is not results JSON, an output folder that cannot
be written) is one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from interop.report import LOG_MODES, ResultsError, render_reports


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m interop.report",
        description="Render the HTML matrix, summary.md, JUnit XML and packet captures "
                    "from a directory of <broker>.json results.")
    parser.add_argument("results_dir", type=Path, help="directory of <broker>.json files")
    parser.add_argument("out_dir", type=Path, help="where the report goes (created if needed)")
    parser.add_argument("--logs", choices=LOG_MODES, default="all",
                        help="'problems' keeps wire logs only where a section is not PASS "
                             "or NOT APPLICABLE, or brokers disagree (default: all)")
    args = parser.parse_args(argv)
    try:
        written = render_reports(args.results_dir, args.out_dir, logs=args.logs)
    except (ResultsError, OSError) as exc:
        print(f"interop.report: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(written)} files to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
