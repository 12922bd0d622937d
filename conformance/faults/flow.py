"""Faults in flow control (MQTT 5 sections 3.3.4 and 4.9): the client's Receive Maximum
ignored, the quota freed too early or never opened, other packets held back with it, and a
Receive Maximum declared but not enforced."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from conformance.faults.base import Patcher, fault
from mqttspec import Packet, Puback, Pubcomp, Pubrec, Pubrel, Suback, Unsuback
from reference_broker import flows, handshake
from reference_broker.connection import Connection


def _set_after_accept(p: Patcher, **values: Any) -> None:
    def accept(original: Any, conn: Connection, *args: Any) -> None:
        original(conn, *args)
        for name, value in values.items():
            setattr(conn, name, value)

    p.wrap(Connection, "accept", accept)


@fault("flow.ignores-client-receive-maximum", "The client's Receive Maximum is ignored",
       v5=("MQTT-3.3.4-9", "MQTT-4.9.0-2"), levels=(5,))
def ignores_receive_maximum(p: Patcher) -> None:
    _set_after_accept(p, receive_maximum=65535)


@fault("flow.zero-initial-quota", "The send quota starts at 0: no QoS 1 or 2 PUBLISH is sent",
       v5="MQTT-4.9.0-1", levels=(5,))
def zero_quota(p: Patcher) -> None:
    _set_after_accept(p, receive_maximum=0)


@fault("flow.quota-freed-at-pubrec", "A QoS 2 PUBLISH stops counting against the quota at "
       "its PUBREC instead of its PUBCOMP", v5=("MQTT-3.3.4-9", "MQTT-4.9.0-2"), levels=(5,))
def freed_at_pubrec(p: Patcher) -> None:
    def pubrec(original: Any, conn: Connection, session: Any, a: Pubrec, now: float) -> None:
        entry = session.inflight.get(a.packet_id)
        original(conn, session, a, now)
        if entry is not None and entry.released and entry.sent:
            entry.sent = False  # PUBCOMP will not count it again
            conn.outstanding -= 1
            conn.pump(now)

    p.wrap(flows, "_pubrec", pubrec)


@fault("flow.holds-back-acks-at-zero-quota", "With the client's quota used up, "
       "acknowledgements to it are not sent", v5=("MQTT-3.3.4-10", "MQTT-4.9.0-3"), levels=(5,))
def holds_back(p: Patcher) -> None:
    held = (Suback, Unsuback, Puback, Pubrec, Pubrel, Pubcomp)

    def hold(conn: Connection, packet: Packet) -> Packet | None:
        full = conn.level == 5 and conn.outstanding >= conn.receive_maximum
        return None if full and isinstance(packet, held) else packet

    p.outgoing(hold)


@fault("flow.receive-maximum-not-enforced", "CONNACK declares Receive Maximum 4, but more "
       "unreleased QoS 2 messages are accepted", v5="MQTT-3.3.4-7", levels=(5,))
def not_enforced(p: Patcher) -> None:
    def declare(original: Any, *args: Any, **kwargs: Any) -> Any:
        return replace(original(*args, **kwargs), receive_maximum=4)

    p.wrap(handshake, "connack_properties", declare)
