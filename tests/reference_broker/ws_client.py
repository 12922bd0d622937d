"""A raw WebSocket client for the broker's WebSocket listener: any request, any frame.

Written from RFC 6455 independently of reference_broker/websocket.py (tests must not share a
mistake with the code under test): the client frame builder takes every field, wrong on
purpose if asked (unmasked, reserved bits, any opcode, any declared length).  Every read is
bounded by a timeout; `read_to_eof()` proves "the broker closed the connection".
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import ssl
import time
from dataclasses import dataclass, field

from mqttspec import Decoder, Packet, encode

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MASK = b"\x37\xfa\x21\x3d"  # the mask of RFC 6455 section 5.7's examples


def client_frame(opcode: int, payload: bytes = b"", *, fin: bool = True, masked: bool = True,
                 rsv: int = 0, length: int | None = None, mask: bytes = MASK) -> bytes:
    """A client-to-server frame; `length` overrides the declared payload length."""
    size = len(payload) if length is None else length
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    bit = 0x80 if masked else 0
    if size <= 125:
        head = bytes([first, bit | size])
    elif size <= 0xFFFF:
        head = bytes([first, bit | 126]) + size.to_bytes(2, "big")
    else:
        head = bytes([first, bit | 127]) + size.to_bytes(8, "big")
    if not masked:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case
    body: bytes = b""


@dataclass(frozen=True)
class Frame:
    fin: bool
    opcode: int
    payload: bytes

    @property
    def close_code(self) -> int | None:
        return int.from_bytes(self.payload[:2], "big") if len(self.payload) >= 2 else None


class WsClient:
    def __init__(self, port: int, level: int = 5, timeout: float = 5.0,
                 context: ssl.SSLContext | None = None) -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock = context.wrap_socket(sock, server_hostname="127.0.0.1") if context else sock
        self.timeout = timeout
        self.buffer = bytearray()
        self.decoder = Decoder(protocol_level=level, peer="server")
        self.pending: list[Packet] = []
        self.key = base64.b64encode(os.urandom(16)).decode()

    # -- the opening handshake -----------------------------------------------------------

    def request(self, protocols: str | None = "mqtt", raw: bytes | None = None) -> Response:
        """Send an Upgrade request (or `raw` bytes) and read the HTTP response head (and
        body, by Content-Length)."""
        if raw is None:
            lines = ["GET /mqtt HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket",
                     "Connection: Upgrade", f"Sec-WebSocket-Key: {self.key}",
                     "Sec-WebSocket-Version: 13"]
            if protocols is not None:
                lines.append(f"Sec-WebSocket-Protocol: {protocols}")
            raw = ("\r\n".join(lines) + "\r\n\r\n").encode()
        self.sock.sendall(raw)
        while b"\r\n\r\n" not in self.buffer:
            self._more()
        end = self.buffer.index(b"\r\n\r\n")
        head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        del self.buffer[:end + 4]
        response = Response(int(head[0].split(" ")[1]))
        for line in head[1:]:
            name, _, value = line.partition(":")
            response.headers[name.strip().lower()] = value.strip()
        size = int(response.headers.get("content-length", "0"))
        while len(self.buffer) < size:
            self._more()
        response.body, self.buffer[:size] = bytes(self.buffer[:size]), b""
        return response

    def open(self, protocols: str = "mqtt") -> Response:
        """A handshake that must succeed, with a correct Sec-WebSocket-Accept."""
        response = self.request(protocols)
        assert response.status == 101, response
        digest = hashlib.sha1((self.key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode())
        assert response.headers["sec-websocket-accept"] == base64.b64encode(
            digest.digest()).decode()
        return response

    # -- frames ------------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_frame(self, opcode: int, payload: bytes = b"", *, fin: bool = True,
                   masked: bool = True, rsv: int = 0, length: int | None = None) -> None:
        self.send(client_frame(opcode, payload, fin=fin, masked=masked, rsv=rsv, length=length))

    def send_packet(self, *packets: Packet | bytes) -> None:
        """Packets (encoded, or raw bytes) in one binary frame."""
        data = b"".join(p if isinstance(p, bytes) else encode(p) for p in packets)
        self.send_frame(BINARY, data)

    def recv_frame(self) -> Frame:
        """The next server frame; server frames must not be masked (RFC 6455 5.1)."""
        self._need(2)
        first, second = self.buffer[0], self.buffer[1]
        assert not second & 0x80, "the server masked a frame"
        size, at = second & 0x7F, 2
        if size >= 126:
            width = 2 if size == 126 else 8
            self._need(2 + width)
            size, at = int.from_bytes(self.buffer[2:2 + width], "big"), 2 + width
        self._need(at + size)
        frame = Frame(bool(first & 0x80), first & 0x0F, bytes(self.buffer[at:at + size]))
        del self.buffer[:at + size]
        return frame

    def recv_packet(self) -> Packet:
        """The next MQTT packet, read from binary frames (MQTT-6.0.0-1)."""
        while True:
            self.pending.extend(self.decoder)
            if self.pending:
                return self.pending.pop(0)
            frame = self.recv_frame()
            assert frame.opcode in (BINARY, CONT), f"non-binary frame {frame}"
            self.decoder.feed(frame.payload)

    def expect_close(self) -> Frame:
        """The next frame is the server's Close, then the connection ends."""
        frame = self.recv_frame()
        assert frame.opcode == CLOSE, frame
        assert self.read_to_eof() == b""
        return frame

    def read_to_eof(self) -> bytes:
        deadline = time.monotonic() + self.timeout
        out = bytes(self.buffer)
        self.buffer.clear()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("the broker did not close the connection")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError):
                data = b""
            if not data:
                return out
            out += data

    def _need(self, size: int) -> None:
        while len(self.buffer) < size:
            self._more()

    def _more(self) -> None:
        self.sock.settimeout(self.timeout)
        data = self.sock.recv(65536)
        if not data:
            raise AssertionError(f"connection closed by the broker; had {bytes(self.buffer)!r}")
        self.buffer += data

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> WsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
