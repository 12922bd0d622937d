"""Faults in Will Messages (MQTT 3.1.1 section 3.1.2.5 to 3.1.2.7, MQTT 5 section 3.1.2.5 to
3.1.2.7 and 3.1.3.2).

The patch points: `Core._publish_will` (the Will goes out), `core.will_message` (what the
Will becomes: QoS, RETAIN, properties), `Core.detach` / `Core.end_session` (when, with the
Will Delay Interval), and the connection endings that must or must not publish it
(`Connection.protocol_error`, `take_over`, `_disconnect_in`, `_close`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from conformance.faults.base import Patcher, fault
from mqttspec import Disconnect
from reference_broker import core as core_module
from reference_broker.connection import Connection
from reference_broker.core import Core
from reference_broker.model import Message
from reference_broker.session import Session


@fault("will.never-published",
       "No Will Message is ever published",
       v3="MQTT-3.1.2-8", v5=("MQTT-3.1.2-7", "MQTT-3.1.2-8"))
def never_published(p: Patcher) -> None:
    def publish_will(original: Any, core: Core, session: Session, now: float) -> None:
        session.will = None
        session.will_due = None

    p.wrap(Core, "_publish_will", publish_will)


def _without_will(p: Patcher, owner: Any, name: str) -> None:
    """`owner.name(conn, ...)` forgets the connection's Will before it runs."""
    def drop_will(original: Any, conn: Connection, *args: Any) -> Any:
        if conn.session is not None:
            conn.session.will = None
        return original(conn, *args)

    p.wrap(owner, name, drop_will)


@fault("will.not-published-on-protocol-violation",
       "A connection closed for a protocol violation loses its Will",
       v3="MQTT-3.1.2-8", v5="MQTT-3.1.2-8", cases=("will.published-on-protocol",
                                                    "will.published-after-second"))
def not_on_protocol_error(p: Patcher) -> None:
    _without_will(p, Connection, "protocol_error")


@fault("will.not-published-on-takeover",
       "A connection taken over by the same ClientId loses its Will",
       v3="MQTT-3.1.4-2", v5="MQTT-3.1.4-3", cases=("will.published-on-takeover",))
def not_on_takeover(p: Patcher) -> None:
    _without_will(p, Connection, "take_over")


@fault("will.published-after-normal-disconnect",
       "The Will is published even after a normal DISCONNECT",
       v3=("MQTT-3.1.2-10", "MQTT-3.1.2-8"), v5=("MQTT-3.1.2-10", "MQTT-3.1.2-8"))
def after_disconnect(p: Patcher) -> None:
    def close(original: Any, conn: Connection, now: float, reason: str, will: bool) -> None:
        original(conn, now, reason, will or reason.startswith("DISCONNECT"))

    p.wrap(Connection, "_close", close)


@fault("will.deleted-by-any-disconnect",
       "MQTT 5: DISCONNECT 0x04 (with Will Message) deletes the Will like 0x00",
       v5=("MQTT-3.1.2-8", "MQTT-3.1.2-10"), levels=(5,))
def deleted_by_any(p: Patcher) -> None:
    def disconnect_in(original: Any, conn: Connection, session: Session, d: Disconnect,
                      now: float) -> None:
        original(conn, session, replace(d, reason_code=0), now)

    p.wrap(Connection, "_disconnect_in", disconnect_in)


def _will_message(p: Patcher, change: Any) -> None:
    """The application message a Will becomes is `change(message)`."""
    def will_message(original: Any, *args: Any) -> Message:
        return change(original(*args))  # type: ignore[no-any-return]

    p.wrap(core_module, "will_message", will_message)


@fault("will.retain-flag-inverted",
       "The Will is published retained when Will Retain is 0, and the other way round",
       v3=("MQTT-3.1.2-16", "MQTT-3.1.2-17"), v5=("MQTT-3.1.2-14", "MQTT-3.1.2-15"))
def retain_inverted(p: Patcher) -> None:
    _will_message(p, lambda m: replace(m, retain=not m.retain))


@fault("will.qos-downgraded",
       "The Will is published at QoS 0 whatever its Will QoS",
       v3="MQTT-3.1.2-8", v5="MQTT-3.1.2-8", cases=("will.qos-",))
def qos_zero(p: Patcher) -> None:
    _will_message(p, lambda m: replace(m, qos=0))


@fault("will.user-properties-reversed",
       "MQTT 5: the Will's User Properties are published in reverse order",
       v5="MQTT-3.1.3-10", levels=(5,))
def user_properties_reversed(p: Patcher) -> None:
    _will_message(p, lambda m: replace(m, properties=replace(
        m.properties, user_properties=tuple(reversed(m.properties.user_properties)))))


@fault("will.delay-ignored",
       "MQTT 5: the Will Delay Interval is ignored: the Will goes out at once",
       v5=("MQTT-3.1.2-8", "MQTT-3.1.3-9"), levels=(5,), cases=("will.v5-delay",))
def delay_ignored(p: Patcher) -> None:
    def detach(original: Any, core: Core, session: Session, *args: Any, **kw: Any) -> None:
        if session.will is not None:
            session.will = replace(session.will, properties=replace(
                session.will.properties, will_delay_interval=None))
        original(core, session, *args, **kw)

    p.wrap(Core, "detach", detach)


@fault("will.dropped-when-session-ends",
       "MQTT 5: a session that ends drops its pending Will instead of publishing it",
       v5=("MQTT-3.1.2-8", "MQTT-4.1.0-2"), levels=(5,), cases=("will.v5-session",))
def dropped_at_session_end(p: Patcher) -> None:
    def end_session(original: Any, core: Core, session: Session, now: float) -> None:
        session.will = None
        original(core, session, now)

    p.wrap(Core, "end_session", end_session)
