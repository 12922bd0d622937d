"""Authentication and authorization: who a client is, and what it may publish and receive.

Strategy: `Security` holds what the configuration names (password file, ACL file, anonymous
access) and is loaded once with the broker core.  The functions below run on one connection,
as flows.py does, each check naming the statement it serves:

* `connect_in`: after handshake.refusal() (which refuses unsupported Authentication Methods
  with 0x8C, MQTT-4.12.0-1), either check the CONNECT's User Name / Password against the
  password file, or start the SCRAM-SHA-256 exchange of MQTT 5 section 4.12: the client-first
  message comes in the CONNECT, the server-first goes out in AUTH 0x18 (MQTT-4.12.0-2), the
  client-final comes in AUTH 0x18, the server-final goes out in the CONNACK 0x00, every AUTH
  and that CONNACK naming the CONNECT's method (MQTT-4.12.0-5).  Failures are CONNACK
  "Bad User Name or Password" (3.x 0x04, 5.0 0x86) for a wrong password, "Not authorized"
  (0x05 / 0x87) for anonymous clients when not allowed, a refused Will Topic or a failed
  SCRAM proof, then the connection closes (MQTT-3.1.4-2, MQTT-4.12.0-4).
* `exchange_in`: packets between CONNECT and CONNACK of an exchange: AUTH continues it,
  DISCONNECT ends it, anything else is a Protocol Error (MQTT-3.1.2-30), answered with
  CONNACK 0x82 since no DISCONNECT may precede the CONNACK (MQTT-3.14.0-1).
* `auth_in`: AUTH after the CONNACK is a re-authentication (MQTT 5 section 4.12.1), with the
  same method (MQTT-4.12.1-1) and the same user; it ends with AUTH 0x00, or with DISCONNECT
  0x87 and the close (MQTT-4.12.1-2).  AUTH from a client that did not use enhanced
  authentication is a Protocol Error (MQTT-4.12.0-7).

A User Name counts only once verified: without a password file it is ignored (the client is
anonymous for the ACL).  The ACL (acl.py) is applied on PUBLISH (flows.py), SUBSCRIBE
(subscribing.py) and at delivery (delivery.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mqttspec import Auth, Connect, Disconnect, Packet, Properties
from mqttspec import reason_codes as rc
from reference_broker.acl import Acl, AclError, Rules
from reference_broker.config import BrokerConfig, ConfigError
from reference_broker.passwords import PasswordFile, PasswordFileError
from reference_broker.scram import MECHANISM, ScramError, ScramServer

if TYPE_CHECKING:
    from reference_broker.connection import Connection

# MQTT 3.x CONNACK return codes (3.1.1 table 3.1; the same numbers in 3.1)
BAD_USER_NAME_OR_PASSWORD_V3 = 0x04
NOT_AUTHORIZED_V3 = 0x05


@dataclass(slots=True)
class AuthState:
    """A connection's identity and enhanced authentication (`Connection.auth`)."""

    username: str | None = None  # verified user name; None: anonymous
    method: str | None = None  # MQTT 5 enhanced authentication method in use
    exchange: ScramServer | None = None  # an AUTH exchange in progress
    pending: Connect | None = None  # the CONNECT waiting for that exchange to end


class Security:
    """What the configuration says about who may connect and what each client may do."""

    def __init__(self, passwords: PasswordFile | None = None, acl: Acl | None = None,
                 allow_anonymous: bool | None = None) -> None:
        self.passwords = passwords
        self.acl = acl
        # default: anonymous clients are welcome exactly when there is no password file
        self.allow_anonymous = passwords is None if allow_anonymous is None else allow_anonymous
        self.methods = frozenset({MECHANISM}) if passwords is not None else frozenset()

    @classmethod
    def from_config(cls, config: BrokerConfig) -> Security:
        try:
            passwords = (PasswordFile.load(config.password_file)
                         if config.password_file is not None else None)
            acl = Acl.load(config.acl_file) if config.acl_file is not None else None
        except (PasswordFileError, AclError) as exc:
            raise ConfigError(str(exc)) from None
        return cls(passwords, acl, config.allow_anonymous)

    def rules_for(self, username: str | None, client_id: str) -> Rules | None:
        return None if self.acl is None else self.acl.rules_for(username, client_id)

    def warnings(self, host: str) -> list[str]:
        """Start-up remarks on a configuration that is probably not meant."""
        out = []
        if self.allow_anonymous and host not in ("127.0.0.1", "::1", "localhost"):
            out.append(f"anonymous clients are accepted on {host}, not only on loopback")
        if self.acl is not None and self.acl.users and self.passwords is None:
            out.append("the ACL has user sections but without password_file no user name "
                       "is verified: every client gets the anonymous rules")
        return out


def _code(level: int, v3: int, v5: int) -> int:
    return v5 if level == 5 else v3


# -- CONNECT ---------------------------------------------------------------------------------------

def connect_in(conn: Connection, c: Connect, now: float) -> None:
    """Authenticate and authorize a CONNECT that passed handshake.refusal()."""
    level = conn.level
    method = c.properties.authentication_method if level == 5 else None
    conn.hit("", "MQTT-3.1.4-2")  # authentication and authorization checks
    if method is not None:
        _start(conn, c, method, now)
        return
    security = conn.core.security
    username: str | None = None
    passwords = security.passwords
    if passwords is not None and (c.username is not None or c.password is not None):
        if c.username is None or c.password is None or not passwords.check(
                c.username, c.password):
            conn.refuse(_code(level, BAD_USER_NAME_OR_PASSWORD_V3,
                              rc.BAD_USER_NAME_OR_PASSWORD), now, "bad user name or password")
            return
        username = c.username
    elif not security.allow_anonymous:
        conn.refuse(_code(level, NOT_AUTHORIZED_V3, rc.NOT_AUTHORIZED), now,
                    "a user name and password are required")
        return
    _authorized(conn, c, username, now, None)


def _authorized(conn: Connection, c: Connect, username: str | None, now: float,
                auth_properties: Properties | None) -> None:
    """The client is authenticated: check its Will Topic, then accept it."""
    rules = conn.core.security.rules_for(username, conn.client_id)
    if c.will is not None and rules is not None and not rules.may_write(c.will.topic):
        conn.refuse(_code(conn.level, NOT_AUTHORIZED_V3, rc.NOT_AUTHORIZED), now,
                    f"not authorized to publish to the Will Topic {c.will.topic!r}"[:200])
        return
    state = conn.auth
    if state is not None:
        state.username, state.pending = username, None
    elif username is not None:
        conn.auth = AuthState(username)
    conn.acl = rules
    conn.accept(c, now, auth_properties)


# -- enhanced authentication (MQTT 5 section 4.12) ----------------------------------------------

def _server(conn: Connection) -> ScramServer:
    passwords = conn.core.security.passwords
    assert passwords is not None  # SCRAM is offered only with a password file
    return ScramServer(passwords.lookup, unknown_iterations=passwords.usual_iterations)


def _auth(method: str, code: int, data: bytes, reason: str) -> Auth:
    return Auth(reason_code=code, protocol_level=5, properties=Properties(
        authentication_method=method, authentication_data=data, reason_string=reason))


def _start(conn: Connection, c: Connect, method: str, now: float) -> None:
    """CONNECT with a supported Authentication Method: answer the client-first message."""
    server = _server(conn)
    try:
        challenge = server.first(c.properties.authentication_data or b"")
    except ScramError as exc:
        conn.hit("", "MQTT-4.12.0-4")  # rejected: CONNACK >= 0x80, then close
        conn.refuse(rc.NOT_AUTHORIZED, now, f"{method}: {exc}")
        return
    conn.auth = AuthState(None, method, server, c)
    conn.hit("", "MQTT-4.12.0-2")  # more is needed: AUTH 0x18
    conn.hit("", "MQTT-4.12.0-5")  # with the CONNECT's Authentication Method
    conn.send(_auth(method, rc.CONTINUE_AUTHENTICATION, challenge, f"{method}: server-first"))


def exchange_in(conn: Connection, packet: Packet, now: float) -> None:
    """A packet between CONNECT and CONNACK while an authentication exchange runs."""
    state = conn.auth
    assert state is not None
    c, server, method = state.pending, state.exchange, state.method
    assert c is not None and server is not None and method is not None
    if isinstance(packet, Disconnect):
        conn.close(now, "DISCONNECT during authentication", will=False)  # no session yet
        return
    if not isinstance(packet, Auth):
        conn.hit("", "MQTT-3.1.0-2" if isinstance(packet, Connect) else "MQTT-3.1.2-30")
        conn.refuse(rc.PROTOCOL_ERROR, now, f"{type(packet).__name__.upper()} before CONNACK")
        return
    if packet.properties.authentication_method != method:
        conn.hit("", "MQTT-4.12.0-5")
        conn.refuse(rc.PROTOCOL_ERROR, now, "AUTH with another Authentication Method")
        return
    if packet.reason_code != rc.CONTINUE_AUTHENTICATION:
        conn.hit("", "MQTT-4.12.0-3")
        conn.refuse(rc.PROTOCOL_ERROR, now, "AUTH before CONNACK must be 0x18")
        return
    try:
        outcome = server.final(packet.properties.authentication_data or b"")
    except ScramError as exc:
        conn.hit("", "MQTT-4.12.0-4")
        conn.refuse(rc.NOT_AUTHORIZED, now, f"{method}: {exc}")
        return
    if c.username is not None and c.username != server.username:
        conn.hit("", "MQTT-4.12.0-4")
        conn.refuse(rc.NOT_AUTHORIZED, now, "the User Name is not the authenticated user")
        return
    state.exchange = None
    _authorized(conn, c, server.username, now, Properties(
        authentication_method=method, authentication_data=outcome))


def auth_in(conn: Connection, packet: Auth, now: float) -> None:
    """AUTH after the CONNACK: re-authentication (MQTT 5 section 4.12.1)."""
    state = conn.auth
    method = None if state is None else state.method
    if state is None or method is None:
        conn.hit("", "MQTT-4.12.0-7")  # no Authentication Method was given in CONNECT
        conn.protocol_error(rc.PROTOCOL_ERROR, "AUTH without enhanced authentication", now)
        return
    if packet.properties.authentication_method != method:
        conn.hit("", "MQTT-4.12.1-1")
        conn.protocol_error(rc.PROTOCOL_ERROR, "re-authentication with another method", now)
        return
    data = packet.properties.authentication_data or b""
    if packet.reason_code == rc.RE_AUTHENTICATE:
        if state.exchange is not None:
            conn.protocol_error(rc.PROTOCOL_ERROR, "re-authentication already running", now)
            return
        server = _server(conn)
        try:
            challenge = server.first(data)
        except ScramError as exc:
            _reauth_failed(conn, f"{method}: {exc}", now)
            return
        state.exchange = server
        conn.hit("", "MQTT-4.12.0-2")
        conn.hit("", "MQTT-4.12.0-5")
        conn.send(_auth(method, rc.CONTINUE_AUTHENTICATION, challenge,
                        f"{method}: server-first"))
        return
    running = state.exchange  # AUTH 0x18 (the Decoder refuses 0x00 from a client)
    if running is None:
        conn.protocol_error(rc.PROTOCOL_ERROR, "AUTH 0x18 without re-authentication", now)
        return
    state.exchange = None
    try:
        outcome = running.final(data)
    except ScramError as exc:
        _reauth_failed(conn, f"{method}: {exc}", now)
        return
    if running.username != conn.username:
        _reauth_failed(conn, "re-authenticated as another user", now)
        return
    conn.hit("", "MQTT-4.12.0-5")
    conn.send(_auth(method, rc.SUCCESS, outcome, f"{method}: re-authenticated"))


def _reauth_failed(conn: Connection, reason: str, now: float) -> None:
    conn.hit("", "MQTT-4.12.1-2")  # DISCONNECT with a Reason Code, then close
    conn.send_disconnect(rc.NOT_AUTHORIZED, reason)
    conn.close(now, f"re-authentication failed: {reason}", will=True)
