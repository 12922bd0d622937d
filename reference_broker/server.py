"""The I/O layer: the embeddable `Broker` (its listeners, the core's timer) and `ThreadedBroker`.

Strategy: `Broker.start` opens the configured listeners (listeners.py: plain TCP always; TLS,
MQTT over WebSocket and WebSocket over TLS on request), each of whose connections is served by
one transport-agnostic `ClientLink` (link.py: bytes in -> Decoder -> engine -> bytes out,
CONNECT timeout, keep alive, flow control).  Time comes from the loop's monotonic clock; the
core's next Will / Session Expiry deadline is one timer here.  `stop` closes the listeners,
tells every client the server is going away (MQTT 5: DISCONNECT 0x8B) and writes the trace.

`Broker` is embeddable (`async with Broker(config) as broker: broker.port`, `broker.ports`
for every listener); `ThreadedBroker` runs one in a background thread with its own loop for
synchronous code such as tests.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from reference_broker.config import BrokerConfig
from reference_broker.core import Core
from reference_broker.link import ClientLink
from reference_broker.listeners import open_listeners

log = logging.getLogger("reference_broker")
T = TypeVar("T")


class Broker:
    """An embeddable reference broker; `start()`/`stop()` or `async with`."""

    def __init__(self, config: BrokerConfig | None = None, *,
                 trace_file: str | Path | None = None) -> None:
        self.config = config or BrokerConfig()
        self.core = Core(self.config)
        self.trace_file = trace_file
        self.clients: set[ClientLink] = set()
        self.unflushed: dict[ClientLink, None] = {}  # links with output waiting, in order
        self._servers: dict[str, asyncio.Server] = {}
        self._core_timer: asyncio.TimerHandle | None = None

    async def start(self) -> None:
        """Open every configured listener (`ListenerError`: one line saying why not)."""
        self._servers = await open_listeners(self)

    @property
    def ports(self) -> dict[str, int]:
        """The bound port of each listener: "tcp", and "tls", "ws", "wss" when configured."""
        if not self._servers:
            raise RuntimeError("the broker is not started")
        return {name: int(server.sockets[0].getsockname()[1])
                for name, server in self._servers.items()}

    @property
    def port(self) -> int:
        """The plain TCP listener's port."""
        return self.ports["tcp"]

    @property
    def host(self) -> str:
        return self.config.host

    async def stop(self) -> None:
        """Stop accepting, disconnect every client (MQTT 5: DISCONNECT 0x8B), write the trace."""
        servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.close()
        if self._core_timer is not None:
            self._core_timer.cancel()
            self._core_timer = None
        clients = list(self.clients)
        for client in clients:
            client.shutdown()
        if clients:
            waits = [client.closed() for client in clients]
            _, pending = await asyncio.wait(waits, timeout=2.0)
            if pending:
                for client in clients:
                    if not client.closed().done():
                        client.sink.abort()
        for server in servers:
            await server.wait_closed()
        self.write_trace()

    def write_trace(self, path: str | Path | None = None) -> None:
        target = path or self.trace_file
        if target is not None:
            self.core.trace.write(target)

    def trace_snapshot(self) -> dict[str, dict[str, int]]:
        return self.core.trace.snapshot()

    def output_waiting(self, link: ClientLink) -> None:
        """`link` has packets to write: they go out in one write per link, once the current
        callback (one read, one timer) has done all its work, instead of one system call per
        packet (a PUBLISH fanned out to many subscribers costs one write each, not more)."""
        if not self.unflushed:
            asyncio.get_running_loop().call_soon(self.flush_output)
        self.unflushed[link] = None

    def flush_output(self) -> None:
        links, self.unflushed = self.unflushed, {}
        for link in links:
            link.flush()

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
        if deadline is not None and timer is None and self._servers:
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
    def ports(self) -> dict[str, int]:
        return self.broker.ports

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
