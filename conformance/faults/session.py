"""Faults in session state (MQTT 3.1.1 sections 3.1.2.4, 3.1.4 and 4.1; MQTT 5 sections
3.1.2.4, 3.1.2.11.2, 3.1.4, 3.14.2.2.2 and 4.1).

The patch points are the broker core's session book-keeping: `Core.attach` (a connection
binds to its session: Clean Start, resumption, takeover), `Core.deliver` (queueing for an
offline session), the Session Expiry Interval as `handshake.session_expiry` computes it and as
a DISCONNECT changes it (`Connection._disconnect_in`), and the takeover itself
(`Connection.take_over`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from conformance.faults.base import Patcher, fault
from mqttspec import Connect, Disconnect, Properties
from reference_broker import handshake
from reference_broker.connection import Connection
from reference_broker.core import Core
from reference_broker.session import Session


@fault("session.resume-loses-subscriptions",
       "A resumed session comes back without its subscriptions",
       v3=("MQTT-3.1.2-4", "MQTT-4.1.0-1"), v5=("MQTT-3.1.2-5", "MQTT-3.1.2-23"))
def resume_loses_subscriptions(p: Patcher) -> None:
    def attach(original: Any, core: Core, *args: Any) -> tuple[Session, bool]:
        session, present = original(core, *args)
        if present:
            for topic_filter in session.subscriptions:
                core.index.remove(session.client_id, topic_filter)
            session.subscriptions.clear()
        return session, present

    p.wrap(Core, "attach", attach)


@fault("session.offline-messages-dropped",
       "Messages for a session whose client is away are dropped, not stored",
       v3="MQTT-3.1.2-5", v5="MQTT-3.1.2-23")
def offline_dropped(p: Patcher) -> None:
    def deliver(original: Any, core: Core, session: Session, *args: Any) -> None:
        if session.connection is not None:
            original(core, session, *args)

    p.wrap(Core, "deliver", deliver)


@fault("session.clean-start-resumes",
       "Clean Start / CleanSession 1 resumes the stored session instead of discarding it",
       v3=("MQTT-3.1.2-6", "MQTT-3.1.4-3"), v5=("MQTT-3.1.2-4", "MQTT-3.1.4-4"))
def clean_start_resumes(p: Patcher) -> None:
    def attach(original: Any, core: Core, conn: Connection, client_id: str, clean: bool,
               expiry: int, now: float) -> tuple[Session, bool]:
        return original(core, conn, client_id, False, expiry, now)  # type: ignore[no-any-return]

    p.wrap(Core, "attach", attach)


@fault("session.client-ids-truncated",
       "Sessions are looked up by the ClientId without its last character",
       v3="MQTT-3.1.3-2", v5="MQTT-3.1.3-2")
def ids_truncated(p: Patcher) -> None:
    def attach(original: Any, core: Core, conn: Connection, client_id: str,
               *args: Any) -> tuple[Session, bool]:
        return original(core, conn, client_id[:-1] or client_id, *args)  # type: ignore[no-any-return]

    p.wrap(Core, "attach", attach)


@fault("session.takeover-leaves-old-connection-open",
       "A second connection with the same ClientId leaves the first one open",
       v3="MQTT-3.1.4-2", v5="MQTT-3.1.4-3")
def takeover_open(p: Patcher) -> None:
    p.replace(Connection, "take_over", lambda self, now: None)


@fault("session.takeover-without-disconnect",
       "MQTT 5: the connection taken over is closed without DISCONNECT 0x8E",
       v5="MQTT-3.1.4-3", levels=(5,))
def takeover_silent(p: Patcher) -> None:
    def take_over(original: Any, conn: Connection, now: float) -> None:
        conn.close(now, "session taken over", will=True)

    p.wrap(Connection, "take_over", take_over)


@fault("session.discarded-while-connected",
       "The subscriptions of a connected session that ends with its connection are dropped "
       "when another client connects", v3=("MQTT-4.1.0-2", "MQTT-4.1.0-1"), v5="MQTT-4.1.0-1")
def discarded_while_connected(p: Patcher) -> None:
    def attach(original: Any, core: Core, *args: Any) -> tuple[Session, bool]:
        for session in core.sessions.values():
            if session.connection is not None and session.expiry_interval <= 1:
                for topic_filter in session.subscriptions:
                    core.index.remove(session.client_id, topic_filter)
                session.subscriptions.clear()
        return original(core, *args)  # type: ignore[no-any-return]

    p.wrap(Core, "attach", attach)


@fault("session.expiry-0-kept",
       "MQTT 5: a session with Session Expiry Interval 0 outlives its connection",
       v5=("MQTT-4.1.0-2", "MQTT-3.1.2-23"), levels=(5,))
def expiry_zero_kept(p: Patcher) -> None:
    def session_expiry(original: Any, c: Connect, config: Any) -> int:
        expiry: int = original(c, config)
        return 60 if c.protocol_level == 5 and expiry == 0 else expiry

    p.wrap(handshake, "session_expiry", session_expiry)


@fault("session.expiry-never-elapses",
       "MQTT 5: an offline session is kept past its Session Expiry Interval",
       v5="MQTT-4.1.0-2", levels=(5,))
def expiry_never(p: Patcher) -> None:
    p.replace(Session, "offline_deadline", lambda self, now: None)


def _disconnect_with(p: Patcher, change: Any) -> None:
    """Every DISCONNECT from a client is handled as `change(conn, packet)` makes it."""
    def disconnect_in(original: Any, conn: Connection, session: Session, d: Disconnect,
                      now: float) -> None:
        original(conn, session, change(conn, d), now)

    p.wrap(Connection, "_disconnect_in", disconnect_in)


@fault("session.disconnect-expiry-ignored",
       "MQTT 5: the Session Expiry Interval on DISCONNECT is ignored",
       v5=("MQTT-4.1.0-2", "MQTT-3.1.2-23"), levels=(5,))
def disconnect_expiry_ignored(p: Patcher) -> None:
    _disconnect_with(p, lambda conn, d: replace(d, properties=Properties()))


@fault("session.disconnect-expiry-after-zero-applied",
       "MQTT 5: a DISCONNECT setting a Session Expiry after CONNECT gave 0 is obeyed",
       v5="MQTT-4.1.0-2", cases=("session.v5-disconnect-expiry-after-zero",), levels=(5,))
def disconnect_expiry_after_zero(p: Patcher) -> None:
    def change(conn: Connection, d: Disconnect) -> Disconnect:
        if d.properties.session_expiry_interval:
            conn.connect_expiry = d.properties.session_expiry_interval
        return d

    _disconnect_with(p, change)


@fault("session.end-deletes-retained-messages",
       "The retained messages a client published are deleted when its session ends",
       v3="MQTT-3.1.2-7", levels=(3, 4))
def end_deletes_retained(p: Patcher) -> None:
    def end_session(original: Any, core: Core, session: Session, now: float) -> None:
        original(core, session, now)
        for message in core.retained.matching("#", now):
            if message.origin == session.client_id:
                core.retained.store(replace(message, payload=b""))

    p.wrap(Core, "end_session", end_session)
