"""The I/O layer: an asyncio TCP server feeding bytes to the sans-IO engine.

Strategy: one `asyncio.Protocol` per network connection owns a `Decoder` (peer "client", the
configured Maximum Packet Size, so an oversized packet is refused from its header and never
buffered) and a `Connection` engine.  Bytes in -> decoded packets -> engine; the engine's
output is written to the transport as soon as it is produced, whichever connection produced
it.  Time comes from the loop's monotonic clock; three kinds of timer drive the engine: the
CONNECT timeout, each connection's keep-alive deadline, and the core's next Will / Session
Expiry deadline.  Any exception escaping the engine is logged and closes that connection
only: nothing a client sends may stop the broker.  A client that stops reading pauses the
transport (asyncio write flow control); its messages then wait in its capped session queue.

`Broker` is embeddable (`async with Broker(config) as broker: broker.port`); `ThreadedBroker`
runs one in a background thread with its own loop for synchronous code such as tests.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar, cast

from mqttspec import Decoder, ProtocolViolation
from reference_broker.config import BrokerConfig
from reference_broker.connection import Connection
from reference_broker.core import Core
from reference_broker.handshake import peek_connect_level

log = logging.getLogger("reference_broker")
T = TypeVar("T")
_HEAD = 64  # bytes of a connection's start kept to read a refused CONNECT's Protocol Level


class _Client(asyncio.Protocol):
    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.head = b""
        self.done = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        now = self.loop.time()
        self.conn = Connection(broker.core, now)
        self.conn.on_output = self._flush
        self.conn.on_close = self._close
        self.decoder = Decoder(peer="client", max_packet_size=broker.config.maximum_packet_size)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.broker.clients.add(self)
        self._timer = self.loop.call_later(self.broker.config.connect_timeout,
                                           self._connect_timeout)

    def data_received(self, data: bytes) -> None:
        conn = self.conn
        if conn.closed:
            return
        try:
            was_new = conn.state == "new"
            if was_new and len(self.head) < _HEAD:
                self.head += data[: _HEAD - len(self.head)]
            self.decoder.feed(data)
            now = self.loop.time()
            try:
                for packet in self.decoder:
                    conn.receive(packet, now)
                    if conn.closed:
                        break
            except ProtocolViolation as exc:
                conn.violation(exc, now, peek_connect_level(self.head))
            if was_new and conn.state == "open":
                self.head = b""
                self._arm_keep_alive(now)
        except Exception:
            log.exception("internal error on %r; closing it", conn)
            self._abort()
        self.broker.schedule_core_timer()

    def pause_writing(self) -> None:
        self.conn.paused = True  # a client that does not read: stop feeding it messages

    def resume_writing(self) -> None:
        self.conn.paused = False
        try:
            self.conn.pump(self.loop.time())
        except Exception:
            log.exception("internal error on %r; closing it", self.conn)
            self._abort()

    def eof_received(self) -> bool | None:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.broker.clients.discard(self)
        if self._timer is not None:
            self._timer.cancel()
        try:
            self.conn.connection_lost(self.loop.time())
        except Exception:
            log.exception("internal error closing %r", self.conn)
        self.done.set()
        self.broker.schedule_core_timer()

    # -- engine hooks ----------------------------------------------------------------------

    def _flush(self) -> None:
        transport = self.transport
        out = self.conn.take_output()
        if transport is not None and not transport.is_closing():
            transport.writelines(out)

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()  # after writing what is buffered

    def _abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    # -- timers ----------------------------------------------------------------------------

    def _connect_timeout(self) -> None:
        self._timer = None
        self.conn.connect_timed_out(self.loop.time())

    def _arm_keep_alive(self, now: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self.conn.check_keep_alive(now)
        if deadline is not None:
            self._timer = self.loop.call_at(deadline, self._keep_alive, deadline)

    def _keep_alive(self, deadline: float) -> None:
        self._timer = None
        try:
            self._arm_keep_alive(max(self.loop.time(), deadline))
        except Exception:
            log.exception("internal error on %r; closing it", self.conn)
            self._abort()
        self.broker.schedule_core_timer()


class Broker:
    """An embeddable reference broker; `start()`/`stop()` or `async with`."""

    def __init__(self, config: BrokerConfig | None = None, *,
                 trace_file: str | Path | None = None) -> None:
        self.config = config or BrokerConfig()
        self.core = Core(self.config)
        self.trace_file = trace_file
        self.clients: set[_Client] = set()
        self._server: asyncio.Server | None = None
        self._core_timer: asyncio.TimerHandle | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Client(self), self.config.host,
                                                self.config.port)

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the broker is not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def host(self) -> str:
        return self.config.host

    async def stop(self) -> None:
        """Stop accepting, disconnect every client (MQTT 5: DISCONNECT 0x8B), write the trace."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        if self._core_timer is not None:
            self._core_timer.cancel()
            self._core_timer = None
        clients = list(self.clients)
        now = asyncio.get_running_loop().time()
        for client in clients:
            try:
                client.conn.shutdown(now)
            except Exception:
                log.exception("internal error stopping %r", client.conn)
                client._abort()
            if client.transport is not None and not client.transport.is_closing():
                client.transport.close()
        if clients:
            waits = [asyncio.ensure_future(client.done.wait()) for client in clients]
            _, pending = await asyncio.wait(waits, timeout=2.0)
            for client in clients:
                if not client.done.is_set():
                    client._abort()
            for task in pending:
                task.cancel()
        if server is not None:
            await server.wait_closed()
        self.write_trace()

    def write_trace(self, path: str | Path | None = None) -> None:
        target = path or self.trace_file
        if target is not None:
            self.core.trace.write(target)

    def trace_snapshot(self) -> dict[str, dict[str, int]]:
        return self.core.trace.snapshot()

    def schedule_core_timer(self) -> None:
        """(Re)arm the one timer that runs `core.tick` at the core's next deadline."""
        if not self.core.timers_changed:
            return
        self.core.timers_changed = False
        deadline = self.core.next_deadline()
        timer = self._core_timer
        if timer is not None and (deadline is None or timer.when() != deadline):
            timer.cancel()
            self._core_timer = timer = None
        if deadline is not None and timer is None and self._server is not None:
            loop = asyncio.get_running_loop()
            self._core_timer = loop.call_at(deadline, self._core_tick, deadline)

    def _core_tick(self, deadline: float) -> None:
        self._core_timer = None
        try:
            self.core.tick(max(asyncio.get_running_loop().time(), deadline))
        except Exception:
            log.exception("internal error in the core timer")
        self.schedule_core_timer()

    async def __aenter__(self) -> Broker:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()


class ThreadedBroker:
    """A `Broker` on its own event loop in a background thread, for synchronous callers."""

    def __init__(self, config: BrokerConfig | None = None, *,
                 trace_file: str | Path | None = None) -> None:
        self.broker = Broker(config, trace_file=trace_file)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        return self.broker.port

    @property
    def host(self) -> str:
        return self.broker.host

    def start(self, timeout: float = 10.0) -> ThreadedBroker:
        self._thread = threading.Thread(target=self._run, name="reference-broker", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout):
            raise RuntimeError("the reference broker did not start in time")
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self.broker.start())
        except BaseException as exc:
            self._error = exc
            self._started.set()
            loop.close()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def call(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        """Run `fn` on the broker's loop (to look at its state safely) and return its result."""
        async def run() -> T:
            return fn()
        return self._submit(run(), timeout)

    def trace_snapshot(self) -> dict[str, dict[str, int]]:
        return self.call(self.broker.trace_snapshot)

    def stop(self, timeout: float = 10.0) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        try:
            self._submit(self.broker.stop(), timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)

    def _submit(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        if self._loop is None:
            coro.close()
            raise RuntimeError("the broker is not started")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def __enter__(self) -> ThreadedBroker:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
