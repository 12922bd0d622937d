"""IBM's Really Small Message Broker (RSMB, Eclipse mosquitto.rsmb), a binary the user built
(`cd rsmb/src && make` gives broker_mqtts); we only find it by the path in MQTTLAB_RSMB,
read each time it is needed (the CLI's --rsmb PATH sets that variable).

Strategy: a config file written into the work directory with one listener on a free
127.0.0.1 port and nothing else (no persistence, anonymous access).  RSMB 1.3 speaks MQTT 3.1
and 3.1.1.  Its version comes from its start-up banner ("CWNAN0053I Version 1.3.0.2, ...");
to read it without starting a listener we hand RSMB a config file that does not exist, and
it prints the banner and stops.  No denied topic: RSMB's ACL is an allow-list (and needs a
password file) whose only catch-all, "#", admits every topic, so refusing one topic would mean
refusing topic shapes the suite relies on; its authorisation cases are NOT APPLICABLE.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from interop.brokers import (
    HOST,
    BrokerFailed,
    BrokerUnavailable,
    RunningBroker,
    free_port,
    launch,
    log_tail,
)

ENV = "MQTTLAB_RSMB"
SOURCE = "https://github.com/eclipse-mosquitto/mosquitto.rsmb"
VERSION = re.compile(r"CWNAN0053I Version (\S+?),")
WARNING = re.compile(r"CWNAN\d{4}[WES] ")  # RSMB's warning, error and severe messages


def configured() -> str | None:
    """The RSMB binary the user named (a path, or a command name found on PATH)."""
    value = os.environ.get(ENV, "").strip()
    if not value:
        return None
    if os.sep not in value and (found := shutil.which(value)):
        return found
    return value


def problem() -> str | None:
    """None when the configured binary can run, else one line saying what to do."""
    path = configured()
    if path is None:
        return (f"RSMB is not available: build broker_mqtts from {SOURCE} and give its path "
                f"with --rsmb PATH or {ENV}=PATH")
    if not Path(path).exists():
        return f"RSMB binary {path} ({ENV}) does not exist"
    if not Path(path).is_file() or not os.access(path, os.X_OK):
        return f"RSMB binary {path} ({ENV}) is not an executable file"
    return None


def version_in(lines: list[str]) -> str | None:
    for line in lines:
        if found := VERSION.search(line):
            return found.group(1)
    return None


def failure(exc: BrokerFailed, log: Path, port: int) -> BrokerFailed:
    """RSMB ends its log with statistics, so the generic last lines say nothing; name its
    warnings instead (e.g. "Socket error 98 (Address already in use) in bind")."""
    warnings = [line for line in log_tail(log, 100) if WARNING.search(line)][-3:]
    if not warnings:
        return exc
    how = str(exc).split(": ", 1)[0]
    if any("in use" in line.lower() for line in warnings):
        how = f"rsmb could not listen: port {port} is in use"
    return BrokerFailed(f"{how}: " + " | ".join(warnings))


class Rsmb:
    name = "rsmb"
    description = f"Really Small Message Broker (a broker_mqtts built from {SOURCE})"

    def available(self) -> str | None:
        return problem()

    def version(self) -> str:
        path = configured()
        if path is None or problem() is not None:
            return "rsmb (not available)"
        with tempfile.TemporaryDirectory(prefix="mqttlab-rsmb-") as tmp:
            try:  # a config file that does not exist: banner, then RSMB stops
                out = subprocess.run([path, str(Path(tmp) / "absent.cfg")], cwd=tmp,
                                     capture_output=True, text=True, errors="replace",
                                     timeout=10, check=False).stdout
            except (OSError, subprocess.SubprocessError):
                out = ""
        found = version_in(out.splitlines())
        return "rsmb " + (found or "(version unknown)")

    def start(self, workdir: Path) -> RunningBroker:
        if (missing := problem()) is not None:
            raise BrokerUnavailable(missing)
        path = configured()
        assert path is not None
        port = free_port()
        conf = workdir / "rsmb.cfg"
        conf.write_text(f"# written by mqttlab\nlistener {port} {HOST}\n", encoding="utf-8")
        try:
            process = launch(self.name, [path, str(conf)], workdir, port)
        except BrokerFailed as exc:
            raise failure(exc, workdir / f"{self.name}.log", port) from None
        found = version_in(log_tail(process.log, 50))
        return RunningBroker(self.name, "rsmb " + found if found else self.version(), port,
                             process=process)


PROFILE = Rsmb()
