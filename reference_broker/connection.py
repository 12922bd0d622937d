"""The protocol engine of one network connection: decoded packets in, encoded packets out.

Strategy: sans-IO.  The I/O layer (server.py) feeds `receive(packet, now)` with what its
Decoder produced, `violation(exc, now)` when the Decoder refused the bytes, `connection_lost`
when the socket closes, and calls `check_keep_alive(now)` when the deadline it was given
passes.  The engine appends encoded packets to `outbox` (calling `on_output` as the first one
arrives: the I/O layer then takes them all at once) and asks to close the connection by
calling `on_close`; unit tests simply read `outbox` and `closed`.

States: "new" (only CONNECT may arrive; then, while an MQTT 5 enhanced authentication runs,
only AUTH or DISCONNECT: `authenticating`), "open" (CONNACK 0x00 sent), "closed"
(nothing more is processed or sent: MQTT-3.1.4-5 / MQTT-3.1.4-6, MQTT-3.14.4-1).  Outgoing
messages wait in the session's queue and are sent by `pump()` while the client's Receive
Maximum allows (MQTT-3.3.4-9), after resending what an earlier connection left
unacknowledged (MQTT-4.4.0-1).  Application-message flows live in flows.py, subscribing.py
and delivery.py, authentication and authorization (who the client is, AUTH exchanges) in
auth.py, what may leave for an MQTT 5 client (Reason Codes, diagnostics, Maximum Packet Size)
in outgoing.py; this module is the connection's life cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from mqttspec import (
    Auth,
    Connack,
    Connect,
    Disconnect,
    Packet,
    Pingreq,
    Pingresp,
    Properties,
    ProtocolViolation,
    Publish,
)
from mqttspec import reason_codes as rc
from mqttspec.types import PacketType
from reference_broker import auth, delivery, flows, handshake, outgoing

if TYPE_CHECKING:
    from reference_broker.acl import Rules
    from reference_broker.core import Core
    from reference_broker.session import Session

# DISCONNECT reason codes a server may send (MQTT-3.14.2-1)
_SERVER_DISCONNECT = rc.ALLOWED_V5[PacketType.DISCONNECT] - rc.DISCONNECT_CLIENT_ONLY


class Connection:
    def __init__(self, core: Core, now: float) -> None:
        self.core = core
        self.config = core.config
        self.trace = core.trace
        self.state = "new"
        self.level = 4  # protocol level; known once CONNECT arrives
        self.client_id = ""
        self.session: Session | None = None
        self.outbox: list[bytes] = []
        self.on_output: Callable[[], None] | None = None
        self.on_close: Callable[[], None] | None = None
        self.close_reason = ""
        self.refused = False  # the CONNECT was refused
        self.last_received = now
        self.keep_alive = 0  # seconds; 0: no keep-alive timeout
        # what the client declared in CONNECT (MQTT 5), and per-connection send state
        self.receive_maximum = self.config.max_inflight
        self.max_packet_out: int | None = None
        self.problem_information = True
        self.connect_expiry = 0  # Session Expiry Interval as the CONNECT gave it
        self.outstanding = 0  # QoS 1/2 PUBLISH sent on this connection and unacknowledged
        self.resend_pending = False
        self.paused = False  # the transport's buffer is full: PUBLISH waits in the queue
        self.aliases_in: dict[int, str] = {}  # Topic Alias -> Topic Name, client to server
        self.aliases_out: dict[str, int] = {}  # Topic Name -> Topic Alias, server to client
        self.alias_max_out = 0
        # what the client may do, and who it is (auth.py; None: anonymous, no exchange).
        # Two attributes only: past 30, CPython stops sharing the instance dict's keys.
        self.acl: Rules | None = None  # topic rules; None: everything is allowed
        self.auth: auth.AuthState | None = None
        self._counted = True
        core.open_connections += 1

    def __repr__(self) -> str:
        return f"Connection({self.client_id!r}, level={self.level}, state={self.state})"

    @property
    def closed(self) -> bool:
        return self.state == "closed"

    @property
    def username(self) -> str | None:
        """The verified user name (None: anonymous)."""
        return None if self.auth is None else self.auth.username

    @property
    def authenticating(self) -> bool:
        """CONNECT received, enhanced authentication running, no CONNACK yet."""
        return self.auth is not None and self.auth.pending is not None

    def hit(self, v3: str = "", v5: str = "") -> None:
        self.trace.hit(self.level, v3, v5)

    # -- inputs from the I/O layer -----------------------------------------------------------

    def receive(self, packet: Packet, now: float) -> None:
        if self.state == "closed":
            if self.refused:
                self.hit("MQTT-3.1.4-5", "MQTT-3.1.4-6")  # nothing after a refused CONNECT
            return
        self.last_received = now
        if self.state == "new":
            if self.authenticating:
                auth.exchange_in(self, packet, now)  # only AUTH or DISCONNECT may come
                return
            assert isinstance(packet, Connect)  # the Decoder refuses anything else first
            self._connect(packet, now)
            return
        session = self.session
        assert session is not None
        if isinstance(packet, Publish):
            flows.publish_in(self, session, packet, now)
        elif type(packet) in flows.DISPATCHED:  # PUBACK .. PUBCOMP, SUBSCRIBE, UNSUBSCRIBE
            flows.dispatch(self, session, packet, now)
        elif isinstance(packet, Pingreq):
            self.hit("MQTT-3.12.4-1", "MQTT-3.12.4-1")
            self.send(Pingresp(protocol_level=self.level))
        elif isinstance(packet, Disconnect):
            self._disconnect_in(session, packet, now)
        elif isinstance(packet, Connect):
            self.hit("MQTT-3.1.0-2", "MQTT-3.1.0-2")  # a second CONNECT
            self.hit("", "MQTT-3.2.0-2")  # ... gets no second CONNACK
            self.protocol_error(rc.PROTOCOL_ERROR, "second CONNECT", now)
        elif isinstance(packet, Auth):
            auth.auth_in(self, packet, now)  # re-authentication (MQTT 5 section 4.12.1)

    def violation(self, exc: ProtocolViolation, now: float) -> None:
        """The Decoder refused the client's bytes."""
        if self.state == "closed":
            return
        if self.state == "new" and self.authenticating:
            self.trace.hit_ids(5, exc.statements)  # a bad packet during an AUTH exchange
            code = exc.reason_code
            self.refuse(code if code in rc.ALLOWED_V5[PacketType.CONNACK] else
                        rc.PROTOCOL_ERROR, now, exc.detail)
            return
        if self.state == "new":
            self._bad_connect(exc, now)
            return
        self.trace.hit_ids(self.level, exc.statements)
        self.protocol_error(exc.reason_code, exc.detail, now)

    def connection_lost(self, now: float) -> None:
        """The network connection is gone (closed by either side, or failed)."""
        if self._counted:
            self.core.open_connections -= 1
            self._counted = False
        if self.state == "open":
            self._close(now, "connection lost", will=True)
        self.state = "closed"

    def connect_timed_out(self, now: float) -> None:
        if self.state == "new":
            self._close(now, "no CONNECT in time", will=False)

    def check_keep_alive(self, now: float) -> float | None:
        """Close the connection if the keep-alive time has passed; else the next deadline."""
        if self.state != "open" or not self.keep_alive:
            return None
        deadline = self.last_received + 1.5 * self.keep_alive
        if now < deadline:
            return deadline
        self.hit("MQTT-3.1.2-24", "MQTT-3.1.2-22")
        if self.level == 5:
            self.send_disconnect(rc.KEEP_ALIVE_TIMEOUT, "")
        self._close(now, "keep alive timeout", will=True)
        return None

    def take_over(self, now: float) -> None:
        """Another connection with the same Client Identifier was accepted."""
        if self.level == 5:
            self.send_disconnect(rc.SESSION_TAKEN_OVER, "")
        self._close(now, "session taken over", will=True)

    def shutdown(self, now: float) -> None:
        """The server is stopping: no Will is published, the session state is lost anyway."""
        if self.state == "open" and self.level == 5:
            self.send_disconnect(rc.SERVER_SHUTTING_DOWN, "")
        self._close(now, "server shutting down", will=False)

    # -- CONNECT ------------------------------------------------------------------------------

    def _connect(self, c: Connect, now: float) -> None:
        self.level = c.protocol_level
        self.hit("MQTT-3.1.0-1", "MQTT-3.1.0-1")  # the first packet is a CONNECT
        if self.level == 5:  # what the server may send from now on, CONNACK and AUTH included
            self.max_packet_out = c.properties.maximum_packet_size
            self.problem_information = c.properties.request_problem_information != 0
        code = handshake.refusal(c, self.config, self.core.open_connections, self.trace,
                                 self.core.security.methods)
        if code is not None:
            self.refuse(code, now)
            return
        self.client_id = c.client_id or self.core.assign_client_id()  # ACL rules use it
        auth.connect_in(self, c, now)  # then accept(), refuse() or an AUTH exchange

    def accept(self, c: Connect, now: float, auth_properties: Properties | None = None
               ) -> None:
        """The CONNECT passed every check (and authentication): CONNACK 0x00."""
        level = self.level
        self.hit("MQTT-3.1.4-3", "MQTT-3.1.4-4")
        client_id, assigned = self.client_id, not c.client_id
        if assigned:
            self.hit("MQTT-3.1.3-6", "MQTT-3.1.3-6")
        props = c.properties
        expiry = handshake.session_expiry(c, self.config)
        self.keep_alive = c.keep_alive
        if level == 5:
            self.connect_expiry = props.session_expiry_interval or 0
            if self.config.server_keep_alive is not None:
                self.keep_alive = self.config.server_keep_alive
            self.receive_maximum = min(props.receive_maximum or 65535, self.config.max_inflight)
            self.hit("", "MQTT-4.9.0-1")
            self.alias_max_out = props.topic_alias_maximum or 0
        session, present = self.core.attach(self, client_id, c.clean_start, expiry, now)
        self.session = session
        if c.will is not None:
            self.hit("MQTT-3.1.2-8", "MQTT-3.1.2-7")  # stored with the session
        session.will, session.will_level = c.will, level
        self.state = "open"
        if c.clean_start:
            self.hit("MQTT-3.2.2-1", "MQTT-3.2.2-2")
        else:
            self.hit("MQTT-3.2.2-2" if present else "MQTT-3.2.2-3", "MQTT-3.2.2-3")
        self.hit("MQTT-3.1.4-4", "MQTT-3.1.4-5")
        self.hit("MQTT-3.2.0-1", "MQTT-3.2.0-1")
        connack = Connack(session_present=present and level > 3, protocol_level=level)
        if level == 5:
            self.hit("", "MQTT-3.2.2-1")  # reserved Connect Acknowledge Flags: 0
            connack = replace(connack, properties=handshake.connack_properties(
                c, self.config, client_id, assigned, expiry, self.trace, auth_properties))
        self.send(connack)
        if session.inflight:
            self.resend_pending = True
        self.pump(now)

    def refuse(self, code: int, now: float, reason: str = "") -> None:
        """CONNACK with a refusal code (MQTT 5: and a Reason String), then close."""
        self.hit("MQTT-3.2.2-4", "MQTT-3.2.2-6")  # Session Present 0 with a refusal
        self.hit("MQTT-3.2.2-5", "MQTT-3.2.2-7")  # ... and the connection is closed
        self.hit("", "MQTT-3.2.2-1")  # reserved Connect Acknowledge Flags: 0
        self.hit("", "MQTT-4.13.2-1")  # a Reason Code >= 0x80 closes the connection
        props = Properties(reason_string=reason[:200]) if reason and self.level == 5 else None
        self.send(Connack(session_present=False, reason_code=code, protocol_level=self.level,
                          properties=props or Properties()))
        self.refused = True
        self.auth = None
        self._close(now, f"CONNECT refused (0x{code:02X})", will=False)

    def _bad_connect(self, exc: ProtocolViolation, now: float) -> None:
        """The first packet was not a well-formed CONNECT (the decoder tells which Protocol
        Level it declared, if it got that far)."""
        level_hint = exc.protocol_level
        known = level_hint in (3, 4, 5)
        level = level_hint if level_hint in (3, 4, 5) else 4
        self.trace.hit_ids(level, exc.statements)
        if "MQTT-3.1.2-2" in exc.statements:
            # Unsupported Protocol Level: 3.1.1 answers 0x01 (MQTT-3.1.2-2), in the 3.x format
            # a client of any version can read; 5.0 leaves the answer optional.
            if not known:  # a version neither spec defines: the 5.0 rule applies too
                self.trace.hit(5, "", "MQTT-3.1.2-2")
            self.send(Connack(reason_code=handshake.UNACCEPTABLE_PROTOCOL_VERSION))
        elif level_hint == 5 and exc.reason_code in rc.ALLOWED_V5[PacketType.CONNACK]:
            # MQTT 5 section 4.13.1: a CONNACK with the Reason Code before closing
            self.level = 5
            self.send(Connack(reason_code=exc.reason_code, protocol_level=5))
        elif known and level < 5:
            self.trace.hit(level, "MQTT-3.2.2-6")  # no return code fits: close, no CONNACK
        self.trace.hit(level, "MQTT-3.1.4-1", "MQTT-3.1.4-1")
        self._close(now, f"bad CONNECT: {exc}", will=False)

    def _disconnect_in(self, session: Session, d: Disconnect, now: float) -> None:
        will = True
        if self.level < 5:
            self.hit("MQTT-3.14.4-3")
            self.hit("MQTT-3.1.2-10")
            will = False
        else:
            expiry = d.properties.session_expiry_interval
            if expiry is not None:
                if self.connect_expiry == 0 and expiry != 0:
                    # MQTT 5 section 3.14.2.2.2: a Protocol Error
                    self.protocol_error(rc.PROTOCOL_ERROR, "Session Expiry set on DISCONNECT "
                                        "after CONNECT gave 0", now)
                    return
                session.expiry_interval = min(expiry, self.config.session_expiry_max)
            if d.reason_code == rc.SUCCESS:
                self.hit("", "MQTT-3.14.4-3")
                self.hit("", "MQTT-3.1.2-10")
                will = False
        self._close(now, f"DISCONNECT 0x{d.reason_code:02X} from the client", will=will)

    # -- errors and closing -------------------------------------------------------------------

    def protocol_error(self, code: int, detail: str, now: float) -> None:
        """Close after a Malformed Packet or Protocol Error; MQTT 5 says why first."""
        self.hit("MQTT-4.8.0-1", "MQTT-4.13.1-1")
        if self.level == 5:
            self.hit("", "MQTT-4.13.2-1")  # a Reason Code >= 0x80 closes the connection
            self.send_disconnect(code if code in _SERVER_DISCONNECT else rc.PROTOCOL_ERROR,
                                 detail)
        self._close(now, f"protocol error 0x{code:02X}: {detail}", will=True)

    def close(self, now: float, reason: str, will: bool) -> None:
        """Close the network connection (a DISCONNECT, if any, was sent by the caller)."""
        self._close(now, reason, will)

    def send_disconnect(self, code: int, reason: str) -> None:
        if self.state != "open" or self.level < 5:
            return  # MQTT-3.14.0-1: only after a successful CONNACK
        self.hit("", "MQTT-3.14.0-1")
        self.hit("", "MQTT-3.14.2-2")  # never a Session Expiry Interval from the server
        packet = Disconnect(reason_code=code, protocol_level=5)
        if reason:
            packet = replace(packet, properties=Properties(reason_string=reason[:200]))
        self.send(packet)
        self.hit("", "MQTT-3.14.4-1")
        self.hit("", "MQTT-3.14.4-2")

    def _close(self, now: float, reason: str, will: bool) -> None:
        if self.state == "closed":
            return
        was_open = self.state == "open"
        self.state = "closed"
        self.close_reason = reason
        session, self.session = self.session, None
        if was_open and session is not None and session.connection is self:
            self.core.detach(session, now, publish_will=will)
        if self.on_close is not None:
            self.on_close()

    # -- output --------------------------------------------------------------------------------

    def send(self, packet: Packet) -> bool:
        """Encode and queue a packet for the client; False if it was not sent: the connection
        is closed, or the packet exceeds the client's Maximum Packet Size (outgoing.py)."""
        if self.state == "closed":
            return False
        data = outgoing.wire(packet) if self.level < 5 else outgoing.encode_for(self, packet)
        return data is not None and self._queue(data)

    def send_encoded(self, data: bytes) -> bool:
        """Queue a packet encoded beforehand (a PUBLISH from outgoing.publish_wire, a 3.x
        PUBACK); False as for `send`."""
        if self.state == "closed" or (self.level == 5 and not outgoing.fits(self, data)):
            return False
        return self._queue(data)

    def _queue(self, data: bytes) -> bool:
        if not self.outbox and self.on_output is not None:
            self.on_output()  # once: the I/O layer takes the whole outbox at a time
        self.outbox.append(data)
        return True

    def take_output(self) -> list[bytes]:
        out, self.outbox = self.outbox, []
        return out

    def pump(self, now: float) -> None:
        """Send what the session has waiting, as far as the client's quota allows."""
        session = self.session
        if self.state == "open" and session is not None and (session.queue
                                                             or self.resend_pending):
            delivery.pump(self, session, now)
