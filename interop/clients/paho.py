"""Eclipse Paho MQTT Python client (paho-mqtt), in this process.

Strategy: one `paho.mqtt.client.Client` per role, with the library's own network thread
(`loop_start()`) and `reconnect_on_failure=False`, so a lost connection ends the role instead
of being silently re-opened (which would blur the Will and session scenarios).  Callbacks
record the CONNACK, SUBACK codes and messages as the library reports them.  The abnormal end
shuts the socket down in both directions under the library, which then ends without sending
DISCONNECT: what the broker sees when a client dies.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Sequence
from importlib import metadata
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

INSTALL = "install it with: pip install paho-mqtt"


def _properties(packet_type: int, props: MessageProps | None = None,
                session_expiry: int | None = None) -> Any:
    from paho.mqtt.properties import Properties

    make: Any = Properties  # (the library leaves this constructor unannotated)
    out = make(packet_type)
    if session_expiry is not None:
        out.SessionExpiryInterval = session_expiry
    if props is not None:
        if props.user_properties:
            out.UserProperty = list(props.user_properties)
        for ours, theirs in (("content_type", "ContentType"), ("response_topic", "ResponseTopic"),
                             ("correlation_data", "CorrelationData"),
                             ("message_expiry_interval", "MessageExpiryInterval"),
                             ("payload_format_indicator", "PayloadFormatIndicator")):
            value = getattr(props, ours)
            if value is not None:
                setattr(out, theirs, value)
    return out


def _message_props(props: Any) -> MessageProps:
    def get(name: str) -> Any:
        return getattr(props, name, None)

    return MessageProps(
        user_properties=tuple((str(k), str(v)) for k, v in get("UserProperty") or ()),
        content_type=get("ContentType"), response_topic=get("ResponseTopic"),
        correlation_data=get("CorrelationData"),
        message_expiry_interval=get("MessageExpiryInterval"),
        payload_format_indicator=get("PayloadFormatIndicator"))


class PahoSession(Subscriber):
    who = "paho-mqtt"

    def __init__(self, spec: ClientSpec, log: ScenarioLog) -> None:
        super().__init__()
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion
        from paho.mqtt.packettypes import PacketTypes

        self.spec, self.log = spec, log
        self._connected = threading.Event()
        self._closed = threading.Event()
        self._connack: int | None = None
        self._sub_mid: int | None = None
        protocol = {3: mqtt.MQTTv31, 4: mqtt.MQTTv311, 5: mqtt.MQTTv5}[spec.level]
        kwargs: dict[str, Any] = {"client_id": spec.client_id, "protocol": protocol,
                                  "reconnect_on_failure": False}
        if spec.level != 5:
            kwargs["clean_session"] = spec.clean
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, **kwargs)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect
        if spec.will is not None:
            self.client.will_set(spec.will.topic, spec.will.payload, spec.will.qos)
        connect: dict[str, Any] = {"keepalive": 60}
        if spec.level == 5:
            connect["clean_start"] = spec.clean
            if spec.session_expiry is not None:
                connect["properties"] = _properties(PacketTypes.CONNECT,
                                                    session_expiry=spec.session_expiry)
        log.add(self.who, f"connect {spec.client_id} (MQTT level {spec.level}, clean "
                f"{spec.clean}, session expiry {spec.session_expiry}, will {spec.will})")
        try:
            self.client.connect(spec.host, spec.port, **connect)
        except OSError as exc:
            raise ClientFailure(f"paho-mqtt could not connect: {exc}") from None
        self.client.loop_start()
        if not self._connected.wait(spec.timeout):
            self._end()
            raise ClientFailure(f"paho-mqtt had no CONNACK within {spec.timeout:g} s")
        if self._connack is None:
            self._end()
            raise ClientFailure("the connection ended before a CONNACK")
        if self._connack:
            self._end()
            raise ClientFailure(f"the broker refused paho-mqtt's CONNECT ({self._connack:#04x})")

    # -- callbacks (in the loop thread) ----------------------------------------------------

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any,
                    properties: Any) -> None:
        self._connack = int(reason.value)
        self.log.add(self.who, f"CONNACK {reason} (session present "
                     f"{flags.session_present})")
        self._connected.set()

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, reasons: Any,
                      properties: Any) -> None:
        codes = [int(r.value) for r in reasons]
        self.log.add(self.who, f"SUBACK {codes}")
        self.set_ready(codes[0] if codes else None)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        props = _message_props(message.properties) if self.spec.level == 5 else None
        self.log.add(self.who, f"message on {message.topic}: QoS {message.qos}, RETAIN "
                     f"{int(message.retain)}, DUP {int(message.dup)}, "
                     f"{len(message.payload)} bytes")
        self.add(Received(message.topic, bytes(message.payload), message.qos,
                          bool(message.retain), props))

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any,
                       properties: Any) -> None:
        self.log.add(self.who, f"connection ended ({reason})")
        self._closed.set()
        self._connected.set()
        self.fail(f"connection ended ({reason})")

    # -- roles -----------------------------------------------------------------------------

    def subscribe(self, topic_filter: str, qos: int) -> None:
        result, _ = self.client.subscribe(topic_filter, qos)
        if result != 0:
            raise ClientFailure(f"paho-mqtt could not subscribe (error {result})")

    def publish(self, message: Outgoing) -> None:
        from paho.mqtt.packettypes import PacketTypes

        props = (_properties(PacketTypes.PUBLISH, message.properties)
                 if self.spec.level == 5 and message.properties.present() else None)
        info = self.client.publish(message.topic, message.payload, message.qos,
                                   message.retain, props)
        info.wait_for_publish(self.spec.timeout)
        if not info.is_published():
            raise ClientFailure(f"paho-mqtt: the QoS {message.qos} PUBLISH to "
                                f"{message.topic} was not completed within "
                                f"{self.spec.timeout:g} s (rc {info.rc})")

    def stop(self) -> None:
        if not self._closed.is_set():
            self.client.disconnect()
            if not self._closed.wait(self.spec.timeout):
                self._end()
                raise ClientFailure("paho-mqtt did not finish its DISCONNECT in time")
        self._end()

    def kill(self) -> None:
        if self._closed.is_set():
            self._end()
            return
        sock = self.client.socket()
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.log.add(self.who, "socket shut down under the library, no DISCONNECT")
        self._closed.wait(self.spec.timeout)  # the library's thread notices and ends
        self._end()

    def _end(self) -> None:
        self.client.loop_stop()  # the thread has ended, or ends at its next wake-up
        sock = self.client.socket()
        if isinstance(sock, socket.socket):
            sock.close()


class PahoMqtt(Adapter):
    name = "paho-mqtt"

    def available(self) -> str | None:
        try:
            import paho.mqtt.client  # noqa: F401
        except ImportError:
            return f"paho-mqtt is not installed: {INSTALL}"
        return None

    def version(self) -> str:
        try:
            return "paho-mqtt " + metadata.version("paho-mqtt")
        except metadata.PackageNotFoundError:
            return "paho-mqtt (not installed)"

    def connect_disconnect(self, spec: ClientSpec, topic: str, log: ScenarioLog) -> str:
        session = PahoSession(spec, log)
        session.stop()
        return "CONNACK 0x00, then DISCONNECT"

    def publish(self, spec: ClientSpec, messages: Sequence[Outgoing], log: ScenarioLog
                ) -> None:
        session = PahoSession(spec, log)
        try:
            for message in messages:
                session.publish(message)
        except BaseException:
            session.kill()
            raise
        session.stop()

    def subscribe(self, spec: ClientSpec, topic_filter: str, qos: int, log: ScenarioLog
                  ) -> Subscriber:
        session = PahoSession(spec, log)
        session.subscribe(topic_filter, qos)
        return session


ADAPTER = PahoMqtt()
