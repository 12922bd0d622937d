"""Faults in MQTT 5 shared subscriptions (section 4.8.2): one member per message at its own
QoS, No Local refused, and the message that must stay with its member (refused, session
ended, connection broken mid-QoS 2)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from conformance.faults.base import Patcher, fault
from conformance.faults.subscribe import subscribe_as_if
from mqttspec.topics import split_shared
from reference_broker import flows
from reference_broker.connection import Connection
from reference_broker.core import Core
from reference_broker.subscriptions import SubscriptionIndex


@fault("shared.every-member-gets-it",
       "A shared subscription is kept as an ordinary one: every member gets every message",
       v5="MQTT-4.8.2-3", cases=("shared.one-member",), levels=(5,))
def every_member(p: Patcher) -> None:
    def plain(original: Any, index: Any, client_id: str, topic_filter: str, *rest: Any) -> Any:
        return original(index, client_id, split_shared(topic_filter)[1], *rest)

    p.wrap(SubscriptionIndex, "add", plain)
    p.wrap(SubscriptionIndex, "remove", plain)


@fault("shared.ignores-member-qos",
       "A shared subscription's message goes out at its published QoS, not the member's",
       v5="MQTT-4.8.2-3", levels=(5,))
def ignores_member_qos(p: Patcher) -> None:
    def combine(original: Any, index: Any, message: Any, *rest: Any, **kw: Any) -> Any:
        delivery = original(index, message, *rest, **kw)
        return replace(delivery, qos=message.qos) if delivery.shared else delivery

    p.wrap(SubscriptionIndex, "_combine", combine)


@fault("shared.no-local-accepted", "No Local on a shared subscription is accepted",
       v5="MQTT-3.8.3-4", levels=(5,))
def no_local_accepted(p: Patcher) -> None:
    def violation(original: Any, conn: Connection, exc: Any, now: float) -> None:
        if "MQTT-3.8.3-4" not in exc.statements:
            original(conn, exc, now)  # the SUBSCRIBE is dropped, the connection stays open

    p.wrap(Connection, "violation", violation)


def _publish_again(conn: Connection, entry: Any, now: float) -> None:
    """Offer a shared subscription's message to the group again (another member's turn)."""
    if entry is not None and entry.shared:
        conn.core.publish(entry.delivery.message, now, conn.level)


@fault("shared.refused-sent-to-another",
       "A message a member refused with PUBACK / PUBREC 0x80 is offered to another member",
       v5="MQTT-4.8.2-6", levels=(5,))
def refused_sent_to_another(p: Patcher) -> None:
    def acked(original: Any, conn: Connection, session: Any, pid: int, qos: int, code: int,
              now: float) -> None:
        entry = session.inflight.get(pid)
        original(conn, session, pid, qos, code, now)
        if code >= 0x80:
            _publish_again(conn, entry, now)

    def pubrec(original: Any, conn: Connection, session: Any, a: Any, now: float) -> None:
        entry = session.inflight.get(a.packet_id)
        original(conn, session, a, now)
        if a.reason_code >= 0x80:
            _publish_again(conn, entry, now)

    p.wrap(flows, "_acked", acked)
    p.wrap(flows, "_pubrec", pubrec)


@fault("shared.session-end-redelivers",
       "When a member's session ends, its unacknowledged shared messages go to the group again",
       v5="MQTT-4.8.2-5", levels=(5,))
def session_end_redelivers(p: Patcher) -> None:
    def end_session(original: Any, core: Core, session: Any, now: float) -> None:
        kept = [e.delivery.message for e in session.inflight.values() if e.shared]
        original(core, session, now)
        for message in kept:
            core.publish(message, now, session.level)

    p.wrap(Core, "end_session", end_session)


@fault("shared.qos2-dropped-on-disconnect",
       "A shared subscription's unfinished QoS 2 delivery is forgotten when the member's "
       "connection breaks", v5="MQTT-4.8.2-4", levels=(5,))
def qos2_dropped(p: Patcher) -> None:
    def detach(original: Any, core: Core, session: Any, *rest: Any, **kw: Any) -> None:
        for pid in [pid for pid, e in session.inflight.items() if e.shared]:
            del session.inflight[pid]
        original(core, session, *rest, **kw)

    p.wrap(Core, "detach", detach)


@fault("shared.granted-when-unavailable",
       "No shared subscriptions declared in CONNACK, yet a '$share/...' filter is granted",
       cases=("shared.refused-when-unavailable",), levels=(5,),
       config={"shared_subscription_available": False})
def shared_granted(p: Patcher) -> None:
    subscribe_as_if(p, shared_subscription_available=True)
