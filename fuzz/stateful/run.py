"""The stateful mode's entry points: a seeded run, a replay of an action list, the probe of
what the broker offers.

Strategy: `probe_caps` connects once per protocol level asked for and reads the MQTT 5 CONNACK
(Maximum QoS, Retain / Wildcard / Shared Subscription Available); the plan depends on that
and on the seed only.  `run_stateful` draws actions from the `Planner` until the time or the
action count runs out (or the broker dies); `replay_actions` re-drives a recorded list.  Both
then drain, judge, and clean up, whatever happened, and close every socket they opened.
"""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from fuzz.case import Finding
from fuzz.stateful.actions import EXACT_FILTERS, Action, Caps, Planner
from fuzz.stateful.report import StatefulReport
from fuzz.stateful.runner import Runner, Settings
from fuzz.stateful.steps import cleanup, drain, execute
from mqttspec import Connack, Connect, Disconnect, ProtocolViolation, encode
from mqttspec.decoder import Decoder

Progress = Callable[[StatefulReport], None]
Death = Callable[[], "str | None"]
COMPACT_EVERY = 2000  # actions


class BrokerUnreachable(ConnectionError):
    """Nothing accepts TCP connections at the address (one line for the user)."""


def _hello(host: str, port: int, level: int, timeout: float) -> Connack | None:
    """CONNECT at `level`; the CONNACK, or None when the broker refuses that level."""
    try:
        sock = socket.create_connection((host, port), timeout)
    except OSError as exc:
        raise BrokerUnreachable(f"nothing answers at {host}:{port}: "
                                f"{exc.strerror or exc}") from None
    decoder = Decoder(level, peer="server")
    try:
        sock.sendall(encode(Connect(client_id=f"fzcaps{secrets.token_hex(4)}", keep_alive=30,
                                    protocol_level=level)))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = sock.recv(4096)
            if not data:
                return None
            decoder.feed(data)
            packet = decoder.next_packet()
            if packet is not None:
                if isinstance(packet, Connack) and packet.reason_code == 0:
                    sock.sendall(encode(Disconnect(protocol_level=level)))
                    return packet
                return None
        return None
    except (OSError, ProtocolViolation):
        return None
    finally:
        sock.close()


def probe_caps(host: str, port: int, levels: Sequence[int], timeout: float = 5.0) -> Caps:
    """What the broker offers (BrokerUnreachable, or ValueError if no level is accepted)."""
    usable: list[int] = []
    v5: Connack | None = None
    for level in sorted(set(levels)):
        connack = _hello(host, port, level, timeout)
        if connack is not None:
            usable.append(level)
            if level == 5:
                v5 = connack
    if not usable:
        names = ", ".join({4: "3.1.1", 5: "5.0"}.get(lv, str(lv)) for lv in sorted(levels))
        raise ValueError(f"the broker at {host}:{port} accepts none of MQTT {names}")
    if v5 is None:
        return Caps(tuple(usable))
    p = v5.properties
    return Caps(tuple(usable), maximum_qos=2 if p.maximum_qos is None else p.maximum_qos,
                retain=p.retain_available != 0,
                shared=p.shared_subscription_available != 0,
                wildcards=p.wildcard_subscription_available != 0)


def run_stateful(host: str, port: int, *, seed: int, seconds: float, clients: int = 4,
                 levels: Sequence[int] = (4, 5), max_actions: int | None = None,
                 on_progress: Progress | None = None, broker: str = "",
                 broker_version: str = "", settings: Settings | None = None,
                 weights: Mapping[str, float] | None = None, death: Death | None = None
                 ) -> StatefulReport:
    """A seeded random walk of `clients` clients against the broker at host:port, bounded by
    `seconds` and `max_actions`, then drain, judge and clean up."""
    levels = tuple(lv for lv in levels if lv in (4, 5))
    if not levels:
        raise ValueError("levels must include 4 (MQTT 3.1.1) and/or 5 (MQTT 5.0)")
    caps = probe_caps(host, port, levels)
    planner = Planner(seed, clients, caps, weights)
    slot_levels = [s.level for s in planner.slots]
    report = StatefulReport(seed, broker, broker_version, caps, clients=clients,
                            slot_levels=tuple(slot_levels))
    hint = (f"python -m fuzz.stateful --broker {broker or f'{host}:{port}'} --seed {seed} "
            f"--clients {clients} --levels {','.join(map(str, levels))} --actions {{actions}}")
    return _drive(host, port, report, iter(planner.next, None), seconds, max_actions,
                  settings or Settings(), on_progress, death, hint)


def replay_actions(host: str, port: int, actions: Sequence[Action], *,
                   seed: int | None = None, broker: str = "", broker_version: str = "",
                   settings: Settings | None = None, on_progress: Progress | None = None,
                   death: Death | None = None) -> StatefulReport:
    """Re-drive a recorded action list (each slot at the level its actions name)."""
    slots = max([a.slot for a in actions] + [1]) + 1
    slot_levels = [next((a.level for a in actions if a.slot == i and a.level), 0)
                   for i in range(slots)]
    wanted = sorted({lv for lv in slot_levels if lv} | {a.level for a in actions if a.level})
    caps = probe_caps(host, port, wanted or [4])
    slot_levels = [lv if lv in caps.levels else caps.levels[0] for lv in slot_levels]
    report = StatefulReport(seed, broker, broker_version, caps, clients=slots,
                            slot_levels=tuple(slot_levels))
    return _drive(host, port, report, list(actions), float("inf"), None,
                  settings or Settings(), on_progress, death, "(replay of a recorded list)")


def _drive(host: str, port: int, report: StatefulReport, actions: Iterable[Action],
           seconds: float, max_actions: int | None, settings: Settings,
           on_progress: Progress | None, death: Death | None, hint: str) -> StatefulReport:
    assert report.caps is not None
    caps = report.caps
    report.run_id = secrets.token_hex(4)
    runner = Runner(host, port, report.run_id, list(report.slot_levels), report, settings,
                    hint)
    clock = runner.clock
    start = last_tick = clock()
    runner.deadline = start + seconds
    alive = True
    try:
        for action in actions:
            if clock() >= runner.deadline:
                report.stopped = "time is up"
                break
            if max_actions is not None and len(report.actions) >= max_actions:
                report.stopped = "action count reached"
                break
            report.actions.append(action)
            execute(runner, action)
            runner.net.poll(0)
            runner.housekeeping()
            runner.collect()
            if len(report.actions) % COMPACT_EVERY == 0:
                runner.model.compact(clock())
            if clock() - last_tick >= 1.0:
                last_tick = clock()
                report.seconds = last_tick - start
                if death is not None and (why := death()) is not None:
                    alive = False
                    report.stopped = why
                    _broker_died(runner, why)
                    break
                if on_progress is not None:
                    on_progress(report)
        else:
            report.stopped = report.stopped or "actions exhausted"
        report.seconds = clock() - start
        if alive:
            drain(runner, ("d/#", "w/#") if caps.wildcards else EXACT_FILTERS, caps.levels[0])
            if death is not None and (why := death()) is not None:
                _broker_died(runner, why)
    finally:
        try:
            if alive:
                cleanup(runner, caps.levels[0])
        finally:
            runner.net.close_all()
    return report


def _broker_died(runner: Runner, why: str) -> None:
    report = runner.report
    report.add(Finding("invariant:served", "invariant:served:broker-exited", None,
                       report.broker, report.broker_version, why,
                       {"seed": report.seed, "step": runner.step, "run_id": runner.run_id,
                        "trace": [a.to_json() for a in runner.trace],
                        "replay": runner.replay_hint.format(actions=len(report.actions))}))
