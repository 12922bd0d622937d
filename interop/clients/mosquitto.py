"""mosquitto_pub / mosquitto_sub (libmosquitto, Debian package mosquitto-clients), run as
subprocesses.

Strategy: mosquitto_pub publishes one message per run (payload from a file, so any bytes;
MQTT 5 properties with -D publish ...) and must exit 0 once its QoS flow is complete.
mosquitto_sub is the long-running role: -d prints its protocol steps ("Subscribed (mid: 1):
2" gives the granted QoS and tells us the subscription is in force), -F prints each message
on one line in a format of ours (topic, QoS, RETAIN, the MQTT 5 properties, the payload in
hex, Correlation Data raw and last).  It is run under `stdbuf -oL`: with its output on a pipe
it would otherwise hold the debug lines back until the next message.  SIGTERM makes it send
DISCONNECT and exit; SIGKILL cuts the connection; -W bounds its life.  The connect scenario
runs mosquitto_sub -E (exit once subscribed, with DISCONNECT).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
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
from interop.clients.process import LIFETIME, ClientProcess, run_ok

INSTALL = "apt-get install -y mosquitto-clients"
VERSIONS = {3: "mqttv31", 4: "mqttv311", 5: "mqttv5"}
FORMAT = r"MSG\t%t\t%q\t%r\t%C\t%E\t%F\t%R\t%P\t%x\t%D"
SUBSCRIBED = re.compile(rb"^Subscribed \(mid: \d+\): (\d+)", re.M)


def _common(spec: ClientSpec, program: str) -> list[str | bytes]:
    argv: list[str | bytes] = [program, "-h", spec.host, "-p", str(spec.port), "-V",
                               VERSIONS[spec.level], "-i", spec.client_id, "-k", "60", "-d"]
    if not spec.clean:
        argv.append("-c")
    if spec.level == 5 and spec.session_expiry is not None:
        argv += ["-x", str(spec.session_expiry)]
    if spec.will is not None:
        argv += ["--will-topic", spec.will.topic, "--will-payload", spec.will.payload,
                 "--will-qos", str(spec.will.qos)]
    return argv


def _property_args(props: MessageProps) -> list[str | bytes]:
    argv: list[str | bytes] = []
    for name, value in props.user_properties:
        argv += ["-D", "publish", "user-property", name, value]
    for ours, theirs in (("content_type", "content-type"), ("response_topic", "response-topic"),
                         ("correlation_data", "correlation-data"),
                         ("message_expiry_interval", "message-expiry-interval"),
                         ("payload_format_indicator", "payload-format-indicator")):
        value = getattr(props, ours)
        if value is not None:
            argv += ["-D", "publish", theirs, value if isinstance(value, bytes) else str(value)]
    return argv


def _parse_message(line: bytes, level: int) -> Received:
    (_, topic, qos, retain, content_type, expiry, pfi, response, user, payload,
     correlation) = line.split(b"\t", 10)
    props = None
    if level == 5:
        pairs = [p.partition(b":") for p in user.split(b" ") if p]
        props = MessageProps(
            user_properties=tuple((k.decode(), v.decode()) for k, _, v in pairs),
            content_type=content_type.decode() or None,
            response_topic=response.decode() or None,
            correlation_data=correlation or None,
            message_expiry_interval=int(expiry) if expiry else None,
            payload_format_indicator=int(pfi) if pfi else None)
    return Received(topic.decode(errors="replace"), bytes.fromhex(payload.decode()),
                    int(qos), retain == b"1", props)


class MosquittoSub(Subscriber):
    who = "mosquitto_sub"

    def __init__(self, spec: ClientSpec, topic_filter: str, qos: int, log: ScenarioLog
                 ) -> None:
        super().__init__()
        self.spec = spec
        self.log = log
        argv = ["stdbuf", "-oL", *_common(spec, "mosquitto_sub"), "-t", topic_filter,
                "-q", str(qos), "-F", FORMAT, "-W", str(LIFETIME)]
        self.process = ClientProcess(argv, log, self.who, on_stdout=self._parse,
                                     on_exit=self._exited)

    def _parse(self, buffer: bytearray) -> None:
        while (end := buffer.find(b"\n")) >= 0:
            line = bytes(buffer[:end])
            del buffer[: end + 1]
            if line.startswith(b"MSG\t"):
                try:
                    self.add(_parse_message(line, self.spec.level))
                except ValueError:  # e.g. a topic holding a newline split the line
                    self.log.add(self.who, f"unreadable message line: {line[:120]!r}")
            elif found := SUBSCRIBED.match(line):
                self.set_ready(int(found.group(1)))

    def _exited(self, code: int) -> None:
        self.fail(f"mosquitto_sub exited with code {code}{self.process.last_error()}")

    def stop(self) -> None:
        self.process.terminate(self.spec.timeout)

    def kill(self) -> None:
        self.process.kill()


class MosquittoClients(Adapter):
    name = "mosquitto-clients"

    def available(self) -> str | None:
        missing = [p for p in ("mosquitto_pub", "mosquitto_sub", "stdbuf")
                   if shutil.which(p) is None]
        if missing:
            return f"{', '.join(missing)} not found: install with {INSTALL}"
        return None

    def version(self) -> str:
        try:
            out = subprocess.run(["mosquitto_pub", "--help"], capture_output=True, text=True,
                                 timeout=10, check=False).stdout
        except (OSError, subprocess.SubprocessError):
            return "mosquitto_pub (not installed)"
        found = re.search(r"version (\S+) running on libmosquitto (\S+?)\.?$", out, re.M)
        if not found:
            return "mosquitto_pub (version unknown)"
        return f"mosquitto_pub/sub {found.group(1)} (libmosquitto {found.group(2)})"

    def connect_disconnect(self, spec: ClientSpec, topic: str, log: ScenarioLog) -> str:
        run_ok([*_common(spec, "mosquitto_sub"), "-t", topic, "-E"], log, "mosquitto_sub",
               spec.timeout * 2)
        return "mosquitto_sub -E: CONNACK, SUBACK, DISCONNECT, exit code 0"

    def publish(self, spec: ClientSpec, messages: Sequence[Outgoing], log: ScenarioLog
                ) -> None:
        with tempfile.TemporaryDirectory(prefix="mqttlab-pub-") as tmp:
            for i, message in enumerate(messages):
                argv = [*_common(spec, "mosquitto_pub"), "-t", message.topic, "-q",
                        str(message.qos)]
                if message.retain:
                    argv.append("-r")
                if message.payload:
                    path = Path(tmp) / f"payload-{i}"
                    path.write_bytes(message.payload)
                    argv += ["-f", str(path)]
                else:
                    argv.append("-n")
                if spec.level == 5:
                    argv += _property_args(message.properties)
                run_ok(argv, log, "mosquitto_pub", spec.timeout * 2)

    def subscribe(self, spec: ClientSpec, topic_filter: str, qos: int, log: ScenarioLog
                  ) -> Subscriber:
        return MosquittoSub(spec, topic_filter, qos, log)


ADAPTER = MosquittoClients()
