"""One network connection's MQTT side, whatever carries its bytes (TCP, TLS, WebSocket).

Strategy: the single place where bytes in become packets for the engine and the engine's
output leaves as bytes.  A transport adapter (listeners.py) creates a `ClientLink` when a
connection is accepted and calls `feed(data)` with the MQTT bytes it received (for WebSocket:
the unmasked payload of binary frames, MQTT-6.0.0-2), `pause()` / `resume()` from asyncio's
write flow control and `lost()` when the connection is gone; the link writes through the
adapter's `ByteSink`.  The link owns a `Decoder` (peer "client", the configured Maximum Packet
Size, so an oversized packet is refused from its header and never buffered) and a `Connection`
engine, whose output is written as soon as it is produced, whichever connection produced it.
Two kinds of per-connection timer live here: the CONNECT timeout (armed when the network
connection is accepted, so it also bounds a WebSocket handshake) and the keep-alive deadline.
Any exception escaping the engine is logged and aborts this connection only (a transient error
while processing a packet closes its network connection, MQTT-4.8.0-2): nothing a client sends
may stop the broker.  A client that stops reading pauses the transport; its messages
then wait in its capped session queue.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Protocol

from mqttspec import Decoder, ProtocolViolation
from reference_broker.connection import Connection

if TYPE_CHECKING:
    from reference_broker.server import Broker

log = logging.getLogger("reference_broker")


class ByteSink(Protocol):
    """What a transport adapter offers the link."""

    def write(self, chunks: list[bytes]) -> None:
        """Send these encoded MQTT packets (nothing once the connection is closing)."""

    def close(self) -> None:
        """Close the network connection after what is buffered has been written."""

    def abort(self) -> None:
        """Drop the network connection at once."""


class ClientLink:
    __slots__ = ("broker", "sink", "loop", "conn", "decoder", "pending_hits", "_timer",
                 "_done")

    def __init__(self, broker: Broker, sink: ByteSink) -> None:
        self.broker = broker
        self.sink = sink
        self.loop = asyncio.get_running_loop()
        self.pending_hits: list[str] = []  # transport statements waiting for the level
        self._done: asyncio.Future[None] | None = None
        self.conn = Connection(broker.core, self.loop.time())
        self.conn.on_output = self._output_waiting
        self.conn.on_close = self._close
        self.decoder = Decoder(peer="client", max_packet_size=broker.config.maximum_packet_size)
        broker.clients.add(self)
        self._timer: asyncio.TimerHandle | None = self.loop.call_later(
            broker.config.connect_timeout, self._connect_timeout)

    def __repr__(self) -> str:
        return f"ClientLink({self.conn!r})"

    # -- from the transport ----------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """MQTT bytes from the client, in order, cut anywhere."""
        conn = self.conn
        if conn.closed:
            return
        try:
            was_new = conn.state == "new"
            self.decoder.feed(data)
            now = self.loop.time()
            try:
                for packet in self.decoder:
                    conn.receive(packet, now)
                    if conn.closed:
                        break
            except ProtocolViolation as exc:
                conn.violation(exc, now)
            if was_new and conn.state != "new":
                self._flush_hits()
                if conn.state == "open":
                    self._arm_keep_alive(now)
        except Exception:  # a transient error: close this network connection only
            log.exception("internal error on %r; closing it", conn)
            conn.hit("MQTT-4.8.0-2")
            self.sink.abort()
        self.broker.schedule_core_timer()

    def hit(self, statement: str) -> None:
        """Record a transport statement (same ID in 3.1.1 and 5.0) under the connection's
        protocol level, once CONNECT has told it."""
        if self.conn.state == "new":
            if statement not in self.pending_hits:
                self.pending_hits.append(statement)
        else:
            self.conn.hit(statement, statement)

    def pause(self) -> None:
        self.conn.paused = True  # a client that does not read: stop feeding it messages

    def resume(self) -> None:
        self.conn.paused = False
        try:
            self.conn.pump(self.loop.time())
        except Exception:
            log.exception("internal error on %r; closing it", self.conn)
            self.sink.abort()

    def lost(self) -> None:
        """The network connection is gone (closed by either side, or failed)."""
        self.broker.clients.discard(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        try:
            self.conn.connection_lost(self.loop.time())
        except Exception:
            log.exception("internal error closing %r", self.conn)
        self._flush_hits()
        if self._done is not None and not self._done.done():
            self._done.set_result(None)
        self.broker.schedule_core_timer()

    # -- for the broker ----------------------------------------------------------------------

    def shutdown(self) -> None:
        """The broker is stopping: say so (MQTT 5) and close."""
        try:
            self.conn.shutdown(self.loop.time())
        except Exception:
            log.exception("internal error stopping %r", self.conn)
            self.sink.abort()
        self.sink.close()

    def closed(self) -> asyncio.Future[None]:
        """Resolved by `lost()`; made on demand, so an idle connection carries no future."""
        if self._done is None:
            self._done = self.loop.create_future()
            if self not in self.broker.clients:
                self._done.set_result(None)
        return self._done

    # -- engine hooks and timers -------------------------------------------------------------

    def _output_waiting(self) -> None:
        self.broker.output_waiting(self)

    def flush(self) -> None:
        """Write what the engine produced since the last flush (broker.flush_output)."""
        output = self.conn.take_output()
        if output:
            self.sink.write(output)

    def _close(self) -> None:
        self.flush()  # what the engine sent before closing goes out first
        self.sink.close()

    def _flush_hits(self) -> None:
        hits, self.pending_hits = self.pending_hits, []
        for statement in hits:
            self.conn.hit(statement, statement)

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
            self.sink.abort()
        self.broker.schedule_core_timer()
