"""Faults in CONNACK (MQTT 3.1.1 / 5.0 section 3.2): its place, Session Present, refusals,
its bytes, and what an MQTT 5 server declares and then keeps to.

Most are rewrites of the CONNACK on its way out; the byte-level ones (reserved flag bits, a
Reason Code outside the table, which the encoder would refuse to write) change the encoded
bytes in `Connection._queue`.  The capability faults set the limit in the configuration and
remove the behaviour that goes with it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from conformance.faults.base import Patcher, fault
from mqttspec import Connack, Connect, Packet
from reference_broker import handshake, outgoing, subscribing
from reference_broker.connection import Connection


@fault("connack.queued-messages-before-connack",
       "A resumed session's queued messages are sent before the CONNACK",
       v3="MQTT-3.2.0-1", v5="MQTT-3.2.0-1")
def connack_last(p: Patcher) -> None:
    def accept(original: Any, conn: Connection, *args: Any) -> None:
        held: list[Packet] = []
        real = conn.send

        def send(packet: Packet) -> bool:
            if isinstance(packet, Connack) and not held:
                held.append(packet)  # sent once the session's queue has gone out
                return True
            return real(packet)

        conn.send = send  # type: ignore[method-assign]
        try:
            original(conn, *args)
        finally:
            del conn.send
        for packet in held:
            real(packet)

    p.wrap(Connection, "accept", accept)


@fault("connack.session-present-inverted",
       "Session Present is the opposite of what the stored session state says",
       v3=("MQTT-3.2.2-1", "MQTT-3.2.2-2", "MQTT-3.2.2-3"),
       v5=("MQTT-3.2.2-2", "MQTT-3.2.2-3"), levels=(4, 5))
def session_present_inverted(p: Patcher) -> None:
    def invert(conn: Connection, packet: Packet) -> Packet:
        if isinstance(packet, Connack) and packet.reason_code == 0:
            return replace(packet, session_present=not packet.session_present)
        return packet

    p.outgoing(invert)


@fault("connack.refusal-with-session-present",
       "A refusing CONNACK says Session Present 1",
       v3="MQTT-3.2.2-4", v5="MQTT-3.2.2-6", levels=(4, 5))
def refusal_session_present(p: Patcher) -> None:
    def flag(conn: Connection, packet: Packet) -> Packet:
        if isinstance(packet, Connack) and packet.reason_code != 0:
            return replace(packet, session_present=True)
        return packet

    p.outgoing(flag)


@fault("connack.refusal-not-closed",
       "A refusing CONNACK is sent, but the connection stays open",
       v3="MQTT-3.2.2-5", v5="MQTT-3.2.2-7")
def refusal_open(p: Patcher) -> None:
    def refuse(original: Any, conn: Connection, code: int, now: float, reason: str = "") -> None:
        conn.send(Connack(reason_code=code, protocol_level=conn.level))
        conn.refused = True
        conn.state = "closed"  # nothing more is processed, but the socket stays open

    p.wrap(Connection, "refuse", refuse)


def body_start(data: bytes) -> int:
    """Where an encoded packet's variable header starts (after the Remaining Length)."""
    at = 1
    while data[at] & 0x80:
        at += 1
    return at + 1


def _connack_bytes(p: Patcher, change: Any) -> None:
    """`change(flags, code)` -> (flags, code) rewrites every encoded CONNACK sent."""
    def queue(original: Any, conn: Connection, data: bytes) -> bool:
        if data[:1] == b"\x20":
            at = body_start(data)
            data = data[:at] + bytes(change(data[at], data[at + 1])) + data[at + 2:]
        return original(conn, data)  # type: ignore[no-any-return]

    p.wrap(Connection, "_queue", queue)


@fault("connack.reserved-flag-bit-set",
       "MQTT 5: a CONNACK resuming a session has a reserved Connect Acknowledge Flags bit set",
       v5="MQTT-3.2.2-1", levels=(5,))
def reserved_flag(p: Patcher) -> None:
    # only with Session Present 1: the discovery probe's CONNACK is left alone
    _connack_bytes(p, lambda flags, code: (flags | 0x02 if flags & 0x01 else flags, code))


@fault("connack.unlisted-reason-code",
       "MQTT 5: a refusing CONNACK carries a Reason Code that is not a Connect Reason Code",
       v5="MQTT-3.2.2-8", levels=(5,))
def unlisted_code(p: Patcher) -> None:
    _connack_bytes(p, lambda flags, code: (flags, 0x70 if code else code))


@fault("connack.second-connect-gets-connack",
       "MQTT 5: a second CONNECT is answered with a second CONNACK before the close",
       v5="MQTT-3.2.0-2", levels=(5,))
def second_connack(p: Patcher) -> None:
    def receive(original: Any, conn: Connection, packet: Packet, now: float) -> None:
        if isinstance(packet, Connect) and conn.state == "open":
            conn.send(Connack(protocol_level=conn.level))
        original(conn, packet, now)

    p.wrap(Connection, "receive", receive)


@fault("connack.maximum-qos-undeclared",
       "MQTT 5: a broker limited to QoS 1 declares no Maximum QoS",
       v5="MQTT-3.2.2-9", config={"maximum_qos": 1}, levels=(5,))
def maximum_qos_undeclared(p: Patcher) -> None:
    def strip(conn: Connection, packet: Packet) -> Packet:
        if isinstance(packet, Connack):
            return replace(packet, properties=replace(packet.properties, maximum_qos=None))
        return packet

    p.outgoing(strip)


@fault("connack.subscribe-above-maximum-qos-refused",
       "MQTT 5: a broker limited to QoS 1 refuses subscriptions requesting QoS 2",
       v5="MQTT-3.2.2-10", config={"maximum_qos": 1}, levels=(5,))
def subscribe_refused(p: Patcher) -> None:
    def one(original: Any, conn: Connection, session: Any, sub: Any, *args: Any) -> int | None:
        if sub.qos > conn.config.maximum_qos:
            return 0x80
        return original(conn, session, sub, *args)  # type: ignore[no-any-return]

    p.wrap(subscribing, "_subscribe_one", one)


@fault("connack.will-qos-above-maximum-accepted",
       "MQTT 5: a Will QoS above the broker's Maximum QoS is accepted",
       v5="MQTT-3.2.2-12", config={"maximum_qos": 1}, levels=(5,))
def will_qos_accepted(p: Patcher) -> None:
    def refusal(original: Any, c: Connect, *args: Any) -> int | None:
        if c.will is not None:
            c = replace(c, will=replace(c.will, qos=0))
        return original(c, *args)  # type: ignore[no-any-return]

    p.wrap(handshake, "refusal", refusal)


@fault("connack.will-retain-unsupported-accepted",
       "MQTT 5: a Will Retain 1 is accepted by a broker without retained messages",
       v5="MQTT-3.2.2-13", config={"retain_available": False}, levels=(5,))
def will_retain_accepted(p: Patcher) -> None:
    def refusal(original: Any, c: Connect, *args: Any) -> int | None:
        if c.will is not None:
            c = replace(c, will=replace(c.will, retain=False))
        return original(c, *args)  # type: ignore[no-any-return]

    p.wrap(handshake, "refusal", refusal)


@fault("connack.diagnostics-beyond-maximum-packet-size",
       "MQTT 5: a CONNACK keeps its User Property past the client's Maximum Packet Size",
       v5=("MQTT-3.2.2-19", "MQTT-3.2.2-20"), config={"server_user_property": "mqttlab=fault"},
       levels=(5,))
def diagnostics_beyond_limit(p: Patcher) -> None:
    p.replace(outgoing, "_fit", lambda conn, packet, rules, limit, data: data)
    p.replace(outgoing, "fits", lambda conn, data: True)
