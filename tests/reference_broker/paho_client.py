"""A thin, event-driven wrapper around a real paho-mqtt 2.x client for integration tests.

Every wait is on a threading primitive with a timeout (no fixed sleeps); `close()` stops the
network thread and is safe to call twice.
"""

from __future__ import annotations

import queue
import socket
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

TIMEOUT = 5.0
V311, V5, V31 = mqtt.MQTTv311, mqtt.MQTTv5, mqtt.MQTTv31


class PahoClient:
    def __init__(self, port: int, client_id: str = "", protocol: Any = V5,
                 clean_session: bool | None = None, manual_ack: bool = False) -> None:
        self.port = port
        self.protocol = protocol
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                                  client_id=client_id, protocol=protocol,
                                  clean_session=clean_session if protocol != V5 else None,
                                  reconnect_on_failure=False, manual_ack=manual_ack)
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.session_present: bool | None = None
        self.connack_code: ReasonCode | None = None
        self.connack_properties: Properties | None = None
        self.disconnect_code: ReasonCode | None = None
        self._subacks: dict[int, list[ReasonCode]] = {}
        self._acked: dict[int, ReasonCode] = {}
        self._events: dict[int, threading.Event] = {}
        self._lock = threading.Lock()
        c = self.client
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_subscribe = self._on_subscribe
        c.on_unsubscribe = self._on_subscribe
        c.on_publish = self._on_publish
        c.on_message = lambda _c, _u, message: self.messages.put(message)
        self._started = False

    # -- callbacks (network thread) --------------------------------------------------------

    def _on_connect(self, _c: Any, _u: Any, flags: Any, code: ReasonCode,
                    props: Properties | None) -> None:
        self.session_present = bool(flags.session_present)
        self.connack_code, self.connack_properties = code, props
        self.connected.set()

    def _on_disconnect(self, _c: Any, _u: Any, _flags: Any, code: ReasonCode,
                       _props: Any) -> None:
        self.disconnect_code = code
        self.disconnected.set()

    def _event(self, mid: int) -> threading.Event:
        with self._lock:
            return self._events.setdefault(mid, threading.Event())

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, codes: Any, _props: Any) -> None:
        self._subacks[mid] = list(codes) if isinstance(codes, list) else [codes]
        self._event(mid).set()

    def _on_publish(self, _c: Any, _u: Any, mid: int, code: ReasonCode, _props: Any) -> None:
        self._acked[mid] = code
        self._event(mid).set()

    # -- actions (test thread) -------------------------------------------------------------

    def connect(self, keepalive: int = 60, clean_start: bool = True,
                properties: Properties | None = None) -> PahoClient:
        kwargs: dict[str, Any] = {"keepalive": keepalive, "properties": properties}
        if self.protocol == V5:
            kwargs["clean_start"] = clean_start
        self.client.connect("127.0.0.1", self.port, **kwargs)
        self.client.loop_start()
        self._started = True
        assert self.connected.wait(TIMEOUT), "no CONNACK"
        return self

    def subscribe(self, *args: Any, **kwargs: Any) -> list[ReasonCode]:
        result, mid = self.client.subscribe(*args, **kwargs)
        assert result == mqtt.MQTT_ERR_SUCCESS and mid is not None
        assert self._event(mid).wait(TIMEOUT), "no SUBACK"
        return self._subacks[mid]

    def unsubscribe(self, topic: str) -> None:
        result, mid = self.client.unsubscribe(topic)
        assert result == mqtt.MQTT_ERR_SUCCESS and mid is not None
        assert self._event(mid).wait(TIMEOUT), "no UNSUBACK"

    def publish(self, topic: str, payload: bytes = b"", qos: int = 0, retain: bool = False,
                properties: Properties | None = None) -> ReasonCode | None:
        info = self.client.publish(topic, payload, qos, retain, properties)
        assert self._event(info.mid).wait(TIMEOUT), "publish not completed"
        return self._acked.get(info.mid)

    def next_message(self, timeout: float = TIMEOUT) -> mqtt.MQTTMessage:
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no message arrived") from None

    def no_message(self) -> bool:
        return self.messages.empty()

    def disconnect(self) -> None:
        self.client.disconnect()
        assert self.disconnected.wait(TIMEOUT), "not disconnected"
        self.close()

    def drop(self) -> None:
        """End the connection without DISCONNECT, as a failing network would."""
        sock = self.client.socket()
        if isinstance(sock, socket.socket):
            sock.shutdown(socket.SHUT_RDWR)  # also wakes paho's network thread at once
        self.close()

    def close(self) -> None:
        if self._started:
            if self.connected.is_set() and not self.disconnected.is_set():
                self.client.disconnect()  # wakes the network thread, so it ends promptly
            self.client.loop_stop()
            self._started = False
