"""The Eclipse Paho C client's sample programs paho_c_pub / paho_c_sub (MQTTAsync library,
Debian package paho.mqtt.c-examples), run as subprocesses.

Strategy: paho_c_pub publishes one message per run (payload from a file: -f) and exits 0 once
its QoS flow is complete.  paho_c_sub is the long-running role, run with -v (each message
printed as "LENGTH TOPIC<tab>PAYLOAD", then its MQTT 5 properties one per line) and with the
library's protocol trace (--trace protocol, on stderr): "<- SUBACK" says the subscription is
in force, "<- PUBLISH ... qos: Q retained: R" gives what the printed message lacks.  The n-th
printed message is paired with the n-th traced PUBLISH.  What the samples cannot do is said
once here and becomes NOT APPLICABLE: they always connect with CleanSession 1 / Clean Start 1
(no persistent session), set at most one User Property and only the Message Expiry Interval
among the MQTT 5 properties, and print payloads with printf("%.*s"), which stops at a 0x00
byte (so payloads avoid it).  The granted QoS is not reported.  SIGTERM makes paho_c_sub
disconnect; SIGKILL cuts its connection.  paho_c_sub has no time limit of its own: it runs
under coreutils' timeout.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from interop.clients.model import (
    Adapter,
    ClientSpec,
    MessageProps,
    Outgoing,
    Received,
    ScenarioLog,
    Subscriber,
)
from interop.clients.process import ClientProcess, bounded, run_ok

INSTALL = "apt-get install -y paho.mqtt.c-examples"
VERSIONS = {3: "31", 4: "311", 5: "5"}
HEADER = re.compile(rb"(\d+) ([^\t\n]*)\t")
TRACED = re.compile(rb"<- PUBLISH msgid: \d+ qos: (\d) retained: (\d)")
FAILED = re.compile(rb"^(Connect failed|Subscribe failed|Failed to )|<- CONNACK rc: [1-9]")
USER_PROPERTY = re.compile(rb"^Property name USER_PROPERTY key (.*) value (.*)$")
TEXT_PROPERTY = re.compile(rb"^Property name (\w+) value len (.*)$")
NUMBER_PROPERTY = re.compile(rb"^Property name (\w+) value (\d+)$")


def _common(spec: ClientSpec, program: str) -> list[str | bytes]:
    argv: list[str | bytes] = [program, "-h", spec.host, "-p", str(spec.port), "-V",
                               VERSIONS[spec.level], "-i", spec.client_id, "-k", "60",
                               "--trace", "protocol"]
    if spec.will is not None:
        argv += ["--will-topic", spec.will.topic, "--will-payload", spec.will.payload,
                 "--will-qos", str(spec.will.qos)]
    return argv


@dataclass
class _Printed:
    topic: str
    payload: bytes
    props: dict[str, object] = field(default_factory=dict)
    users: list[tuple[str, str]] = field(default_factory=list)

    def properties(self) -> MessageProps:
        corr = self.props.get("CORRELATION_DATA")
        return MessageProps(
            user_properties=tuple(self.users),
            content_type=_text(self.props.get("CONTENT_TYPE")),
            response_topic=_text(self.props.get("RESPONSE_TOPIC")),
            correlation_data=corr if isinstance(corr, bytes) else None,
            message_expiry_interval=_number(self.props.get("MESSAGE_EXPIRY_INTERVAL")),
            payload_format_indicator=_number(self.props.get("PAYLOAD_FORMAT_INDICATOR")))


def _text(value: object) -> str | None:
    return value.decode(errors="replace") if isinstance(value, bytes) else None


def _number(value: object) -> int | None:
    return value if isinstance(value, int) else None


class PahoCSub(Subscriber):
    who = "paho_c_sub"

    def __init__(self, spec: ClientSpec, topic_filter: str, qos: int, log: ScenarioLog
                 ) -> None:
        super().__init__()
        self.spec = spec
        self._printed: list[_Printed] = []
        self._traced: list[tuple[int, bool]] = []
        argv = bounded([*_common(spec, "paho_c_sub"), "-t", topic_filter, "-q", str(qos),
                        "-v"])
        self.process = ClientProcess(argv, log, self.who, on_stdout=self._parse_out,
                                     on_stderr=self._parse_err, on_exit=self._exited)

    def messages(self) -> list[Received]:
        with self._cond:
            out = []
            for i, m in enumerate(self._printed):
                qos, retain = self._traced[i] if i < len(self._traced) else (None, None)
                out.append(Received(m.topic, m.payload, qos, retain,
                                    m.properties() if self.spec.level == 5 else None))
            return out

    def _parse_out(self, buffer: bytearray) -> None:
        """"LENGTH TOPIC\\tPAYLOAD" then a newline unless the payload ends with one, then
        "Property name ..." lines; other lines ("URL is ...") are skipped."""
        while buffer:
            header = HEADER.match(buffer)
            if header:  # (the match reads `buffer` itself: take what it says before cutting)
                start, length, topic = header.end(), int(header.group(1)), bytes(header[2])
                payload = bytes(buffer[start:start + length])
                if len(payload) < length:
                    return
                end = start + length
                if not (length > 1 and payload.endswith(b"\n")):
                    if len(buffer) <= end:
                        return
                    end += 1  # the delimiter printed after the payload
                del buffer[:end]
                with self._cond:
                    self._printed.append(_Printed(topic.decode(errors="replace"), payload))
                self.changed()
                continue
            newline = buffer.find(b"\n")
            if newline < 0:
                return
            line = bytes(buffer[:newline])
            del buffer[: newline + 1]
            self._property(line)

    def _property(self, line: bytes) -> None:
        with self._cond:
            if not self._printed or not line.startswith(b"Property name "):
                return
            last = self._printed[-1]
            if found := USER_PROPERTY.match(line):
                last.users.append((found.group(1).decode(), found.group(2).decode()))
            elif found := TEXT_PROPERTY.match(line):
                last.props[found.group(1).decode()] = found.group(2)
            elif found := NUMBER_PROPERTY.match(line):
                last.props[found.group(1).decode()] = int(found.group(2))
        self.changed()

    def _parse_err(self, buffer: bytearray) -> None:
        while (newline := buffer.find(b"\n")) >= 0:
            line = bytes(buffer[:newline])
            del buffer[: newline + 1]
            if found := TRACED.search(line):
                with self._cond:
                    self._traced.append((int(found.group(1)), found.group(2) == b"1"))
                self.changed()
            elif b"<- SUBACK" in line:
                self.set_ready(None)
            elif FAILED.search(line):  # (the sample would retry for ever)
                self.fail(line.decode(errors="replace"))
                self.process.abort()

    def _exited(self, code: int) -> None:
        self.fail(f"paho_c_sub exited with code {code}{self.process.last_error()}")

    def stop(self) -> None:
        self.process.terminate(self.spec.timeout)

    def kill(self) -> None:
        self.process.kill()


class PahoC(Adapter):
    name = "paho-c"
    no_persistent_session = ("paho_c_sub always connects with CleanSession 1 / Clean Start 1 "
                             "(the sample has no option for a persistent session)")
    nul_in_payload = "paho_c_sub prints payloads with printf(\"%.*s\"), which stops at 0x00"
    max_user_properties = 1
    settable_properties = ("user_properties", "message_expiry_interval")

    def available(self) -> str | None:
        missing = [p for p in ("paho_c_pub", "paho_c_sub", "timeout")
                   if shutil.which(p) is None]
        if missing:
            return f"{', '.join(missing)} not found: install with {INSTALL}"
        return None

    def version(self) -> str:
        try:
            out = subprocess.run(["paho_c_pub"], capture_output=True, text=True, timeout=10,
                                 check=False).stdout
        except (OSError, subprocess.SubprocessError):
            return "paho.mqtt.c (not installed)"
        found = re.search(r"^Version: (\S+)", out, re.M)
        version = f"paho.mqtt.c {found.group(1) if found else '(version unknown)'}"
        try:
            package = subprocess.run(
                ["dpkg-query", "-W", "-f=${Version}", "paho.mqtt.c-examples"],
                capture_output=True, text=True, timeout=10, check=False).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            package = ""
        return version + (f" (Debian package {package})" if package else "")

    def connect_disconnect(self, spec: ClientSpec, topic: str, log: ScenarioLog) -> str:
        run_ok([*_common(spec, "paho_c_pub"), "-t", topic, "-n"], log, "paho_c_pub",
               spec.timeout * 2, FAILED)
        return "paho_c_pub -n: CONNACK, an empty QoS 0 PUBLISH, DISCONNECT, exit code 0"

    def publish(self, spec: ClientSpec, messages: Sequence[Outgoing], log: ScenarioLog
                ) -> None:
        with tempfile.TemporaryDirectory(prefix="mqttlab-pub-") as tmp:
            for i, message in enumerate(messages):
                argv = [*_common(spec, "paho_c_pub"), "-t", message.topic, "-q",
                        str(message.qos)]
                if message.retain:
                    argv.append("-r")
                if message.payload:
                    path = Path(tmp) / f"payload-{i}"
                    path.write_bytes(message.payload)
                    argv += ["-f", str(path)]
                else:
                    argv.append("-n")
                props = message.properties
                if spec.level == 5 and props.message_expiry_interval is not None:
                    argv += ["--message-expiry", str(props.message_expiry_interval)]
                if spec.level == 5 and props.user_properties:
                    argv += ["--user-property", *props.user_properties[0]]
                run_ok(argv, log, "paho_c_pub", spec.timeout * 2, FAILED)

    def subscribe(self, spec: ClientSpec, topic_filter: str, qos: int, log: ScenarioLog
                  ) -> Subscriber:
        return PahoCSub(spec, topic_filter, qos, log)


ADAPTER = PahoC()
