"""Faults in DISCONNECT handling (MQTT 3.1.1 / MQTT 5 section 3.14) and in PINGRESP (section
3.12): the Will a DISCONNECT discards or must leave, the DISCONNECT packets the server sends
(Reason Code, Session Expiry Interval, what follows, the close, the moment), and PINGRESP.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from conformance.faults.base import Patcher, fault
from mqttspec import Disconnect, Packet, Pingresp, Properties
from reference_broker.connection import Connection


@fault("disconnect.will-published-anyway", "A DISCONNECT does not discard the Will",
       v3="MQTT-3.14.4-3", v5="MQTT-3.14.4-3")
def will_published_anyway(p: Patcher) -> None:
    def disconnect_in(original: Any, conn: Connection, session: Any, d: Any, now: float
                      ) -> None:
        conn.close(now, "DISCONNECT, Will kept", will=True)

    p.wrap(Connection, "_disconnect_in", disconnect_in)


@fault("disconnect.will-dropped-on-error",
       "The Will is discarded when the server closes for a protocol error",
       v3="MQTT-3.1.2-8", v5="MQTT-3.1.2-8")
def will_dropped_on_error(p: Patcher) -> None:
    def protocol_error(original: Any, conn: Connection, *args: Any) -> None:
        if conn.session is not None:
            conn.session.will = None
        original(conn, *args)

    p.wrap(Connection, "protocol_error", protocol_error)


@fault("disconnect.reason-0x04-ignored", "MQTT 5: DISCONNECT 0x04 is taken as 0x00",
       v5="MQTT-3.1.2-8", levels=(5,))
def reason_0x04_ignored(p: Patcher) -> None:
    p.incoming(lambda conn, packet: replace(packet, reason_code=0) if isinstance(
        packet, Disconnect) else packet)


@fault("disconnect.reserved-flags-ignored",
       "A DISCONNECT with reserved flags set is taken as a normal DISCONNECT",
       v3="MQTT-3.14.1-1", v5="MQTT-3.14.1-1", levels=(4, 5))
def reserved_flags_ignored(p: Patcher) -> None:
    def violation(original: Any, conn: Connection, exc: Any, now: float) -> None:
        if "MQTT-3.14.1-1" in exc.statements and conn.session is not None:
            conn.receive(Disconnect(protocol_level=conn.level), now)
        else:
            original(conn, exc, now)

    p.wrap(Connection, "violation", violation)


@fault("disconnect.expiry-after-zero-accepted",
       "MQTT 5: a Session Expiry Interval on DISCONNECT after CONNECT gave 0 is ignored",
       cases=("disconnect.session-expiry-after-zero",), levels=(5,))
def expiry_after_zero(p: Patcher) -> None:
    def strip(conn: Connection, packet: Packet) -> Packet:
        if isinstance(packet, Disconnect) and packet.properties.session_expiry_interval:
            return replace(packet, properties=Properties())
        return packet

    p.incoming(strip)


def _server_disconnect(p: Patcher, change: Any) -> None:
    p.outgoing(lambda conn, packet: change(packet) if isinstance(packet, Disconnect)
               else packet)


@fault("disconnect.server-sends-session-expiry",
       "MQTT 5: the server's DISCONNECT carries a Session Expiry Interval",
       v5="MQTT-3.14.2-2", levels=(5,))
def server_session_expiry(p: Patcher) -> None:
    _server_disconnect(p, lambda d: replace(d, properties=replace(
        d.properties, session_expiry_interval=0)))


@fault("disconnect.server-uses-client-code",
       "MQTT 5: the server's DISCONNECT uses 0x04, a Reason Code only clients send",
       v5="MQTT-3.14.2-1", levels=(5,))
def server_client_code(p: Patcher) -> None:
    _server_disconnect(p, lambda d: replace(d, reason_code=0x04))


@fault("disconnect.packet-after-disconnect",
       "MQTT 5: a PINGRESP follows the server's DISCONNECT", v5="MQTT-3.14.4-1", levels=(5,))
def packet_after(p: Patcher) -> None:
    _server_disconnect(p, lambda d: [d, Pingresp(protocol_level=5)])


@fault("disconnect.open-after-disconnect",
       "MQTT 5: the server sends DISCONNECT for a protocol error but keeps the connection",
       v5="MQTT-3.14.4-2", levels=(5,))
def open_after(p: Patcher) -> None:
    def protocol_error(original: Any, conn: Connection, code: int, detail: str,
                       now: float) -> None:
        if conn.level == 5:
            conn.send_disconnect(0x82 if code == 0xA2 else code, detail)
        else:
            original(conn, code, detail, now)

    p.wrap(Connection, "protocol_error", protocol_error)


@fault("disconnect.before-connack",
       "MQTT 5: a bad CONNECT gets a DISCONNECT before its CONNACK",
       v5="MQTT-3.14.0-1", levels=(5,))
def before_connack(p: Patcher) -> None:
    def bad_connect(original: Any, conn: Connection, exc: Any, now: float) -> None:
        if exc.protocol_level == 5:
            conn.send(Disconnect(reason_code=0x82, protocol_level=5))
        original(conn, exc, now)

    p.wrap(Connection, "_bad_connect", bad_connect)


@fault("ping.no-pingresp", "PINGREQ is never answered", v3="MQTT-3.12.4-1",
       v5="MQTT-3.12.4-1")
def no_pingresp(p: Patcher) -> None:
    p.outgoing(lambda conn, packet: None if isinstance(packet, Pingresp) else packet)


@fault("ping.pingresp-waits-for-quota",
       "MQTT 5: PINGRESP is held back while the client's Receive Maximum is used up",
       v5="MQTT-3.3.4-10", levels=(5,))
def pingresp_waits(p: Patcher) -> None:
    p.outgoing(lambda conn, packet: None if isinstance(packet, Pingresp) and conn.level == 5
               and conn.outstanding >= conn.receive_maximum else packet)
