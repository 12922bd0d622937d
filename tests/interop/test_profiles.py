"""Broker profiles and their launcher: each profile starts its broker on 127.0.0.1, the broker
answers an MQTT 3.1.1 CONNECT with CONNACK 0 (and over WebSocket where the profile offers
it), refuses its denied topic, reports a version and stops; `launch()` turns a broker that
exits, dies, or finds its port taken into one clear line.  A broker that cannot run here is
skipped with the line its profile gives (RSMB runs only when MQTTLAB_RSMB names a binary).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import signal
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.case import Outcome
from conformance.client import BrokerClosed, TestClient
from conformance.discover import discover
from conformance.runner import load_cases, plan, run_plan
from conformance.target import Target, TargetError
from conformance.wirelog import WireLog
from interop.brokers import (
    HOST,
    BrokerFailed,
    BrokerUnavailable,
    RunningBroker,
    free_port,
    launch,
)
from interop.profiles import UnknownBroker, all_profiles, profile_for
from interop.profiles import aedes as aedes_profile
from interop.profiles import amqtt as amqtt_profile
from interop.profiles import rsmb as rsmb_profile
from mqttspec import Puback

NAMES = ["reference", "reference-process", "mosquitto", "amqtt", "aedes", "rsmb"]
VERSION = {"reference": "mqtt-conformance-lab", "reference-process": "mqtt-conformance-lab",
           "mosquitto": "mosquitto", "amqtt": "amqtt", "aedes": "aedes", "rsmb": "rsmb"}


def started(name: str, workdir: Path) -> RunningBroker:
    profile = profile_for(name)
    if (why := profile.available()) is not None:
        pytest.skip(why)
    return profile.start(workdir)


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A work directory directly under the system's temporary directory: a broker running as
    another user (mosquitto started as root) must reach it, and pytest's own are private."""
    with tempfile.TemporaryDirectory(prefix="mqttlab-profile-") as path:
        yield Path(path)


@pytest.fixture(params=NAMES)
def broker(request: pytest.FixtureRequest, workdir: Path) -> Iterator[RunningBroker]:
    running = started(request.param, workdir)
    try:
        yield running
    finally:
        running.stop()


def connack_code(target: Target, transport: str = "tcp") -> int:
    with TestClient(target, WireLog(), "profile-test", 4, transport=transport) as c:
        code = c.connect(f"mqttlab-profile-{os.getpid():x}-{transport}").reason_code
        c.disconnect()
        return code


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection((HOST, port), timeout=2).close()
    except OSError:
        return True
    return False


def test_every_profile_is_registered() -> None:
    assert set(NAMES) <= set(all_profiles())


def test_broker_accepts_a_311_connect_reports_its_version_and_stops(
        broker: RunningBroker) -> None:
    assert broker.host == HOST
    assert 4 in broker.levels
    assert connack_code(broker.target()) == 0
    assert 4 in discover(broker.target()).target.levels
    assert re.fullmatch(rf"{VERSION[broker.name]} \d+(\.\d+)+\S*", broker.version), \
        broker.version
    assert broker.version == profile_for(broker.name).version()
    assert broker.death() is None
    broker.stop()
    assert refuses_connections(broker.port)
    if broker.websocket_port is not None:
        assert refuses_connections(broker.websocket_port)
    if broker.process is not None:
        death = broker.death()
        assert death is not None and death.startswith(f"{broker.name} stopped during the run (")
    broker.stop()  # a second stop does nothing


def test_websocket_listener_takes_a_connect(broker: RunningBroker) -> None:
    if broker.websocket_port is None:
        pytest.skip(f"{broker.name} has no WebSocket listener")
    assert broker.websocket_path == "/mqtt"
    assert connack_code(broker.target(), transport="websocket") == 0


def test_denied_topic_never_reaches_a_subscriber(broker: RunningBroker) -> None:
    if broker.denied_topic is None:
        pytest.skip(f"{broker.name} has no denied topic")
    target = discover(broker.target()).target
    allowed = f"mqttlab/profiles/{broker.name}-{os.getpid():x}"
    with TestClient(target, WireLog(), "sub", 4) as sub:
        sub.connect(f"mqttlab-sub-{os.getpid():x}")
        suback = sub.subscribe(allowed, broker.denied_topic, qos=1)
        assert suback.reason_codes[0] < 0x80  # the denied one may be refused too
        with TestClient(target, WireLog(), "refused", 4) as pub:
            pub.connect(f"mqttlab-refused-{os.getpid():x}")
            with contextlib.suppress(BrokerClosed):  # MQTT-3.3.5-2: acknowledged or closed
                pub.publish(broker.denied_topic, b"refused", qos=1)
        with TestClient(target, WireLog(), "allowed", 4) as pub:
            pub.connect(f"mqttlab-allowed-{os.getpid():x}")
            assert isinstance(pub.publish(allowed, b"allowed", qos=1), Puback)
        assert sub.expect_publish().payload == b"allowed"
        assert not sub.no_publish()


def test_authorisation_cases_pass(broker: RunningBroker) -> None:
    if broker.denied_topic is None:
        pytest.skip(f"{broker.name} has no denied topic")
    target = discover(broker.target()).target
    results = run_plan(target, plan(load_cases().values(), target.levels, ["authz.*"]))
    assert results
    assert {r.outcome for r in results} == {Outcome.PASS}, [r.line() for r in results]


def test_a_broker_killed_mid_run_is_reported(workdir: Path) -> None:
    name = "mosquitto" if profile_for("mosquitto").available() is None else "amqtt"
    running = started(name, workdir)
    try:
        assert running.process is not None
        running.process.popen.send_signal(signal.SIGKILL)
        running.process.popen.wait(5)
        death = running.death()
        assert death is not None
        assert re.fullmatch(rf"{name} stopped during the run \(killed by SIGKILL\): .+", death)
        assert death.endswith(running.log_tail(1)[0])
        assert refuses_connections(running.port)
    finally:
        running.stop()


# -- launch() -----------------------------------------------------------------------------------

def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_launch_reports_a_broker_that_exits_at_once(tmp_path: Path) -> None:
    command = python("print('starting'); print('bad option on line 3'); raise SystemExit(3)")
    with pytest.raises(BrokerFailed) as info:
        launch("fake", command, tmp_path, free_port(), ready_timeout=10)
    message = str(info.value)
    assert message.startswith("fake exited (exit code 3)")
    assert message.endswith("bad option on line 3")
    assert "\n" not in message


def test_launch_reports_a_broker_that_never_listens(tmp_path: Path) -> None:
    command = python("import time; print('waiting', flush=True); time.sleep(30)")
    with pytest.raises(BrokerFailed, match=r"^fake did not listen within 1 s: waiting$"):
        launch("fake", command, tmp_path, free_port(), ready_timeout=0.6)


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port bound (not listening) by us: a broker cannot bind it, and nothing answers."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        yield int(s.getsockname()[1])


def test_launch_says_the_port_is_in_use(tmp_path: Path, taken_port: int) -> None:
    command = python(f"import socket; socket.socket().bind(({HOST!r}, {taken_port}))")
    with pytest.raises(BrokerFailed, match=rf"^fake could not listen: port {taken_port} is in "
                                           "use: .*Address already in use"):
        launch("fake", command, tmp_path, taken_port, ready_timeout=10)


def test_mosquitto_on_a_port_in_use(tmp_path: Path, taken_port: int) -> None:
    from interop.profiles.mosquitto import binary

    path = binary()
    if path is None:
        pytest.skip(str(profile_for("mosquitto").available()))
    conf = tmp_path / "taken.conf"
    conf.write_text(f"listener {taken_port} {HOST}\nlog_dest stderr\n", encoding="utf-8")
    with pytest.raises(BrokerFailed, match=rf"port {taken_port} is in use"):
        launch("mosquitto", [path, "-c", str(conf)], tmp_path, taken_port, ready_timeout=10)


def test_launch_of_a_missing_program_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(BrokerUnavailable, match=r"^fake: cannot run /nonexistent/broker: "):
        launch("fake", ["/nonexistent/broker"], tmp_path, free_port())


# -- profile_for() ------------------------------------------------------------------------------

def test_unknown_broker_lists_the_known_names() -> None:
    with pytest.raises(UnknownBroker) as info:
        profile_for("nope")
    message = str(info.value)
    assert "'nope'" in message
    for name in NAMES:
        assert name in message


def test_external_broker_must_be_on_loopback() -> None:
    with pytest.raises(TargetError, match="not a loopback address"):
        profile_for("10.0.0.1:1883")


def test_external_broker_where_nothing_answers(tmp_path: Path) -> None:
    profile = profile_for(f"127.0.0.1:{free_port()}")
    assert profile.available() is None
    with pytest.raises(BrokerUnavailable, match="^nothing answers at 127.0.0.1:"):
        profile.start(tmp_path)


# -- what each profile says when its broker cannot run -----------------------------------------

def test_amqtt_not_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    line = "amqtt is not installed: pip install amqtt==0.12.1"
    assert amqtt_profile.PROFILE.available() == line
    with pytest.raises(BrokerUnavailable, match=f"^{re.escape(line)}$"):
        amqtt_profile.PROFILE.start(tmp_path)


def test_aedes_without_node(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    line = "aedes is not installed: npm ci --prefix interop/node (needs Node.js >= 20)"
    assert aedes_profile.PROFILE.available() == line
    with pytest.raises(BrokerUnavailable):
        aedes_profile.PROFILE.start(tmp_path)


def test_rsmb_says_how_to_provide_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    profile = rsmb_profile.PROFILE
    monkeypatch.delenv("MQTTLAB_RSMB", raising=False)
    unset = profile.available()
    assert unset is not None and "\n" not in unset
    assert "--rsmb PATH" in unset and "MQTTLAB_RSMB=PATH" in unset
    with pytest.raises(BrokerUnavailable, match="^RSMB is not available: "):
        profile.start(tmp_path)
    missing = tmp_path / "missing"
    monkeypatch.setenv("MQTTLAB_RSMB", str(missing))  # read at call time
    assert profile.available() == f"RSMB binary {missing} (MQTTLAB_RSMB) does not exist"
    plain = tmp_path / "broker_mqtts"
    plain.write_text("not a program\n", encoding="utf-8")
    plain.chmod(0o644)
    monkeypatch.setenv("MQTTLAB_RSMB", str(plain))
    assert profile.available() == f"RSMB binary {plain} (MQTTLAB_RSMB) is not an executable file"
    assert profile.version() == "rsmb (not available)"


FAKE_RSMB = """\
import os, re, socket, sys, time
print("20260101 000000.000 CWNAN9999I Really Small Message Broker", flush=True)
print("20260101 000000.000 CWNAN0053I Version 9.8.7.6, Jan  1 2026 00:00:00", flush=True)
try:
    text = open(sys.argv[1]).read()
except OSError:
    print("CWNAN0000W Could not read configuration file " + sys.argv[1], flush=True)
    sys.exit(158)
port, host = re.search(r"^listener (\\d+) (\\S+)$", text, re.M).groups()
try:
    server = socket.create_server((host, int(port)))
except OSError as exc:
    print(f"CWNAN0075W Socket error {exc.errno} ({os.strerror(exc.errno)}) in bind")
    print(f"CWNAN0015W Cannot start listener on port {port}")
    for n in range(5):
        print(f"CWNAN004{n}I statistics line {n}")
    sys.exit(255)
print("CWNAN0014I MQTT protocol starting, listening on port " + port, flush=True)
time.sleep(30)
"""


def stand_in_rsmb(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "broker_mqtts"
    fake.write_text(f"#!{sys.executable}\n{FAKE_RSMB}", encoding="utf-8")
    fake.chmod(0o755)
    monkeypatch.setenv("MQTTLAB_RSMB", str(fake))


def test_rsmb_profile_with_a_stand_in_binary(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    """What RSMB is given and what is read from it, without RSMB: a stand-in that prints its
    banner and listens where the config file says."""
    stand_in_rsmb(monkeypatch, tmp_path)
    profile = rsmb_profile.PROFILE
    assert profile.available() is None
    assert profile.version() == "rsmb 9.8.7.6"
    work = tmp_path / "work"
    work.mkdir()
    running = profile.start(work)
    try:
        assert running.version == "rsmb 9.8.7.6"
        assert running.levels == (3, 4, 5)  # what it accepts is probed
        assert (work / "rsmb.cfg").read_text(encoding="utf-8").endswith(
            f"listener {running.port} {HOST}\n")
        assert running.death() is None
    finally:
        running.stop()
    assert refuses_connections(running.port)


def test_rsmb_found_on_path_by_name(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "my_rsmb"
    fake.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("MQTTLAB_RSMB", "my_rsmb")
    assert rsmb_profile.configured() == str(fake)
    assert rsmb_profile.PROFILE.available() is None



def test_aedes_script_on_a_port_in_use(tmp_path: Path, taken_port: int) -> None:
    if (why := aedes_profile.PROFILE.available()) is not None:
        pytest.skip(why)
    command = ["node", str(aedes_profile.SCRIPT), str(taken_port)]
    with pytest.raises(BrokerFailed, match=rf"^aedes could not listen: port {taken_port} is in "
                                           "use: .*EADDRINUSE"):
        launch("aedes", command, tmp_path, taken_port, ready_timeout=10)


def test_aedes_on_an_old_node(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if (why := aedes_profile.PROFILE.available()) is not None:
        pytest.skip(why)
    old = tmp_path / "node"
    old.write_text("#!/bin/sh\necho v18.19.0\n", encoding="utf-8")
    old.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert aedes_profile.PROFILE.available() == f"aedes needs Node.js >= 20; {old} is version 18"
    with pytest.raises(BrokerUnavailable, match="needs Node.js >= 20"):
        aedes_profile.PROFILE.start(tmp_path)


@pytest.mark.parametrize("binary", ["stand-in", "MQTTLAB_RSMB"])
def test_rsmb_on_a_port_in_use(binary: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                               taken_port: int) -> None:
    """RSMB's log ends with statistics: the failure names its warnings instead."""
    if binary == "stand-in":
        stand_in_rsmb(monkeypatch, tmp_path)
    elif (why := rsmb_profile.PROFILE.available()) is not None:
        pytest.skip(why)
    monkeypatch.setattr(rsmb_profile, "free_port", lambda: taken_port)
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(BrokerFailed, match=rf"^rsmb could not listen: port {taken_port} is in "
                                           r"use: .*\(Address already in use\)"):
        rsmb_profile.PROFILE.start(work)
