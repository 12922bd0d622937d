"""WebSocket (RFC 6455), server side, sans-IO: the opening handshake and the frame reader.

Strategy: two small state machines that take bytes and return what to do, so the asyncio
adapter (listeners.py) only moves bytes.  `Handshake.feed` collects the HTTP request (at most
`MAX_REQUEST` bytes; a first line that cannot be HTTP is refused at once) and answers 101 with
Sec-WebSocket-Accept and the selected subprotocol, or an HTTP error.  `FrameReader.feed` turns
client frames into events; payloads of data frames are unmasked and handed on as they arrive,
never buffered whole, so a frame that declares 2^63 bytes costs nothing until its bytes come;
the MQTT Decoder behind it enforces the broker's Maximum Packet Size on the byte stream.  Only
control frames (at most 125 bytes) are buffered.  `frame()` encodes the server's (unmasked)
frames.

MQTT over WebSocket (MQTT 3.1.1 and 5.0 section 6): the subprotocol selected and returned is
"mqtt" (MQTT-6.0.0-4); "mqttv3.1", the name MQTT 3.1 clients offered, is accepted when "mqtt"
is not offered.  A handshake that offers neither is refused with 400: the client has broken
MQTT-6.0.0-3, and accepting without a subprotocol would mean returning none, which is not
"mqtt" (MQTT-6.0.0-4); RFC 6455 4.2.2 lets the server refuse a handshake it will not serve.
MQTT packets travel in binary frames; a text frame fails the connection with Close 1003
(MQTT-6.0.0-1).  A frame may carry several or partial packets (MQTT-6.0.0-2): data events are
plain bytes for the same Decoder path a TCP connection uses.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, replace

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
MAX_REQUEST = 8192  # bytes of HTTP request head accepted
SUBPROTOCOLS = ("mqtt", "mqttv3.1")  # in order of preference

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_KNOWN = frozenset((CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG))

# Close status codes (RFC 6455 section 7.4.1)
NORMAL, PROTOCOL_ERROR, UNSUPPORTED_DATA, INVALID_DATA = 1000, 1002, 1003, 1007
_SENDABLE = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014))

_REASONS = {400: "Bad Request", 405: "Method Not Allowed", 426: "Upgrade Required",
            431: "Request Header Fields Too Large"}


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 section 4.2.2, step 5.4)."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + GUID).digest()).decode("ascii")


# -- the opening handshake -------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class HandshakeResult:
    response: bytes  # the HTTP response to write
    subprotocol: str | None  # None: refused; the response is an HTTP error
    rest: bytes  # bytes that followed the request: the first frames
    statement: str = ""  # the MQTT statement the client broke, if that is why it was refused


class Handshake:
    """Collect one HTTP Upgrade request; `feed` returns None until it is complete."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> HandshakeResult | None:
        buffer = self._buffer = self._buffer + data
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            first = buffer[:MAX_REQUEST].split(b"\r\n", 1)[0].removesuffix(b"\r")
            if not _printable(first):
                return _refuse(400, "not an HTTP request", b"")
            if len(buffer) > MAX_REQUEST:
                return _refuse(431, "request head too long", b"")
            return None
        if end > MAX_REQUEST:
            return _refuse(431, "request head too long", b"")
        self._buffer = b""
        return answer(buffer[:end], buffer[end + 4:])


def _printable(line: bytes) -> bool:
    return all(0x20 <= byte < 0x7F for byte in line)


def answer(head: bytes, rest: bytes = b"") -> HandshakeResult:
    """The response to a complete request head (without its final blank line)."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not _printable(lines[0].encode("latin-1")) \
            or not parts[2].startswith("HTTP/"):
        return _refuse(400, "malformed request line", rest)
    method, _target, version = parts
    major, _, minor = version[5:].partition(".")
    if major != "1" or not minor.isdigit() or int(minor) < 1:  # RFC 6455 4.1: at least 1.1
        return _refuse(400, "HTTP/1.1 is required", rest)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or " " in name:
            return _refuse(400, "malformed header line", rest)
        key = name.lower()
        value = value.strip(" \t")
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    if method != "GET":
        return _refuse(405, "only GET upgrades to a WebSocket", rest, ("Allow: GET",))
    if "host" not in headers:
        return _refuse(400, "no Host header", rest)
    if "websocket" not in _tokens(headers.get("upgrade", "")):
        return _refuse(426, "this port speaks MQTT over WebSocket only", rest,
                       ("Upgrade: websocket", "Connection: Upgrade"))
    if "upgrade" not in _tokens(headers.get("connection", "")):
        return _refuse(400, "Connection header lacks 'Upgrade'", rest)
    if headers.get("sec-websocket-version", "").strip() != "13":
        return _refuse(426, "WebSocket version 13 is required", rest,
                       ("Sec-WebSocket-Version: 13",))
    key = headers.get("sec-websocket-key", "")
    try:
        valid_key = len(base64.b64decode(key, validate=True)) == 16
    except (binascii.Error, ValueError):
        valid_key = False
    if not valid_key:
        return _refuse(400, "bad Sec-WebSocket-Key", rest)
    offered = [p.strip() for p in headers.get("sec-websocket-protocol", "").split(",")]
    chosen = next((p for p in SUBPROTOCOLS if p in offered), None)
    if chosen is None:
        # the client broke MQTT-6.0.0-3; accepting would break MQTT-6.0.0-4
        refusal = _refuse(400, "no MQTT subprotocol offered (Sec-WebSocket-Protocol: mqtt)",
                          rest)
        return replace(refusal, statement="MQTT-6.0.0-3")
    response = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept_key(key)}\r\n"
                f"Sec-WebSocket-Protocol: {chosen}\r\n\r\n")
    return HandshakeResult(response.encode("ascii"), chosen, rest)


def _tokens(value: str) -> set[str]:
    return {token.strip().lower() for token in value.split(",")}


def _refuse(status: int, why: str, rest: bytes, extra: tuple[str, ...] = ()) -> HandshakeResult:
    body = f"{why}\n".encode()
    head = [f"HTTP/1.1 {status} {_REASONS[status]}", *extra, "Connection: close",
            "Content-Type: text/plain; charset=utf-8", f"Content-Length: {len(body)}"]
    return HandshakeResult(("\r\n".join(head) + "\r\n\r\n").encode("ascii") + body, None, rest)


# -- frames ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Data:
    """Unmasked payload bytes of a binary message, in order (any part of any frame)."""
    payload: bytes


@dataclass(frozen=True, slots=True)
class Ping:
    payload: bytes


@dataclass(frozen=True, slots=True)
class Close:
    """The client's Close frame; `code` None when it carried no status code."""
    code: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class Fail:
    """The client broke the protocol: send Close `code` and drop the connection."""
    code: int
    detail: str
    statement: str = ""  # the MQTT statement enforced, if any


Event = Data | Ping | Close | Fail


class FrameReader:
    """Client-to-server frames in, events out.  Stops reading after a `Fail` or a `Close`."""

    __slots__ = ("_head", "_opcode", "_mask", "_offset", "_left", "_control",
                 "_in_message", "done")

    def __init__(self) -> None:
        self._head = b""  # the frame header being collected (at most 14 bytes)
        self._opcode = 0
        self._mask = b""
        self._offset = 0  # payload bytes of the current frame already read
        self._left: int | None = None  # payload bytes still to come; None: reading a header
        self._control = b""  # a control frame's payload (at most 125 bytes)
        self._in_message = False  # a fragmented binary message awaits continuation frames
        self.done = False

    def feed(self, data: bytes) -> list[Event]:
        events: list[Event] = []
        pos, size = 0, len(data)
        while not self.done and (pos < size or self._left == 0):
            if self._left is None:
                pos = self._read_header(data, pos, events)
                continue
            take = min(self._left, size - pos)
            chunk = unmask(data[pos:pos + take], self._mask, self._offset)
            pos += take
            self._offset += take
            self._left -= take
            if self._opcode >= CLOSE:
                self._control += chunk
            elif chunk:
                events.append(Data(chunk))
            if self._left == 0:
                self._left = None
                if self._opcode >= CLOSE:
                    self._control_frame(events)
        return events

    def _fail(self, events: list[Event], code: int, detail: str, statement: str = "") -> None:
        events.append(Fail(code, detail, statement))
        self.done = True

    def _read_header(self, data: bytes, pos: int, events: list[Event]) -> int:
        head = self._head
        if len(head) < 2:
            take = 2 - len(head)
            head = self._head = head + data[pos:pos + take]
            pos += min(take, len(data) - pos)
            if len(head) < 2 or not self._check_start(head, events):
                return pos
        length7 = head[1] & 0x7F
        need = 2 + {126: 2, 127: 8}.get(length7, 0) + 4
        if len(head) < need:
            take = need - len(head)
            head = self._head = head + data[pos:pos + take]
            pos += min(take, len(data) - pos)
            if len(head) < need:
                return pos
        if length7 == 126:
            length = int.from_bytes(head[2:4], "big")
        elif length7 == 127:
            length = int.from_bytes(head[2:10], "big")
            if length >> 63:
                self._fail(events, PROTOCOL_ERROR, "64-bit length with its top bit set")
                return pos
        else:
            length = length7
        self._mask, self._head = head[need - 4:need], b""
        self._offset, self._left, self._control = 0, length, b""
        return pos

    def _check_start(self, head: bytes, events: list[Event]) -> bool:
        """Judge a frame from its first two bytes, before its payload arrives."""
        fin, rsv, opcode = head[0] & 0x80, head[0] & 0x70, head[0] & 0x0F
        masked, length7 = head[1] & 0x80, head[1] & 0x7F
        problem = ""
        if rsv:
            problem = "reserved bits set without an extension"  # RFC 6455 5.2
        elif opcode not in _KNOWN:
            problem = f"unknown opcode 0x{opcode:X}"
        elif not masked:
            problem = "client frame not masked"  # RFC 6455 5.1
        elif opcode >= CLOSE and (not fin or length7 > 125):
            problem = "control frame fragmented or longer than 125 bytes"  # RFC 6455 5.5
        elif opcode == TEXT:
            # MQTT-6.0.0-1: MQTT is carried in binary frames only
            self._fail(events, UNSUPPORTED_DATA, "text frame", "MQTT-6.0.0-1")
            return False
        elif opcode == CONTINUATION and not self._in_message:
            problem = "continuation frame with no message started"
        elif opcode == BINARY and self._in_message:
            problem = "new message before the fragmented one ended"
        if problem:
            self._fail(events, PROTOCOL_ERROR, problem)
            return False
        self._opcode = opcode
        if opcode < CLOSE:
            self._in_message = not fin
        return True

    def _control_frame(self, events: list[Event]) -> None:
        payload, self._control = self._control, b""
        if self._opcode == PING:
            events.append(Ping(payload))
        elif self._opcode == CLOSE:
            if not payload:
                events.append(Close(None, ""))
            elif len(payload) == 1:
                self._fail(events, PROTOCOL_ERROR, "Close payload of one byte")
                return
            else:
                code = int.from_bytes(payload[:2], "big")
                if code not in _SENDABLE and not 3000 <= code <= 4999:
                    self._fail(events, PROTOCOL_ERROR, f"Close status code {code}")
                    return
                try:
                    reason = payload[2:].decode("utf-8")
                except UnicodeDecodeError:
                    self._fail(events, INVALID_DATA, "Close reason is not UTF-8")
                    return
                events.append(Close(code, reason))
            self.done = True
        # a PONG needs nothing


def unmask(data: bytes, mask: bytes, offset: int = 0) -> bytes:
    """XOR `data` with the 4-byte `mask`, starting `offset` bytes into the frame's payload."""
    size = len(data)
    if not size:
        return b""
    start = offset % 4
    key = (mask[start:] + mask[:start]) * (size // 4 + 1)
    return (int.from_bytes(data, "little") ^ int.from_bytes(key[:size], "little")).to_bytes(
        size, "little")


def frame(opcode: int, payload: bytes = b"") -> bytes:
    """A complete, unmasked server-to-client frame (RFC 6455 5.1: servers do not mask)."""
    size = len(payload)
    if size < 126:
        head = bytes((0x80 | opcode, size))
    elif size < 1 << 16:
        head = bytes((0x80 | opcode, 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 127)) + size.to_bytes(8, "big")
    return head + payload


def close_frame(code: int | None, reason: str = "") -> bytes:
    if code is None:
        return frame(CLOSE)
    return frame(CLOSE, code.to_bytes(2, "big") + reason.encode("utf-8")[:123])
