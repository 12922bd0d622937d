"""The pytest plugin: `pytest conformance --broker HOST:PORT` runs the suite against a broker.

Strategy: the cases are not pytest test functions; the plugin collects the modules under
conformance/cases/ itself and makes one item per (case, protocol version).  An item runs its
case in `setup()` (talking to the broker is the harness's part: an exception there is a
pytest ERROR) and judges in `runtest()`: FAIL fails, NOT APPLICABLE skips, PASS / NON-STRICT /
INFO pass, the exact outcome travelling in `user_properties` so JUnit XML and pytest-xdist
carry it.  Without `--broker` the embedded reference broker is started once per process, on
127.0.0.1 and a port the OS picks, and stopped at the end.  Once collection has found cases,
the target is probed (conformance/discover.py: which versions it accepts, its MQTT 5
capabilities); an unreachable broker stops the run with one line.  The terminal summary gives
outcomes per version and chapter and the suite's coverage of the catalogue; `--results FILE`
writes every result, with its wire log, as JSON.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from conformance.case import REGISTRY, Case, Outcome, Result, result_json, run_case
from conformance.coverage import coverage_lines
from conformance.discover import discover
from conformance.runner import load_cases, summarise
from conformance.target import VERSION_OF_LEVEL, Target, TargetError, target_from_options

CASES_DIR = Path(__file__).parent / "cases"
_embedded: Any = None  # the reference broker started when no --broker is given


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mqtt-conformance", "MQTT conformance suite")
    group.addoption("--broker", metavar="HOST:PORT", default=None,
                    help="broker to test (default: the embedded reference broker)")
    group.addoption("--broker-profile", metavar="FILE", default=None,
                    help="JSON target profile: versions, capabilities, TLS, credentials")
    group.addoption("--mqtt-versions", metavar="LIST", default=None,
                    help="protocol versions to test, e.g. 3.1.1,5.0 (default: all three)")
    group.addoption("--broker-tls", action="store_true", default=False)
    group.addoption("--broker-cafile", metavar="FILE", default=None)
    group.addoption("--broker-denied-topic", default=None, metavar="TOPIC",
                    help="a topic the broker does not let the suite publish to (its ACL)")
    group.addoption("--broker-username", default=None)
    group.addoption("--broker-password", default=None)
    group.addoption("--broker-websocket-port", type=int, default=None, metavar="PORT",
                    help="the broker's MQTT over WebSocket listener (same host; without it "
                         "the WebSocket cases are NOT APPLICABLE)")
    group.addoption("--broker-websocket-path", default=None, metavar="PATH",
                    help="HTTP path of the WebSocket handshake (default /mqtt)")
    group.addoption("--wait-timeout", type=float, default=None, metavar="SECONDS",
                    help="bound on each wait for the broker (default 2)")
    group.addoption("--results", metavar="FILE", default=None,
                    help="write every result with its wire log as JSON")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    in_cases = file_path.parent == CASES_DIR and not file_path.name.startswith("_")
    if in_cases and file_path.suffix == ".py":
        return CaseModule.from_parent(parent, path=file_path)
    return None


class CaseModule(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        module = f"conformance.cases.{self.path.stem}"
        importlib.import_module(module)
        for c in REGISTRY.values():
            if c.module == module:
                for level in c.levels:
                    yield CaseItem.from_parent(self, name=f"{c.id}[{VERSION_OF_LEVEL[level]}]",
                                               case=c, level=level)




class CaseItem(pytest.Item):
    def __init__(self, *, case: Case, level: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.level = level
        self.result: Result | None = None

    def setup(self) -> None:
        self.result = run_case(self.case, target_for(self.config), self.level)
        # JSON text: JUnit XML carries it as a property readable by any tool
        self.user_properties.append(("mqtt_result", json.dumps(result_json(self.result))))
        if self.result.outcome is Outcome.ERROR:
            raise CaseProblem(self.result)

    def runtest(self) -> None:
        r = self.result
        assert r is not None
        if r.outcome is Outcome.FAIL:
            raise CaseProblem(r)
        if r.outcome is Outcome.NOT_APPLICABLE:
            pytest.skip(f"NOT APPLICABLE: {r.observed}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, CaseProblem):
            return excinfo.value.result.render()
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.name}: {self.case.title}"


class CaseProblem(Exception):
    def __init__(self, result: Result) -> None:
        super().__init__(result.outcome.value)
        self.result = result


def target_for(config: pytest.Config) -> Target:
    target: Target | None = getattr(config, "_mqtt_target", None)
    if target is None:  # items run without collection_finish (should not happen)
        target = prepare_target(config)
    return target


def pytest_collection_finish(session: pytest.Session) -> None:
    """Cases were collected: start the embedded broker if needed and probe the target."""
    if any(isinstance(item, CaseItem) for item in session.items):
        prepare_target(session.config)


def prepare_target(config: pytest.Config) -> Target:
    try:
        target = _build_target(config)
        if config.getoption("--broker") is None:
            target = _start_embedded(target)
        found = discover(target)
    except TargetError as exc:
        pytest.exit(f"MQTT conformance: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)
    config._mqtt_target = found.target  # type: ignore[attr-defined]
    config._mqtt_refused = found.refused  # type: ignore[attr-defined]
    return found.target


def _build_target(config: pytest.Config) -> Target:
    opt = config.getoption
    fields = {name: opt(f"--broker-{name.replace('_', '-')}") for name in (
        "cafile", "username", "password", "denied_topic", "websocket_port", "websocket_path")}
    return target_from_options(profile=opt("--broker-profile"), broker=opt("--broker"),
                               versions=opt("--mqtt-versions"), tls=opt("--broker-tls"),
                               timeout=opt("--wait-timeout"), **fields)


def _start_embedded(target: Target) -> Target:
    global _embedded
    from conformance.embedded import aimed_at, start_reference

    if _embedded is None:
        _embedded = start_reference()
    return aimed_at(_embedded, target)


def pytest_unconfigure(config: pytest.Config) -> None:
    global _embedded
    if _embedded is not None:
        _embedded.stop()
        _embedded = None


# -- results and the summary ----------------------------------------------------------------

_COLLECTED: list[dict[str, Any]] = []  # every result reported, also from xdist workers


def pytest_configure(config: pytest.Config) -> None:
    """A bad target is a usage error up front: one line, no test run."""
    try:
        _build_target(config)
    except TargetError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "teardown":
        _COLLECTED.extend(cast(dict[str, Any], json.loads(str(value)))
                          for key, value in report.user_properties if key == "mqtt_result")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int,
                            config: pytest.Config) -> None:
    if not _COLLECTED:
        return
    write = terminalreporter.write_line
    terminalreporter.section("MQTT conformance")
    target: Target | None = getattr(config, "_mqtt_target", None)
    if target is not None:
        where = "embedded reference broker" if config.getoption("--broker") is None else (
            f"{target.host}:{target.port}")
        versions = ", ".join(VERSION_OF_LEVEL[lv] for lv in target.levels)
        write(f"target: {where}, versions {versions}")
        for version, why in getattr(config, "_mqtt_refused", {}).items():
            write(f"  MQTT {version} not tested: {why}")
    for line in summarise(_COLLECTED):
        write(line)
    verbose = config.getoption("verbose") > 0
    for line in coverage_lines(load_cases().values(), per_chapter=verbose):  # the whole suite
        write(line)
    path = config.getoption("--results")
    if path:
        Path(path).write_text(json.dumps({"results": _COLLECTED}, indent=1), encoding="utf-8")
        write(f"results written to {path}")
