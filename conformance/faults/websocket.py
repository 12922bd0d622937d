"""Faults in MQTT over WebSocket (MQTT 3.1.1 / 5.0 chapter 6).

Patch points in reference_broker/websocket.py and listeners.py: `answer` builds the 101
response (the selected subprotocol), `FrameReader._check_start` judges a client frame from
its first two bytes (the opcode), `FrameReader.feed` turns frames into data events (where a
broker that assumes one packet per frame is modelled), `WebSocketAdapter.write` frames what
the broker sends.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from conformance.faults.base import Patcher, fault
from reference_broker import websocket as ws
from reference_broker.listeners import WebSocketAdapter

HEADER = re.compile(rb"Sec-WebSocket-Protocol: [^\r]*\r\n")


@fault("websocket.no-subprotocol-returned",
       "The 101 response carries no Sec-WebSocket-Protocol header",
       v3="MQTT-6.0.0-4", v5="MQTT-6.0.0-4")
def no_subprotocol(p: Patcher) -> None:
    def answer(original: Any, head: bytes, rest: bytes = b"") -> ws.HandshakeResult:
        result: ws.HandshakeResult = original(head, rest)
        return replace(result, response=HEADER.sub(b"", result.response))

    p.wrap(ws, "answer", answer)


@fault("websocket.selects-first-offered",
       "The server selects the first subprotocol offered, whatever it is",
       v3="MQTT-6.0.0-4", v5="MQTT-6.0.0-4")
def first_offered(p: Patcher) -> None:
    def answer(original: Any, head: bytes, rest: bytes = b"") -> ws.HandshakeResult:
        result: ws.HandshakeResult = original(head, rest)
        offered = re.search(rb"(?i)\r\nSec-WebSocket-Protocol:\s*([^,\r]+)", head)
        if result.subprotocol is None or offered is None:
            return result
        line = b"Sec-WebSocket-Protocol: " + offered.group(1).strip() + b"\r\n"
        return replace(result, response=HEADER.sub(line, result.response))

    p.wrap(ws, "answer", answer)


@fault("websocket.sends-text-frames", "The broker sends its MQTT packets in text frames",
       v3="MQTT-6.0.0-1", v5="MQTT-6.0.0-1")
def sends_text(p: Patcher) -> None:
    def write(self: WebSocketAdapter, chunks: list[bytes]) -> None:
        if self.handshake is None:
            self._send(ws.frame(ws.TEXT, b"".join(chunks)))

    p.replace(WebSocketAdapter, "write", write)


def _read_as_binary(p: Patcher, opcodes: range) -> None:
    """Client data frames with these opcodes are read as binary frames."""
    def check_start(original: Any, self: ws.FrameReader, head: bytes, events: list[Any]) -> bool:
        if head[0] & 0x0F in opcodes:
            head = bytes((head[0] & 0xF0 | ws.BINARY,)) + head[1:]
        return bool(original(self, head, events))

    p.wrap(ws.FrameReader, "_check_start", check_start)


@fault("websocket.accepts-text-frames", "Text frames are read as MQTT, like binary ones",
       v3="MQTT-6.0.0-1", v5="MQTT-6.0.0-1")
def accepts_text(p: Patcher) -> None:
    _read_as_binary(p, range(ws.TEXT, ws.TEXT + 1))


@fault("websocket.accepts-reserved-data-opcodes",
       "Data frames with reserved opcodes 0x3-0x7 are read as MQTT, like binary ones",
       v3="MQTT-6.0.0-1", v5="MQTT-6.0.0-1")
def accepts_reserved(p: Patcher) -> None:
    _read_as_binary(p, range(0x3, 0x8))


def packet_ends(data: bytes) -> list[int]:
    """Where each complete MQTT packet at the start of `data` ends (fixed header read
    naively: type byte, Remaining Length, body)."""
    ends: list[int] = []
    pos = 0
    while pos < len(data):
        size, shift, i = 0, 0, pos + 1
        while True:
            if i >= len(data) or i - pos > 4:
                return ends
            size |= (data[i] & 0x7F) << shift
            shift, i = shift + 7, i + 1
            if not data[i - 1] & 0x80:
                break
        if i + size > len(data):
            return ends
        pos = i + size
        ends.append(pos)
    return ends


def _rewrite_data(p: Patcher, keep: Any) -> None:
    """Each data event (one frame's payload) becomes `keep(payload)`; b"" drops it."""
    def feed(original: Any, self: ws.FrameReader, data: bytes) -> list[Any]:
        events = []
        for event in original(self, data):
            if isinstance(event, ws.Data):
                payload = keep(event.payload)
                if not payload:
                    continue
                event = ws.Data(payload)
            events.append(event)
        return events

    p.wrap(ws.FrameReader, "feed", feed)


@fault("websocket.one-packet-per-frame",
       "Only the first MQTT packet of a frame is processed; the rest of the frame is lost",
       v3="MQTT-6.0.0-2", v5="MQTT-6.0.0-2")
def one_packet_per_frame(p: Patcher) -> None:
    _rewrite_data(p, lambda payload: payload[:(packet_ends(payload) or [len(payload)])[0]])


@fault("websocket.drops-partial-packets",
       "A packet not complete at the end of a frame is dropped",
       v3="MQTT-6.0.0-2", v5="MQTT-6.0.0-2")
def drops_partial(p: Patcher) -> None:
    _rewrite_data(p, lambda payload: payload[:(packet_ends(payload) or [0])[-1]])
