"""A raw-socket MQTT client for integration tests: sends any bytes, reads decoded packets.

Every read is bounded by a timeout; `read_to_eof()` proves "the broker closed the connection".
"""

from __future__ import annotations

import socket
import time

from mqttspec import Decoder, Packet, encode


class RawClient:
    def __init__(self, port: int, level: int = 5, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.decoder = Decoder(protocol_level=level, peer="server")
        self.timeout = timeout
        self.pending: list[Packet] = []

    def send(self, packet: Packet | bytes) -> None:
        self.sock.sendall(packet if isinstance(packet, bytes) else encode(packet))

    def recv(self) -> Packet:
        """The next packet from the broker (AssertionError on EOF or timeout)."""
        deadline = time.monotonic() + self.timeout
        while not self.pending:
            self.pending.extend(self.decoder)
            if self.pending:
                break
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = self.sock.recv(65536)
            if not data:
                raise AssertionError("connection closed by the broker")
            self.decoder.feed(data)
        return self.pending.pop(0)

    def read_to_eof(self) -> list[Packet]:
        """Everything the broker sends until it closes the connection (bounded in time)."""
        self.decoder.feed(self.read_bytes_to_eof())
        out, self.pending = self.pending + list(self.decoder), []
        return out

    def read_bytes_to_eof(self) -> bytes:
        deadline = time.monotonic() + self.timeout
        out = bytearray()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("the broker did not close the connection")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                return bytes(out)
            out += data

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
