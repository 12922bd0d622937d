"""The suite's WebSocket transport (conformance/websocket.py) against scripted fake servers and
the reference broker's WebSocket listener: the opening handshake and its checks, client
framing (masked, one binary frame per sendall, Close before the half-close), server frames
(fragments, pings, Close, lengths of 126 and 127 forms) and the server's mistakes reported
clearly (wrong accept key, a subprotocol not offered, a text frame: MQTT-6.0.0-1)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from conformance.client import BrokerViolation, TestClient
from conformance.target import Target, TargetError
from conformance.websocket import (
    BINARY,
    TEXT,
    FrameViolation,
    HandshakeError,
    WebSocket,
    frame,
    open_websocket,
)
from conformance.wirelog import EventKind, WireLog
from mqttspec import Connack, Pingreq, Pingresp, encode
from reference_broker import BrokerConfig, ThreadedBroker

Script = Callable[[socket.socket, dict[str, str]], None]
RFC_KEY, RFC_ACCEPT = "dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455 1.3


def accept_of(key: str) -> str:
    magic = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    return base64.b64encode(hashlib.sha1(key.encode() + magic).digest()).decode()


def response(headers: dict[str, str], *, status: str = "101 Switching Protocols",
             protocol: str | None = "mqtt", accept: str | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Accept: {accept or accept_of(headers['sec-websocket-key'])}"]
    if protocol is not None:
        lines.append(f"Sec-WebSocket-Protocol: {protocol}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def server_frame(opcode: int, payload: bytes = b"", fin: bool = True,
                 mask: bytes = b"") -> bytes:
    size = len(payload)
    first = (0x80 if fin else 0) | opcode
    bit = 0x80 if mask else 0
    if size < 126:
        head = bytes([first, bit | size])
    elif size < 65536:
        head = bytes([first, bit | 126]) + size.to_bytes(2, "big")
    else:
        head = bytes([first, bit | 127]) + size.to_bytes(8, "big")
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if mask else payload
    return head + mask + body


def read_exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def read_frame(conn: socket.socket) -> tuple[bool, int, bool, bytes]:
    """A client frame: (FIN, opcode, masked, unmasked payload)."""
    b0, b1 = read_exact(conn, 2)
    size = b1 & 0x7F
    if size == 126:
        size = int.from_bytes(read_exact(conn, 2), "big")
    elif size == 127:
        size = int.from_bytes(read_exact(conn, 8), "big")
    mask = read_exact(conn, 4) if b1 & 0x80 else b""
    payload = read_exact(conn, size)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bool(b0 & 0x80), b0 & 0x0F, bool(b1 & 0x80), payload


class Servers:
    """One-connection servers: each reads the HTTP request, then runs `script(conn,
    headers)`; `join()` waits until every script has ended."""

    def __init__(self) -> None:
        self.servers: list[tuple[socket.socket, threading.Thread]] = []

    def __call__(self, script: Script) -> Target:
        server = socket.create_server(("127.0.0.1", 0))

        def serve() -> None:
            conn, _ = server.accept()
            with conn, contextlib.suppress(OSError, EOFError):
                conn.settimeout(3)
                head = b""
                while b"\r\n\r\n" not in head:
                    head += conn.recv(4096)
                lines = head.split(b"\r\n\r\n")[0].decode().split("\r\n")
                headers = {n.strip().lower(): v.strip()
                           for n, _, v in (line.partition(":") for line in lines[1:])}
                script(conn, headers)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        self.servers.append((server, thread))
        return Target(port=1883, websocket_port=server.getsockname()[1], timeout=1.0)

    def join(self) -> None:
        for server, thread in self.servers:
            thread.join(3)
            server.close()


@pytest.fixture
def ws_server() -> Iterator[Servers]:
    servers = Servers()
    yield servers
    servers.join()


def connect_raw(target: Target, **kwargs: object) -> WebSocket:
    assert target.websocket_port is not None
    sock = socket.create_connection(("127.0.0.1", target.websocket_port), timeout=1.0)
    return open_websocket(sock, "127.0.0.1", target.websocket_port, **kwargs)  # type: ignore[arg-type]


def test_accept_key_of_rfc_example() -> None:
    from conformance.websocket import accept_for
    assert accept_for(RFC_KEY) == RFC_ACCEPT


def test_handshake_request_and_selected_subprotocol(
        ws_server: Servers) -> None:
    got: dict[str, str] = {}

    def script(conn: socket.socket, headers: dict[str, str]) -> None:
        got.update(headers)
        conn.sendall(response(headers))
        read_frame(conn)

    ws = connect_raw(ws_server(script))
    assert ws.subprotocol == "mqtt"
    assert got["upgrade"].lower() == "websocket" and "upgrade" in got["connection"].lower()
    assert got["sec-websocket-version"] == "13"
    assert got["sec-websocket-protocol"] == "mqtt"
    assert len(base64.b64decode(got["sec-websocket-key"])) == 16
    assert got["host"].startswith("127.0.0.1:")
    ws.shutdown(socket.SHUT_WR)
    ws.close()


@pytest.mark.parametrize("answer, words", [
    (lambda h: response(h, accept="AAAAAAAAAAAAAAAAAAAAAAAAAAA="), "Sec-WebSocket-Accept"),
    (lambda h: response(h, protocol="mqttv5-other"), "'mqttv5-other' selected, which the client "
                                                     "did not offer"),
    (lambda h: response(h, status="400 Bad Request"), "status 400"),
    (lambda h: b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP response"),
    (lambda h: b"", "closed the connection during the WebSocket handshake"),
])
def test_bad_handshakes_are_reported(ws_server: Servers,
                                     answer: Callable[[dict[str, str]], bytes],
                                     words: str) -> None:
    def script(conn: socket.socket, headers: dict[str, str]) -> None:
        conn.sendall(answer(headers))

    with pytest.raises(HandshakeError) as caught:
        connect_raw(ws_server(script))
    assert words in str(caught.value)


def test_wrong_subprotocol_names_the_statement(ws_server: Servers) -> None:
    def script(conn: socket.socket, headers: dict[str, str]) -> None:
        conn.sendall(response(headers, protocol="chat"))

    with pytest.raises(HandshakeError) as caught:
        connect_raw(ws_server(script), protocols=("chat", "mqtt"), require_subprotocol="mqtt")
    assert caught.value.statements == ("MQTT-6.0.0-4",)
    assert caught.value.response is not None and caught.value.response.status == 101


def test_no_subprotocol_allowed_unless_required(ws_server: Servers) -> None:
    def script(conn: socket.socket, headers: dict[str, str]) -> None:
        conn.sendall(response(headers, protocol=None))
        read_frame(conn)

    ws = connect_raw(ws_server(script))
    assert ws.subprotocol is None
    ws.close()
    with pytest.raises(HandshakeError, match="None selected, not 'mqtt'"):
        connect_raw(ws_server(script), require_subprotocol="mqtt")


def test_client_frames_masked_one_binary_frame_per_sendall_then_close(
        ws_server: Servers) -> None:
    frames: list[tuple[bool, int, bool, bytes]] = []

    def script(conn: socket.socket, headers: dict[str, str]) -> None:
        conn.sendall(response(headers))
        for _ in range(4):
            frames.append(read_frame(conn))
        assert conn.recv(10) == b""  # the half-close follows the Close frame

    ws = connect_raw(ws_server(script))
    big = bytes(range(256)) * 300  # 76800 bytes: the 8-byte length form
    ws.sendall(b"\x01\x02\x03")
    ws.sendall(big[:200])  # the 2-byte length form
    ws.sendall(big)
    ws.shutdown(socket.SHUT_WR)
    ws.close()
    ws_server.join()
    assert [(f[1], f[2], f[3]) for f in frames[:3]] == [
        (BINARY, True, b"\x01\x02\x03"), (BINARY, True, big[:200]), (BINARY, True, big)]
    assert frames[3][:3] == (True, 0x8, True) and frames[3][3] == (1000).to_bytes(2, "big")


def test_frame_builder_any_opcode_fin_and_unmasked() -> None:
    assert frame(TEXT, b"ab", fin=False, mask=b"")[:2] == b"\x01\x02"
    raw = frame(0x3, b"xy", mask=b"\x01\x02\x03\x04")
    assert raw == b"\x83\x82\x01\x02\x03\x04" + bytes([ord("x") ^ 1, ord("y") ^ 2])


def test_recv_fragments_pings_and_close(ws_server: Servers) -> None:
    answers: list[tuple[bool, int, bool, bytes]] = []

    def script(conn: socket.socket, headers: dict[str, str]) -> None:
        conn.sendall(response(headers) + server_frame(BINARY, b"ab", fin=False)
                     + server_frame(0x9, b"hi") + server_frame(0x0, b"cd", fin=False)
                     + server_frame(0x0, b"", fin=True) + server_frame(BINARY, b"")
                     + server_frame(BINARY, b"e" * 300)
                     + server_frame(0x8, (1000).to_bytes(2, "big") + b"bye"))
        answers.append(read_frame(conn))  # the pong
        answers.append(read_frame(conn))  # our Close answering theirs

    ws = connect_raw(ws_server(script))
    ws.settimeout(1.0)
    data = b""
    while chunk := ws.recv(65536):
        data += chunk
    assert data == b"abcd" + b"e" * 300
    assert ws.close_code == 1000 and ws.close_reason == "bye"
    ws.close()
    ws_server.join()
    assert answers[0][1:] == (0xA, True, b"hi")
    assert answers[1][1] == 0x8 and answers[1][3] == (1000).to_bytes(2, "big")


@pytest.mark.parametrize("bad, statements, words", [
    (server_frame(TEXT, b"\xd0\x00"), ("MQTT-6.0.0-1",), "text frame"),
    (server_frame(0x3, b"\xd0\x00"), ("MQTT-6.0.0-1",), "reserved opcode 0x3"),
    (server_frame(BINARY, b"\xd0\x00", mask=b"\x01\x02\x03\x04"), (), "masked"),
    (server_frame(0x0, b"\xd0\x00"), (), "continuation frame with no message"),
    (server_frame(0x9, b"x" * 126), (), "bad control frame"),
])
def test_bad_server_frames_are_violations(ws_server: Servers, bad: bytes,
                                          statements: tuple[str, ...], words: str) -> None:
    closes: list[tuple[bool, int, bool, bytes]] = []

    def script(conn: socket.socket, headers: dict[str, str]) -> None:
        conn.sendall(response(headers) + bad)
        closes.append(read_frame(conn))

    ws = connect_raw(ws_server(script))
    with pytest.raises(FrameViolation) as caught:
        ws.recv()
    assert caught.value.statements == statements and words in str(caught.value)
    assert ws.recv() == b""  # the client has closed: nothing more is read
    ws.close()
    ws_server.join()
    assert closes and closes[0][1] == 0x8  # the client closed the connection


def test_test_client_turns_a_text_frame_into_a_broker_violation(
        ws_server: Servers) -> None:
    def script(conn: socket.socket, headers: dict[str, str]) -> None:
        conn.sendall(response(headers))
        read_frame(conn)  # CONNECT
        conn.sendall(server_frame(TEXT, b"\x20\x02\x00\x00"))
        read_frame(conn)

    log = WireLog()
    with TestClient(ws_server(script), log, level=4, transport="websocket") as client, \
            pytest.raises(BrokerViolation, match="text frame"):
        client.connect("c")
    violation = [e for e in log.events if e.kind is EventKind.BROKER_VIOLATION]
    assert violation and violation[0].statements == ("MQTT-6.0.0-1",)


def test_websocket_transport_needs_a_websocket_port() -> None:
    with pytest.raises(TargetError, match="no WebSocket port"):
        TestClient(Target(port=1), WireLog(), transport="websocket")
    with pytest.raises(ValueError, match="transport"):
        TestClient(Target(port=1), WireLog(), transport="quic")


def test_target_checks_websocket_fields() -> None:
    with pytest.raises(TargetError, match="WebSocket port"):
        Target(websocket_port=70000)
    with pytest.raises(TargetError, match="WebSocket path"):
        Target(websocket_path="mqtt")
    assert Target(websocket_port=8080, websocket_path="/ws").websocket_path == "/ws"


@pytest.mark.parametrize("level", [4, 5])
def test_against_the_reference_broker(level: int) -> None:
    broker = ThreadedBroker(BrokerConfig(websocket_port=0)).start()
    try:
        target = Target(port=broker.port, websocket_port=broker.ports["ws"], timeout=2.0)
        log = WireLog()
        with TestClient(target, log, level=level, transport="websocket") as client:
            assert isinstance(client.sock, WebSocket) and client.sock.subprotocol == "mqtt"
            assert isinstance(client.connect("ws-client"), Connack)
            client.sock.send_raw(frame(BINARY, encode(Pingreq(protocol_level=level))[:1])
                                 + frame(BINARY, encode(Pingreq(protocol_level=level))[1:]))
            assert isinstance(client.recv(), Pingresp)
            client.disconnect()
            assert all(f.opcode in (BINARY, 0x8) for f in client.sock.received)
    finally:
        broker.stop()
