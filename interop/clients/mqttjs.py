"""MQTT.js (npm package mqtt) under Node.js, through interop/node/mqttjs_client.js.

Strategy: one Node.js process per client connection.  The connect options go on its command
line as JSON; commands (subscribe, publish, disconnect) go to its stdin one JSON object per
line, each with an id; it prints one JSON event per line (connected, subscribed with the
granted QoS, published once the QoS flow is complete, message with QoS / RETAIN / DUP /
payload in hex / MQTT 5 properties, error, closed).  A command waits (bounded) for the event
carrying its id.  Normal end: the "disconnect" command (MQTT.js sends DISCONNECT, the process
exits 0); abnormal end: SIGKILL.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from interop.clients.model import (
    Adapter,
    ClientFailure,
    ClientSpec,
    MessageProps,
    Outgoing,
    Received,
    ScenarioLog,
    Subscriber,
)
from interop.clients.process import ClientProcess

NODE_DIR = Path(__file__).resolve().parent.parent / "node"
SCRIPT = NODE_DIR / "mqttjs_client.js"
INSTALL = "install Node.js (apt-get install -y nodejs npm) and run: npm ci --prefix interop/node"


class MqttJsSession(Subscriber):
    who = "MQTT.js"

    def __init__(self, spec: ClientSpec, log: ScenarioLog) -> None:
        super().__init__()
        self.spec = spec
        self._ids = itertools.count(1)
        self._events: dict[int, dict[str, Any]] = {}
        self._errors: list[str] = []
        self._ended = False  # the process has exited and its output has been read
        self._connected: dict[str, Any] | None = None
        self._subscribe_id: int | None = None
        self._lock = threading.Condition()
        config: dict[str, Any] = {
            "host": spec.host, "port": spec.port, "level": spec.level,
            "client_id": spec.client_id, "clean": spec.clean,
            "session_expiry": spec.session_expiry, "limit": max(30, spec.timeout * 6)}
        if spec.will is not None:
            config["will"] = {"topic": spec.will.topic, "payload": spec.will.payload.hex(),
                              "qos": spec.will.qos}
        self.process = ClientProcess(["node", str(SCRIPT), json.dumps(config)], log, "MQTT.js",
                                     on_stdout=self._parse, stdin=True, on_exit=self._exited)
        with self._lock:
            self._lock.wait_for(lambda: self._connected is not None or self._ended,
                                spec.timeout)
        if self._connected is None:
            self.process.kill()
            if self._ended:
                raise ClientFailure("MQTT.js could not connect" + self._last_error())
            raise ClientFailure(f"MQTT.js did not connect within {spec.timeout:g} s"
                                + self._last_error())

    def _parse(self, buffer: bytearray) -> None:
        while (newline := buffer.find(b"\n")) >= 0:
            line = bytes(buffer[:newline])
            del buffer[: newline + 1]
            try:
                event = json.loads(line)
            except ValueError:
                continue
            self._event(event)

    def _event(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "message":
            props = (MessageProps.from_json(event.get("properties") or {})
                     if self.spec.level == 5 else None)
            self.add(Received(event["topic"], bytes.fromhex(event["payload"]), event["qos"],
                              event["retain"], props))
        if kind == "error":
            self._errors.append(str(event.get("message")))
        with self._lock:
            if kind == "connected":
                self._connected = event
            elif "id" in event:
                self._events[event["id"]] = event
            self._lock.notify_all()
        if kind == "subscribed" and event.get("id") == self._subscribe_id:
            granted = event.get("granted") or [None]
            self.set_ready(granted[0])
        elif kind == "error" and event.get("id") == self._subscribe_id:
            self.fail(f"MQTT.js could not subscribe: {event.get('message')}")
        elif kind == "closed" and not event.get("clean"):
            self.fail("MQTT.js lost its connection" + self._last_error())

    def _exited(self, code: int) -> None:
        with self._lock:
            self._ended = True
            self._lock.notify_all()
        self.fail(f"the MQTT.js process exited with code {code}")

    def _last_error(self) -> str:
        return f": {self._errors[-1]}" if self._errors else ""

    def send(self, op: str, command_id: int | None = None, **fields: Any) -> int:
        command_id = command_id or next(self._ids)
        line = json.dumps({"id": command_id, "op": op, **fields})
        self.process.log.add(self.who, f"command {line}")
        self.process.write(line.encode() + b"\n")
        return command_id

    def call(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send a command and wait (bounded) for the event that answers it."""
        command_id = self.send(op, **fields)
        with self._lock:
            self._lock.wait_for(lambda: command_id in self._events or self._ended,
                                self.spec.timeout)
            event = self._events.get(command_id)
        if event is None:
            raise ClientFailure(f"MQTT.js did not complete its {op} within "
                                f"{self.spec.timeout:g} s")
        if event.get("event") == "error":
            raise ClientFailure(f"MQTT.js {op} failed: {event.get('message')}")
        return event

    def subscribe(self, topic_filter: str, qos: int) -> None:
        self._subscribe_id = next(self._ids)  # known before the answer can come
        self.send("subscribe", self._subscribe_id, filter=topic_filter, qos=qos)

    def publish(self, message: Outgoing) -> None:
        self.call("publish", topic=message.topic, payload=message.payload.hex(),
                  qos=message.qos, retain=message.retain,
                  properties=message.properties.to_json())

    def stop(self) -> None:
        if self.process.running():
            self.send("disconnect")
        code = self.process.finish(self.spec.timeout)
        if code != 0:
            raise ClientFailure(f"MQTT.js ended with code {code}{self._last_error()}")

    def kill(self) -> None:
        self.process.kill()


class MqttJs(Adapter):
    name = "mqtt.js"

    def available(self) -> str | None:
        if shutil.which("node") is None:
            return f"node not found: {INSTALL}"
        if not (NODE_DIR / "node_modules" / "mqtt").is_dir():
            return f"the mqtt npm package is not installed: {INSTALL}"
        return None

    def version(self) -> str:
        try:
            out = subprocess.run(["node", str(SCRIPT), "--version"], capture_output=True,
                                 text=True, timeout=20, check=False).stdout
            return f"MQTT.js {json.loads(out)['version']}"
        except (OSError, subprocess.SubprocessError, ValueError, KeyError):
            return "MQTT.js (not installed)"

    def connect_disconnect(self, spec: ClientSpec, topic: str, log: ScenarioLog) -> str:
        session = MqttJsSession(spec, log)
        session.stop()
        return "CONNACK 0x00, then DISCONNECT (the process exited 0)"

    def publish(self, spec: ClientSpec, messages: Sequence[Outgoing], log: ScenarioLog
                ) -> None:
        session = MqttJsSession(spec, log)
        try:
            for message in messages:
                session.publish(message)
        except BaseException:
            session.kill()
            raise
        session.stop()

    def subscribe(self, spec: ClientSpec, topic_filter: str, qos: int, log: ScenarioLog
                  ) -> Subscriber:
        session = MqttJsSession(spec, log)
        session.subscribe(topic_filter, qos)
        return session


ADAPTER = MqttJs()
