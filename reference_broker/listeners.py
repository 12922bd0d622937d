"""The broker's listeners: plain TCP, TLS, MQTT over WebSocket and WebSocket over TLS.

Strategy: each listener is an asyncio server whose protocol is a thin adapter between the
transport and a `ClientLink` (link.py), which holds everything MQTT (Decoder, engine,
CONNECT timeout, keep alive, flow control); the connection cap is the engine's.  TLS is the
standard `ssl` module under the same adapters: `StreamAdapter` for "tcp" and "tls",
`WebSocketAdapter` (the sans-IO handshake and frame reader of websocket.py) for "ws" and
"wss".  Every listener binds the configured host (127.0.0.1 unless told otherwise); port 0
lets the OS pick.  A TLS handshake must finish within the CONNECT timeout.  A bad certificate
file or a port that cannot be bound is one line (`ListenerError`), and listeners already
opened are closed again.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from reference_broker import websocket as ws
from reference_broker.config import BrokerConfig
from reference_broker.link import ClientLink

if TYPE_CHECKING:
    from reference_broker.server import Broker


class ListenerError(Exception):
    """A listener could not be opened; the message is one line meant for the user."""


@dataclass(frozen=True, slots=True)
class Listener:
    name: str  # "tcp", "tls", "ws" or "wss"
    port: int
    tls: bool
    websocket: bool


def configured(config: BrokerConfig) -> list[Listener]:
    """The listeners the configuration asks for; plain TCP always."""
    wanted = [Listener("tcp", config.port, False, False)]
    for name, port, tls, websocket in (("tls", config.tls_port, True, False),
                                       ("ws", config.websocket_port, False, True),
                                       ("wss", config.wss_port, True, True)):
        if port is not None:
            wanted.append(Listener(name, port, tls, websocket))
    return wanted


def server_context(config: BrokerConfig) -> ssl.SSLContext:
    """The TLS context of the "tls" and "wss" listeners."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    certfile, keyfile, cafile = config.tls_certfile, config.tls_keyfile, config.tls_cafile
    if certfile is None:
        raise ListenerError("option tls_certfile: a TLS listener needs a certificate")
    try:
        context.load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as exc:
        raise ListenerError(f"cannot load the TLS certificate {certfile!r} / key "
                            f"{keyfile!r}: {_why(exc)}") from None
    if cafile is not None:
        try:
            context.load_verify_locations(cafile)
        except (OSError, ssl.SSLError) as exc:
            raise ListenerError(f"cannot load the TLS CA file {cafile!r}: {_why(exc)}") from None
        context.verify_mode = ssl.CERT_OPTIONAL  # a certificate shown must be valid
    if config.tls_require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def _why(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return str(exc.reason or exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


async def open_listeners(broker: Broker) -> dict[str, asyncio.Server]:
    config = broker.config
    wanted = configured(config)
    context = server_context(config) if any(item.tls for item in wanted) else None
    loop = asyncio.get_running_loop()
    servers: dict[str, asyncio.Server] = {}
    try:
        for item in wanted:
            def factory(item: Listener = item) -> asyncio.Protocol:
                if item.websocket:
                    return WebSocketAdapter(broker)
                return StreamAdapter(broker)
            tls = context if item.tls else None
            try:
                servers[item.name] = await loop.create_server(
                    factory, config.host, item.port, ssl=tls,
                    ssl_handshake_timeout=config.connect_timeout if tls else None)
            except OSError as exc:
                raise ListenerError(f"cannot listen ({item.name}) on {config.host}:{item.port}:"
                                    f" {exc.strerror or exc}") from None
    except BaseException:
        for server in servers.values():
            server.close()
        raise
    return servers


class StreamAdapter(asyncio.Protocol):
    """TCP or TLS: the stream is the MQTT byte stream."""

    __slots__ = ("broker", "transport", "link")

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.transport: asyncio.Transport | None = None
        self.link: ClientLink | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.link = ClientLink(self.broker, self)

    def data_received(self, data: bytes) -> None:
        if self.link is not None:
            self.link.feed(data)

    def pause_writing(self) -> None:
        if self.link is not None:
            self.link.pause()

    def resume_writing(self) -> None:
        if self.link is not None:
            self.link.resume()

    def eof_received(self) -> bool | None:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        if self.link is not None:
            self.link.lost()

    # ByteSink

    def write(self, chunks: list[bytes]) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.writelines(chunks)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()  # after writing what is buffered

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class WebSocketAdapter(StreamAdapter):
    """MQTT over WebSocket: the HTTP handshake first, then MQTT bytes in binary frames.

    After sending its Close frame the server sends nothing more (RFC 6455 5.5.1) and closes
    the TCP connection at once (RFC 6455 7.1.1 lets the server close first); it does not wait
    for the client's answering Close.
    """

    __slots__ = ("handshake", "frames", "closing")

    def __init__(self, broker: Broker) -> None:
        super().__init__(broker)
        self.handshake: ws.Handshake | None = ws.Handshake()
        self.frames = ws.FrameReader()
        self.closing = False

    def data_received(self, data: bytes) -> None:
        link, transport = self.link, self.transport
        if link is None or transport is None or self.closing:
            return
        if self.handshake is not None:
            result = self.handshake.feed(data)
            if result is None:
                return
            self.handshake = None
            transport.write(result.response)
            if result.subprotocol is None:
                if result.statement:
                    link.hit(result.statement)
                self.closing = True
                transport.close()
                return
            if result.subprotocol == "mqtt":
                link.hit("MQTT-6.0.0-4")
            data = result.rest
        for event in self.frames.feed(data):
            if isinstance(event, ws.Data):
                link.hit("MQTT-6.0.0-2")  # the payload joins one stream, frames or not
                link.feed(event.payload)
            elif isinstance(event, ws.Ping):
                if not link.conn.paused:  # a client that does not read gets no pile of Pongs
                    self._send(ws.frame(ws.PONG, event.payload))  # RFC 6455 5.5.2, 5.5.3
            elif isinstance(event, ws.Close):
                self._shut(event.code)  # answer with its status code (RFC 6455 5.5.1)
            else:
                if event.statement:
                    link.hit(event.statement)
                self._shut(event.code, event.detail)
            if self.closing or link.conn.closed:
                break

    def _send(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and not self.closing and not transport.is_closing():
            transport.write(data)

    def _shut(self, code: int | None, reason: str = "") -> None:
        """Send our Close frame (once) and close the TCP connection after it."""
        self._send(ws.close_frame(code, reason))
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    # ByteSink

    def write(self, chunks: list[bytes]) -> None:
        if self.handshake is None:
            self._send(ws.frame(ws.BINARY, b"".join(chunks)))  # MQTT-6.0.0-1

    def close(self) -> None:
        if self.handshake is None:
            self._shut(ws.NORMAL)
        else:
            super().close()
