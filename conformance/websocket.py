"""The suite's WebSocket transport (RFC 6455, client side), for MQTT over WebSocket (section 6).

Strategy: written from RFC 6455 with the standard library alone (no code shared with the
reference broker or its tests, so the suite cannot inherit their mistakes).  `open_websocket`
runs the opening handshake on an already connected socket (plain or TLS) and checks the
server's answer (RFC 6455 section 4.1): status 101, `Upgrade: websocket`, `Connection:
Upgrade`, the Sec-WebSocket-Accept derived from our key, and a Sec-WebSocket-Protocol that
we offered; anything else raises `HandshakeError` saying what the server sent.  The returned
`WebSocket` behaves like the socket `TestClient` uses: `sendall` writes one masked binary
frame per call, `recv` returns the payload bytes of the next data frames (b"" at the end:
the server's Close frame or TCP EOF), `shutdown` sends our Close frame before the half-close.
Pings are answered with Pongs as they come.  Every server frame is checked: a frame that
breaks RFC 6455 (masked, reserved bits, unknown opcode, a bad control frame) or a data frame
that is not binary (MQTT-6.0.0-1) raises `FrameViolation`, after our Close frame is sent (the
recipient closes the connection).  For the cases, `frame()` builds any client frame (any
opcode, FIN, payload) and `send_raw` writes bytes as they are.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
OPCODE_NAMES = {CONTINUATION: "continuation", TEXT: "text", BINARY: "binary", CLOSE: "close",
                PING: "ping", PONG: "pong"}
MAX_HEAD = 16384  # bytes of HTTP response head we read before giving up


class WebSocketError(OSError):
    """The WebSocket layer failed (an OSError: to TestClient it is a broken connection)."""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names, joined values

    def describe(self) -> str:
        lines = [f"HTTP {self.status} {self.reason}"]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        return "; ".join(lines)


class HandshakeError(WebSocketError):
    """The server did not complete a valid opening handshake; `response` is what it sent
    (None when it closed or sent something that is not an HTTP response)."""

    def __init__(self, message: str, response: HttpResponse | None = None,
                 statements: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.response = response
        self.statements = statements

    def __str__(self) -> str:
        return self.message


class FrameViolation(WebSocketError):
    """A frame from the server broke RFC 6455 or MQTT-6.0.0-1 (`statements`)."""

    def __init__(self, message: str, statements: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.statements = statements

    def __str__(self) -> str:
        return self.message


def accept_for(key: str) -> str:
    """The Sec-WebSocket-Accept a server must return for `key` (RFC 6455 section 4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + GUID).digest()).decode("ascii")


def frame(opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0,
          mask: bytes | None = None) -> bytes:
    """A client-to-server frame (RFC 6455 section 5.2), masked with `mask` (random when None;
    b"" sends it unmasked, which a client must never do)."""
    size = len(payload)
    first = (0x80 if fin else 0) | (rsv & 0x7) << 4 | (opcode & 0x0F)
    key = os.urandom(4) if mask is None else mask
    bit = 0x80 if key else 0
    if size < 126:
        head = bytes((first, bit | size))
    elif size < 1 << 16:
        head = bytes((first, bit | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((first, bit | 127)) + size.to_bytes(8, "big")
    if not key:
        return head + payload
    return head + key + _xor(payload, key)


def _xor(data: bytes, key: bytes) -> bytes:
    if not data:
        return b""
    repeated = (key * (len(data) // 4 + 1))[:len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
        len(data), "big")


@dataclass(frozen=True, slots=True)
class FrameInfo:
    """One frame the server sent: opcode, FIN bit and payload length."""
    opcode: int
    fin: bool
    length: int

    def __str__(self) -> str:
        name = OPCODE_NAMES.get(self.opcode, f"opcode 0x{self.opcode:X}")
        return f"{name} frame{'' if self.fin else ' (FIN=0)'}, {self.length} bytes"


def open_websocket(sock: socket.socket, host: str, port: int, path: str = "/mqtt", *,
                   protocols: Sequence[str] = ("mqtt",),
                   require_subprotocol: str | None = None,
                   on_event: Callable[[str], None] | None = None) -> WebSocket:
    """Run the opening handshake on the connected `sock`; `protocols` are the subprotocols
    offered (empty: no Sec-WebSocket-Protocol header).  With `require_subprotocol`, a server
    that selects another one (or none) is refused with HandshakeError."""
    key = base64.b64encode(os.urandom(16)).decode("ascii")
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"GET {path} HTTP/1.1", f"Host: {authority}", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    if protocols:
        lines.append(f"Sec-WebSocket-Protocol: {', '.join(protocols)}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))
    response, rest = _read_response(sock)
    subprotocol = check_response(response, key, protocols, require_subprotocol)
    return WebSocket(sock, subprotocol, response, rest, on_event)


def _read_response(sock: socket.socket) -> tuple[HttpResponse, bytes]:
    data = b""
    while (end := data.find(b"\r\n\r\n")) < 0:
        if len(data) > MAX_HEAD:
            raise HandshakeError(f"no end of the HTTP response head in {MAX_HEAD} bytes")
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            raise HandshakeError("no complete HTTP response to the WebSocket handshake "
                                 f"(received {data[:200]!r})") from None
        if not chunk:
            raise HandshakeError("the server closed the connection during the WebSocket "
                                 f"handshake (received {data[:200]!r})")
        data += chunk
    lines = data[:end].decode("latin-1").split("\r\n")
    version, _, status_reason = lines[0].partition(" ")
    status, _, reason = status_reason.partition(" ")
    if not version.startswith("HTTP/") or not status.isdigit():
        raise HandshakeError(f"not an HTTP response: {lines[0][:200]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise HandshakeError(f"malformed HTTP header line {line[:200]!r}")
        key, value = name.strip().lower(), value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return HttpResponse(int(status), reason, headers), data[end + 4:]


def check_response(response: HttpResponse, key: str, offered: Sequence[str],
                   require_subprotocol: str | None = None) -> str | None:
    """The subprotocol the server selected, once its answer is judged valid (RFC 6455
    section 4.1, the client's checks of the server's handshake)."""
    def refuse(why: str, statements: tuple[str, ...] = ()) -> HandshakeError:
        return HandshakeError(f"WebSocket handshake refused: {why} (server sent "
                              f"{response.describe()})", response, statements)

    h = response.headers
    if response.status != 101:
        raise refuse(f"status {response.status}, not 101 Switching Protocols")
    if h.get("upgrade", "").strip().lower() != "websocket":
        raise refuse("the Upgrade header is not 'websocket'")
    if "upgrade" not in {t.strip().lower() for t in h.get("connection", "").split(",")}:
        raise refuse("the Connection header lacks 'Upgrade'")
    if h.get("sec-websocket-accept", "").strip() != accept_for(key):
        raise refuse(f"Sec-WebSocket-Accept is {h.get('sec-websocket-accept')!r}, expected "
                     f"{accept_for(key)!r} for our key {key!r}")
    if h.get("sec-websocket-extensions"):
        raise refuse("an extension the client did not offer was selected")
    selected = h.get("sec-websocket-protocol")
    if selected is not None:
        selected = selected.strip()
        if selected not in offered:  # and, not being "mqtt", against MQTT-6.0.0-4 too
            raise refuse(f"subprotocol {selected!r} selected, which the client did not offer "
                         f"(offered: {', '.join(offered) or 'none'})",
                         () if selected == "mqtt" else ("MQTT-6.0.0-4",))
    if require_subprotocol is not None and selected != require_subprotocol:
        raise refuse(f"subprotocol {selected!r} selected, not {require_subprotocol!r}",
                     ("MQTT-6.0.0-4",) if require_subprotocol == "mqtt" else ())
    return selected


class WebSocket:
    """An open WebSocket connection with the socket methods TestClient uses."""

    def __init__(self, sock: socket.socket, subprotocol: str | None, response: HttpResponse,
                 rest: bytes = b"", on_event: Callable[[str], None] | None = None) -> None:
        self.sock = sock
        self.subprotocol = subprotocol  # the Sec-WebSocket-Protocol the server returned
        self.response = response
        self.on_event = on_event
        self.received: list[FrameInfo] = []  # every frame the server sent, in order
        self.close_code: int | None = None  # of the server's Close frame
        self.close_reason = ""
        self.remote_closed = False  # the server's Close frame (or TCP EOF) came
        self.close_sent = False
        self._buffer = rest  # raw bytes read but not yet parsed into frames
        self._pending = b""  # data frame payload not yet returned by recv
        self._in_message = False  # a fragmented binary message awaits continuations
        self._timeout: float | None = sock.gettimeout()

    # -- the socket-like face ------------------------------------------------------------

    def settimeout(self, timeout: float | None) -> None:
        self._timeout = timeout

    def gettimeout(self) -> float | None:
        return self._timeout

    def sendall(self, data: bytes) -> None:
        """One masked binary frame (MQTT-6.0.0-1: MQTT packets travel in binary frames)."""
        self.send_raw(frame(BINARY, data))

    def send_raw(self, data: bytes) -> None:
        """Bytes written as they are (frames built with `frame()`)."""
        if self.close_sent:
            raise BrokenPipeError("the WebSocket is closing: no data after our Close frame")
        self.sock.sendall(data)

    def send_frame(self, opcode: int, payload: bytes = b"", *, fin: bool = True,
                   rsv: int = 0) -> bytes:
        """One masked frame of any opcode; returns the bytes written."""
        raw = frame(opcode, payload, fin=fin, rsv=rsv)
        self.send_raw(raw)
        return raw

    def recv(self, bufsize: int = 65536) -> bytes:
        """Payload bytes of the next data frames (at most `bufsize`); b"" once the server
        has closed.  Raises TimeoutError as a socket does, FrameViolation for a bad frame."""
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        while not self._pending:
            if self.remote_closed:
                return b""
            self._next_frame(deadline)
        data, self._pending = self._pending[:bufsize], self._pending[bufsize:]
        return data

    def shutdown(self, how: int) -> None:
        """Our Close frame first (status 1000), then the TCP half-close."""
        if how in (socket.SHUT_WR, socket.SHUT_RDWR):
            self._send_close(1000)
        self.sock.shutdown(how)

    def close(self) -> None:
        self.sock.close()

    # -- frames ----------------------------------------------------------------------------

    def _event(self, text: str) -> None:
        if self.on_event is not None:
            self.on_event(text)

    def _send_close(self, code: int | None, reason: str = "") -> None:
        if self.close_sent:
            return
        payload = b"" if code is None else code.to_bytes(2, "big") + reason.encode()[:123]
        with contextlib.suppress(OSError):  # the server may be gone already
            self.sock.sendall(frame(CLOSE, payload))
        self.close_sent = True

    def _fill(self, size: int, deadline: float | None) -> bool:
        """Read until `size` bytes are buffered; False at TCP EOF."""
        while len(self._buffer) < size:
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("no WebSocket frame within the time limit")
                self.sock.settimeout(remaining)
            else:
                self.sock.settimeout(None)
            chunk = self.sock.recv(65536)
            if not chunk:
                return False
            self._buffer += chunk
        return True

    def _fail(self, message: str, code: int = 1002,
              statements: tuple[str, ...] = ()) -> FrameViolation:
        """The server broke the protocol: we close the connection (RFC 6455 7.1.7)."""
        self._event(f"WebSocket: {message}; sending Close {code}")
        self._send_close(code)
        self.remote_closed = True
        return FrameViolation(message, statements)

    def _next_frame(self, deadline: float | None) -> None:
        """Read and handle one server frame (a partial frame stays buffered on timeout)."""
        if not self._fill(2, deadline):
            return self._eof()
        b0, b1 = self._buffer[0], self._buffer[1]
        fin, rsv, opcode = bool(b0 & 0x80), b0 & 0x70, b0 & 0x0F
        masked, length, need = bool(b1 & 0x80), b1 & 0x7F, 2
        if length == 126:
            need = 4
        elif length == 127:
            need = 10
        if not self._fill(need, deadline):
            return self._eof()
        if length == 126:
            length = int.from_bytes(self._buffer[2:4], "big")
        elif length == 127:
            length = int.from_bytes(self._buffer[2:10], "big")
        mask_size = 4 if masked else 0
        if not self._fill(need + mask_size + length, deadline):
            return self._eof()
        start = need + mask_size
        payload = self._buffer[start:start + length]
        if masked:
            payload = _xor(payload, self._buffer[need:start])
        self._buffer = self._buffer[start + length:]
        info = FrameInfo(opcode, fin, length)
        self.received.append(info)
        self._judge(info, payload, rsv, masked)
        return None

    def _judge(self, info: FrameInfo, payload: bytes, rsv: int, masked: bool) -> None:
        opcode = info.opcode
        if masked:
            raise self._fail(f"the server sent a masked {info} (RFC 6455 5.1)")
        if rsv:
            raise self._fail(f"the server set reserved bits in a {info} (RFC 6455 5.2)")
        if opcode >= CLOSE:
            if not info.fin or info.length > 125:
                raise self._fail(f"bad control frame: {info} (RFC 6455 5.5)")
            if opcode == CLOSE:
                return self._close_received(payload)
            if opcode == PING:
                self._event(f"WebSocket: ping from the server ({len(payload)} bytes), pong sent")
                if not self.close_sent:
                    self.sock.sendall(frame(PONG, payload))
                return None
            if opcode == PONG:
                return None
            raise self._fail(f"unknown opcode 0x{opcode:X} (RFC 6455 5.2)")
        if opcode == TEXT:  # MQTT-6.0.0-1: the server must send MQTT in binary frames
            raise self._fail(f"the server sent a {info}: MQTT travels in binary frames only",
                             1003, ("MQTT-6.0.0-1",))
        if opcode == BINARY:
            if self._in_message:
                raise self._fail("a new binary frame before the fragmented message ended "
                                 "(RFC 6455 5.4)")
        elif opcode == CONTINUATION:
            if not self._in_message:
                raise self._fail("a continuation frame with no message started (RFC 6455 5.4)")
        else:  # 0x3-0x7: reserved data opcodes, not binary either (MQTT-6.0.0-1)
            raise self._fail(f"the server sent a data frame with reserved opcode 0x{opcode:X}",
                             1002, ("MQTT-6.0.0-1",))
        self._in_message = not info.fin
        self._pending += payload
        return None

    def _close_received(self, payload: bytes) -> None:
        if len(payload) >= 2:
            self.close_code = int.from_bytes(payload[:2], "big")
            self.close_reason = payload[2:].decode("utf-8", "replace")
        self._event(f"WebSocket: Close frame from the server (status {self.close_code}"
                    + (f", {self.close_reason!r}" if self.close_reason else "") + ")")
        self._send_close(self.close_code)  # RFC 6455 5.5.1: answer with a Close frame
        self.remote_closed = True

    def _eof(self) -> None:
        if self._buffer:
            self._event(f"WebSocket: TCP EOF inside a frame ({len(self._buffer)} bytes left)")
        self.remote_closed = True
