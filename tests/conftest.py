"""Project-wide pytest options.

`--broker-trace FILE` merges the statement traces of every reference broker the run started
and writes them to FILE, so `python -m reference_broker trace-report FILE` can tell how much of
the spec the tests made the broker exercise.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from reference_broker import trace as trace_module


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--broker-trace", metavar="FILE", default=None,
                     help="write the merged statement trace of all reference brokers started")


@pytest.fixture(scope="session", autouse=True)
def _collect_broker_traces(request: pytest.FixtureRequest) -> Iterator[None]:
    path = request.config.getoption("--broker-trace")
    if not path:
        yield
        return
    seen: list[trace_module.Trace] = []
    original = trace_module.Trace.__init__

    def recording_init(self: trace_module.Trace) -> None:
        original(self)
        seen.append(self)

    trace_module.Trace.__init__ = recording_init  # type: ignore[method-assign]
    try:
        yield
    finally:
        trace_module.Trace.__init__ = original  # type: ignore[method-assign]
        merged = trace_module.merge([t.snapshot() for t in seen])
        with open(path, "w", encoding="utf-8") as out:
            json.dump(merged, out, indent=2)
