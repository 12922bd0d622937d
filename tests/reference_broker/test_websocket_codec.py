"""The sans-IO WebSocket layer without sockets: hand-written RFC 6455 vectors, the handshake's
answers, the frame reader's events and refusals, and cutting the stream anywhere."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_broker import websocket as ws

from .ws_client import BINARY, CLOSE, CONT, PING, PONG, TEXT, client_frame

# RFC 6455 section 1.3's example: key "dGhlIHNhbXBsZSBub25jZQ==" gives this accept value
RFC_KEY, RFC_ACCEPT = "dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def request(*extra: str, protocols: str | None = "chat, mqtt") -> bytes:
    lines = ["GET /mqtt HTTP/1.1", "Host: server.example.com", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {RFC_KEY}",
             "Sec-WebSocket-Version: 13", *extra]
    if protocols is not None:
        lines.append(f"Sec-WebSocket-Protocol: {protocols}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_accept_key_rfc_vector() -> None:
    assert ws.accept_key(RFC_KEY) == RFC_ACCEPT


def test_handshake_selects_mqtt_and_keeps_the_bytes_after_it() -> None:
    hs = ws.Handshake()
    data = request() + b"\x82\x80...."
    for byte in data[:-7]:  # one byte at a time: nothing until the blank line
        assert hs.feed(bytes([byte])) is None
    result = hs.feed(data[-7:])
    assert result is not None and result.subprotocol == "mqtt"  # MQTT-6.0.0-4
    assert result.rest == b"\x82\x80...."
    head = result.response.decode()
    assert head.startswith("HTTP/1.1 101 Switching Protocols\r\n")
    assert f"Sec-WebSocket-Accept: {RFC_ACCEPT}\r\n" in head
    assert "Sec-WebSocket-Protocol: mqtt\r\n" in head and head.endswith("\r\n\r\n")


@pytest.mark.parametrize(("offered", "chosen"), [
    ("mqtt", "mqtt"), ("mqttv3.1, mqtt", "mqtt"), ("mqttv3.1", "mqttv3.1"),
    ("chat, mqtt, mqttv3.1", "mqtt")])
def test_subprotocol_choice(offered: str, chosen: str) -> None:
    result = ws.answer(request(protocols=offered)[:-4])
    assert result.subprotocol == chosen


def test_subprotocol_in_two_header_lines() -> None:
    result = ws.answer(request("Sec-WebSocket-Protocol: chat", protocols="mqtt")[:-4])
    assert result.subprotocol == "mqtt"


@pytest.mark.parametrize(("head", "status"), [
    (request(protocols=None), 400),  # no subprotocol: MQTT-6.0.0-3 broken by the client
    (request(protocols="chat"), 400),
    (request(protocols="MQTT"), 400),  # subprotocol names are case-sensitive
    (request().replace(b"GET", b"POST"), 405),
    (request().replace(b"HTTP/1.1", b"HTTP/1.0"), 400),
    (request().replace(b"Upgrade: websocket\r\n", b""), 426),
    (request().replace(b"Connection: Upgrade", b"Connection: keep-alive"), 400),
    (request().replace(b"Version: 13", b"Version: 8"), 426),
    (request().replace(RFC_KEY.encode(), b"c2hvcnQ="), 400),  # decodes to 5 bytes
    (request().replace(b"Host: server.example.com\r\n", b""), 400),
    (b"hello world\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nbad header\r\n\r\n", 400),
])
def test_refusals(head: bytes, status: int) -> None:
    result = ws.Handshake().feed(head)
    assert result is not None and result.subprotocol is None
    text = result.response.decode()
    assert text.startswith(f"HTTP/1.1 {status} ")
    assert "Connection: close\r\n" in text
    length = int(text.split("Content-Length: ")[1].split("\r\n")[0])
    assert len(text.split("\r\n\r\n", 1)[1].encode()) == length
    if status == 426 and b"Version: 8" in head:
        assert "Sec-WebSocket-Version: 13\r\n" in text


def test_binary_first_line_refused_at_once_and_long_head_refused() -> None:
    result = ws.Handshake().feed(b"\x10\x0c\x00\x04MQTT")  # an MQTT CONNECT, not HTTP
    assert result is not None and result.response.startswith(b"HTTP/1.1 400 ")
    hs = ws.Handshake()
    assert hs.feed(b"GET / HTTP/1.1\r\nX: " + b"a" * 4000) is None
    result = hs.feed(b"a" * 5000)
    assert result is not None and result.response.startswith(b"HTTP/1.1 431 ")


# -- frames --------------------------------------------------------------------------------

def test_rfc_example_masked_frame_as_binary() -> None:
    # RFC 6455 5.7 "A single-frame masked text message", opcode changed to binary:
    # 0x82 FIN+binary, 0x85 masked + length 5, mask 37 fa 21 3d, masked "Hello"
    data = bytes.fromhex("82 85 37 fa 21 3d 7f 9f 4d 51 58")
    assert ws.FrameReader().feed(data) == [ws.Data(b"Hello")]


def test_text_frame_fails_with_1003_before_its_payload() -> None:
    # RFC 6455 5.7's masked text frame: only its first two bytes are needed
    events = ws.FrameReader().feed(bytes.fromhex("81 85"))
    assert events == [ws.Fail(1003, "text frame", "MQTT-6.0.0-1")]


def test_unmasked_frame_fails() -> None:
    # RFC 6455 5.7 "Unmasked Ping request": 0x89 0x05 "Hello"
    events = ws.FrameReader().feed(bytes.fromhex("89 05 48 65 6c 6c 6f"))
    assert len(events) == 1 and isinstance(events[0], ws.Fail) and events[0].code == 1002


def test_ping_pong_close() -> None:
    reader = ws.FrameReader()
    data = (client_frame(PING, b"Hello") + client_frame(PONG, b"x")
            + client_frame(CLOSE, b"\x03\xe8bye") + client_frame(BINARY, b"after"))
    assert reader.feed(data) == [ws.Ping(b"Hello"), ws.Close(1000, "bye")]
    assert reader.done


@pytest.mark.parametrize(("frame", "code"), [
    (client_frame(BINARY, b"x", rsv=4), 1002),
    (client_frame(0x3, b"x"), 1002),  # reserved opcode
    (client_frame(0xB, b"x"), 1002),
    (client_frame(CONT, b"x"), 1002),  # continuation with nothing started
    (client_frame(PING, b"x", fin=False), 1002),  # fragmented control frame
    (client_frame(PING, b"x" * 126), 1002),  # control frame over 125 bytes
    (client_frame(CLOSE, b"\x03"), 1002),  # one-byte Close payload
    (client_frame(CLOSE, b"\x03\xed"), 1002),  # 1005 may not be sent
    (client_frame(CLOSE, b"\x03\xe8\xff"), 1007),  # reason not UTF-8
    (client_frame(BINARY, b"a", fin=False) + client_frame(BINARY, b"b"), 1002),
    (bytes.fromhex("82 ff 80 00 00 00 00 00 00 00") + b"mask", 1002),  # length's top bit
])
def test_protocol_errors(frame: bytes, code: int) -> None:
    events = ws.FrameReader().feed(frame)
    assert isinstance(events[-1], ws.Fail) and events[-1].code == code


def test_fragments_with_a_ping_between() -> None:
    data = (client_frame(BINARY, b"ab", fin=False) + client_frame(PING, b"p")
            + client_frame(CONT, b"", fin=False) + client_frame(CONT, b"cd"))
    events = ws.FrameReader().feed(data)
    assert events == [ws.Data(b"ab"), ws.Ping(b"p"), ws.Data(b"cd")]


def test_extended_lengths() -> None:
    for size in (125, 126, 65535, 65536):
        payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
        events = ws.FrameReader().feed(client_frame(BINARY, payload))
        assert b"".join(e.payload for e in events if isinstance(e, ws.Data)) == payload


def test_a_huge_declared_frame_holds_only_what_arrived() -> None:
    reader = ws.FrameReader()
    events = reader.feed(client_frame(BINARY, b"", length=1 << 62) + b"\x00" * 10)
    assert events == [ws.Data(ws.unmask(b"\x00" * 10, bytes.fromhex("37fa213d")))]
    assert reader._left == (1 << 62) - 10


@settings(max_examples=200, deadline=None, database=None)
@given(payloads=st.lists(st.binary(max_size=300), min_size=1, max_size=5),
       cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=8))
def test_any_cut_gives_the_same_bytes(payloads: list[bytes], cuts: list[int]) -> None:
    """Frames fed whole or cut anywhere give the same payload stream and controls."""
    data = b"".join(client_frame(BINARY if i == 0 else CONT, p, fin=i == len(payloads) - 1)
                    + client_frame(PING, b"%d" % i) for i, p in enumerate(payloads))
    whole = ws.FrameReader().feed(data)
    reader, pieces, start = ws.FrameReader(), [], 0
    for cut in sorted(c for c in cuts if c < len(data)) + [len(data)]:
        pieces.extend(reader.feed(data[start:cut]))
        start = cut
    assert not any(isinstance(e, ws.Fail) for e in whole)
    joined = b"".join(e.payload for e in pieces if isinstance(e, ws.Data))
    assert joined == b"".join(payloads)
    assert [e for e in pieces if isinstance(e, ws.Ping)] == [
        e for e in whole if isinstance(e, ws.Ping)]


def test_server_frames() -> None:
    assert ws.frame(BINARY, b"") == b"\x82\x00"
    assert ws.frame(BINARY, b"x" * 126)[:4] == b"\x82\x7e\x00\x7e"
    assert ws.frame(BINARY, b"x" * 65536)[:10] == b"\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00"
    assert ws.close_frame(1003) == b"\x88\x02\x03\xeb"
    assert ws.close_frame(None) == b"\x88\x00"
    assert TEXT == ws.TEXT
