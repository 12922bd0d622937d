"""Brokers that lack behaviour, for showing the suite's verdicts: each a small socket server on
127.0.0.1 and a port the OS picks, stopped by the context manager that started it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

V5_CONNACK = b"\x20\x03\x00\x00\x00"
V3_CONNACK = b"\x20\x02\x00\x00"


@contextmanager
def serving(handle: Callable[[socket.socket, threading.Event], None]) -> Iterator[int]:
    """A server on 127.0.0.1 (port the OS picks) running `handle(conn, stop)` in a thread per
    accepted connection; yields the port, stops accepting and tells handlers to stop on exit."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn, stop), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        server.close()


@contextmanager
def lenient_broker(refuse_levels: tuple[int, ...] = (),
                   v5_connack: bytes = V5_CONNACK) -> Iterator[int]:
    """Answers every CONNECT with a CONNACK (a refusal 0x01 for `refuse_levels`) and never
    closes anything: it lacks every behaviour that ends in a close."""
    def handle(conn: socket.socket, stop: threading.Event) -> None:
        with conn:
            conn.settimeout(5)
            try:
                while (data := conn.recv(4096)) and not stop.is_set():
                    if data[0] != 0x10:
                        continue
                    level = data[8] if data[4:8] == b"MQTT" else 3
                    if level in refuse_levels:
                        conn.sendall(b"\x20\x02\x00\x01")
                    else:
                        conn.sendall(v5_connack if level == 5 else V3_CONNACK)
            except OSError:
                pass

    with serving(handle) as port:
        yield port
