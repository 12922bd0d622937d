"""Faults in MQTT 5 enhanced authentication and AUTH (MQTT 5 sections 3.15 and 4.12).

The reference broker offers SCRAM-SHA-256 only with a password file, and a successful
exchange needs a user the case knows.  So the faults that need it install `_scram`: the
broker's `Security` gets a password file of one user made up here, in memory (anonymous
clients stay welcome, so discovery and the other cases run as usual), and the fault gives
the cases that user as the target's User Name / Password (`target=SCRAM_USER`).  Each fault
then removes one behaviour from the exchange: the AUTH the broker sends, the CONNACK ending
it, the proof check, the close after a failed re-authentication, the reaction to a
malformed AUTH.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from conformance.faults.base import Patcher, fault
from conformance.faults.connack import body_start
from mqttspec import Auth, Connack, Connect, Packet
from reference_broker import auth, outgoing
from reference_broker.auth import Security
from reference_broker.connection import Connection
from reference_broker.passwords import PasswordFile
from reference_broker.scram import MIN_ITERATIONS, ScramError, ScramServer

USER, PASSWORD = "mqttlab-fault-user", "mqttlab-fault-password"
SCRAM_USER = {"username": USER, "password": PASSWORD}  # the target's credentials


def _scram(p: Patcher) -> None:
    """The broker offers SCRAM-SHA-256 for USER (and still welcomes anonymous clients)."""
    passwords = PasswordFile()
    passwords.set(USER, PASSWORD, MIN_ITERATIONS)
    p.wrap(Security, "from_config", lambda original, config: Security(passwords, None, True))


@fault("auth.unknown-method-accepted",
       "MQTT 5: a CONNECT naming an Authentication Method the broker lacks is accepted",
       v5="MQTT-4.12.0-1", levels=(5,))
def unknown_method_accepted(p: Patcher) -> None:
    def connect(original: Any, conn: Connection, c: Connect, now: float) -> None:
        method = c.properties.authentication_method if c.protocol_level == 5 else None
        if method is not None and method not in conn.core.security.methods:
            c = replace(c, properties=replace(c.properties, authentication_method=None,
                                              authentication_data=None))
        original(conn, c, now)

    p.wrap(Connection, "_connect", connect)


@fault("auth.method-in-plain-connack",
       "MQTT 5: a CONNACK names an Authentication Method the CONNECT did not give",
       v5="MQTT-4.12.0-6", levels=(5,))
def method_in_plain_connack(p: Patcher) -> None:
    def add(conn: Connection, packet: Packet) -> Packet:
        if isinstance(packet, Connack) and (conn.auth is None or conn.auth.method is None):
            return replace(packet, properties=replace(packet.properties,
                                                      authentication_method="SCRAM-SHA-256"))
        return packet

    p.outgoing(add)


@fault("auth.challenge-says-success",
       "MQTT 5: the AUTH asking for more authentication data has Reason Code 0x00",
       v5="MQTT-4.12.0-2", levels=(5,),
       target=SCRAM_USER)
def challenge_success(p: Patcher) -> None:
    _scram(p)

    def rewrite(conn: Connection, packet: Packet) -> Packet:
        if isinstance(packet, Auth) and packet.reason_code == 0x18:
            return replace(packet, reason_code=0x00)
        return packet

    p.outgoing(rewrite)


@fault("auth.unlisted-reason-code",
       "MQTT 5: the broker's AUTH carries a Reason Code that is not an Authenticate code",
       v5="MQTT-3.15.2-1", levels=(5,),
       target=SCRAM_USER)
def unlisted_code(p: Patcher) -> None:
    _scram(p)

    def queue(original: Any, conn: Connection, data: bytes) -> bool:
        if data[:1] == b"\xf0":
            at = body_start(data)  # the Reason Code: first byte after the fixed header
            data = data[:at] + b"\x42" + data[at + 1:]
        return original(conn, data)  # type: ignore[no-any-return]

    p.wrap(Connection, "_queue", queue)


@fault("auth.method-not-repeated",
       "MQTT 5: AUTH names another method, and the successful CONNACK names none",
       v5="MQTT-4.12.0-5", levels=(5,),
       target=SCRAM_USER)
def method_not_repeated(p: Patcher) -> None:
    _scram(p)

    def rewrite(conn: Connection, packet: Packet) -> Packet:
        if isinstance(packet, Auth):
            return replace(packet, properties=replace(packet.properties,
                                                      authentication_method="SCRAM-SHA-1"))
        if isinstance(packet, Connack) and packet.properties.authentication_method:
            return replace(packet, properties=replace(
                packet.properties, authentication_method=None, authentication_data=None))
        return packet

    p.outgoing(rewrite)


@fault("auth.wrong-proof-accepted",
       "MQTT 5: a wrong SCRAM proof authenticates the client",
       v5=("MQTT-4.12.0-4", "MQTT-4.12.1-2"), levels=(5,),
       target=SCRAM_USER)
def wrong_proof_accepted(p: Patcher) -> None:
    _scram(p)

    def final(original: Any, server: ScramServer, data: bytes) -> bytes:
        try:
            return original(server, data)  # type: ignore[no-any-return]
        except ScramError:
            return b"v=AAAA"

    p.wrap(ScramServer, "final", final)


@fault("auth.failed-reauthentication-kept-open",
       "MQTT 5: a failed re-authentication is answered with DISCONNECT, but not closed",
       v5="MQTT-4.12.1-2", levels=(5,),
       target=SCRAM_USER)
def failed_reauth_open(p: Patcher) -> None:
    _scram(p)
    p.replace(auth, "_reauth_failed",
              lambda conn, reason, now: conn.send_disconnect(0x87, reason))


@fault("auth.diagnostics-beyond-maximum-packet-size",
       "MQTT 5: an AUTH keeps its Reason String past the client's Maximum Packet Size",
       v5=("MQTT-3.15.2-2", "MQTT-3.15.2-3"), levels=(5,),
       target=SCRAM_USER)
def diagnostics_beyond_limit(p: Patcher) -> None:
    _scram(p)
    p.replace(outgoing, "_fit", lambda conn, packet, rules, limit, data: data)
    p.replace(outgoing, "fits", lambda conn, data: True)


@fault("auth.reserved-flags-ignored",
       "MQTT 5: an AUTH with reserved fixed-header flags set is ignored, the connection open",
       v5="MQTT-3.15.1-1", levels=(5,),
       target=SCRAM_USER)
def reserved_flags_ignored(p: Patcher) -> None:
    _scram(p)

    def violation(original: Any, conn: Connection, exc: Any, now: float) -> None:
        if "MQTT-3.15.1-1" not in exc.statements:
            original(conn, exc, now)

    p.wrap(Connection, "violation", violation)
