"""Run the scenarios for every client against one running broker; build the results document.

Strategy: the plan is every (client, scenario, MQTT version) the client and the broker both
speak (v5-properties, where either lacks MQTT 5.0, is one NOT APPLICABLE record instead).
Runs are independent (their own Client IDs and topic root), so they go through a thread pool;
each one is bounded by its waits and subprocess time limits.  A scenario that leaves state
every client can see (a retained message, until its clean-up) runs after the others, one
run at a time, so a broker that leaks it to unrelated clients fails that scenario only.
A run's outcome comes from how it ended: an observed line is PASS, `Fail` or a
`ClientFailure` is FAIL (the pair client x broker did not do it), `NotApplicable` /
`NotSupported` is NOT APPLICABLE, anything else (the observer could not do its part, a
program would not start) is ERROR with the traceback in the log.  The document follows the
schema "mqttlab/clients-1" the report renderer reads.
"""

from __future__ import annotations

import secrets
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from conformance.case import Outcome
from conformance.target import VERSION_OF_LEVEL, Capabilities
from interop.brokers import RunningBroker
from interop.clients.context import Context, Fail, NotApplicable
from interop.clients.model import Adapter, ClientFailure, NotSupported, ScenarioLog
from interop.clients.mosquitto import ADAPTER as MOSQUITTO
from interop.clients.mqttjs import ADAPTER as MQTTJS
from interop.clients.observer import ObserverError
from interop.clients.paho import ADAPTER as PAHO
from interop.clients.pahoc import ADAPTER as PAHO_C
from interop.clients.scenarios import SCENARIOS, Scenario

SCHEMA = "mqttlab/clients-1"
ADAPTERS: dict[str, Adapter] = {a.name: a for a in (PAHO, MOSQUITTO, PAHO_C, MQTTJS)}


class UnknownName(ValueError):
    """A client or scenario name nobody answers to; the message lists the known ones."""


def available_clients() -> dict[str, str | None]:
    """Each client's name: None when it can run here, else how to install it."""
    return {name: adapter.available() for name, adapter in ADAPTERS.items()}


def pick(names: Sequence[str] | None, known: Sequence[str], what: str) -> list[str]:
    if names is None:
        return list(known)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UnknownName(f"unknown {what} {unknown[0]!r}: choose from {', '.join(known)}")
    return [n for n in known if n in names]


def plan(broker: RunningBroker, levels: Sequence[int] | None, clients: Sequence[str],
         scenarios: Sequence[str]) -> list[tuple[Adapter, Scenario, int, str]]:
    """(client, scenario, level, reason): an empty reason means run it, otherwise the run is
    a NOT APPLICABLE record.  `levels` are those the broker accepts (None: its profile's)."""
    spoken = tuple(levels) if levels is not None else broker.levels
    work = []
    for name in clients:
        adapter = ADAPTERS[name]
        for scenario in (SCENARIOS[s] for s in scenarios):
            for level in scenario.levels:
                if level in spoken and level in adapter.levels:
                    work.append((adapter, scenario, level, ""))
                elif scenario.levels == (5,):
                    who = "the broker" if level not in spoken else adapter.name
                    work.append((adapter, scenario, level,
                                 f"{who} does not speak MQTT {VERSION_OF_LEVEL[level]}"))
    return work


def run_clients(broker: RunningBroker, levels: Sequence[int] | None = None,
                clients: Sequence[str] | None = None, scenarios: Sequence[str] | None = None,
                *, capabilities: Capabilities | None = None, timeout: float = 5.0,
                jobs: int = 8) -> list[dict[str, Any]]:
    """The result records of every available client on every scenario against `broker`
    (started and stopped by the caller).  `levels`: the protocol levels the broker accepts
    (as probed; None: what its profile says); `capabilities`: what it offers (as probed,
    e.g. read from its MQTT 5 CONNACK; None: its profile's).  Unknown names raise
    `UnknownName`."""
    chosen = pick(clients, list(ADAPTERS), "client")
    picked = pick(scenarios, list(SCENARIOS), "scenario")
    ready = [name for name in chosen if ADAPTERS[name].available() is None]
    work = plan(broker, levels, ready, picked)
    caps = capabilities or broker.capabilities or Capabilities()
    token = secrets.token_hex(3)
    results: dict[int, dict[str, Any]] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {i: pool.submit(run_one, adapter, scenario, level, broker, token, timeout,
                                  reason, caps)
                   for i, (adapter, scenario, level, reason) in enumerate(work)
                   if not scenario.alone}
        results.update((i, future.result()) for i, future in futures.items())
    for i, (adapter, scenario, level, reason) in enumerate(work):
        if scenario.alone:  # after the others, one at a time: its state cannot leak into them
            results[i] = run_one(adapter, scenario, level, broker, token, timeout, reason, caps)
    return [results[i] for i in range(len(work))]


def run_one(adapter: Adapter, scenario: Scenario, level: int, broker: RunningBroker,
            token: str = "", timeout: float = 5.0, not_applicable: str = "",
            capabilities: Capabilities | None = None) -> dict[str, Any]:
    """One scenario run; never raises."""
    log = ScenarioLog()
    run = token or secrets.token_hex(3)
    root = f"mqttlab/clients/{run}/{adapter.name}/{scenario.id}/{level}"
    outcome, observed = Outcome.NOT_APPLICABLE, not_applicable
    if not not_applicable:
        caps = capabilities or broker.capabilities or Capabilities()
        ctx = Context(adapter, broker, level, root, log, caps, timeout)
        try:
            observed = scenario.run(ctx)
            outcome = Outcome.PASS
        except (Fail, ClientFailure) as exc:
            outcome, observed = Outcome.FAIL, str(exc)
        except (NotApplicable, NotSupported) as exc:
            outcome, observed = Outcome.NOT_APPLICABLE, str(exc)
        except ObserverError as exc:
            outcome, observed = Outcome.ERROR, str(exc)
        except Exception as exc:  # noqa: BLE001 - the harness failed: recorded, not raised
            outcome, observed = Outcome.ERROR, f"{type(exc).__name__}: {exc}"
            log.add("harness", traceback.format_exc())
        finally:
            ctx.finish()
        death = broker.death()
        if death and outcome is not Outcome.PASS:
            observed += f" ({death})"
    log.add("verdict", f"{outcome.value}: {observed}")
    return {"client": adapter.name, "broker": broker.name, "version": VERSION_OF_LEVEL[level],
            "scenario": scenario.id, "title": scenario.title, "outcome": outcome.value,
            "observed": observed, "duration": round(time.monotonic() - log.started, 3),
            "log": log.lines()}


def clients_document(per_broker: dict[str, tuple[str, str, str, list[dict[str, Any]]]],
                     started: float, clients: Sequence[str] | None = None) -> dict[str, Any]:
    """The whole "mqttlab/clients-1" document: `per_broker` maps a broker's name to (its
    version, status "ran" / "not available" / "failed to start", reason, its result records);
    `started` is the run's start (time.time()); `clients` limits the clients listed."""
    parties = {}
    for name in pick(clients, list(ADAPTERS), "client"):
        adapter = ADAPTERS[name]
        missing = adapter.available()
        parties[name] = {"version": adapter.version(),
                         "status": "not available" if missing else "ran",
                         "reason": missing or ""}
    return {
        "schema": SCHEMA,
        "run": {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
                "duration": round(time.time() - started, 1)},
        "clients": parties,
        "brokers": {name: {"version": version, "status": status, "reason": reason}
                    for name, (version, status, reason, _) in per_broker.items()},
        "results": [r for (_, _, _, results) in per_broker.values() for r in results],
    }
