"""Faults in Topic Aliases (MQTT 5 sections 3.1.2.11.5, 3.2.2.3.8, 3.3.2.3.4), both ways.

Client to server: what the broker receives is rewritten before it sees it (`incoming`), or a
violation it detects is ignored.  Server to client: the Topic Alias Maximum the client
declared is ignored, or mappings outlive their network connection.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from conformance.faults.base import Patcher, fault
from mqttspec import Packet, Publish
from reference_broker.connection import Connection


def _alias(packet: Packet) -> int | None:
    return packet.properties.topic_alias if isinstance(packet, Publish) else None


def _with_alias(packet: Publish, topic: str, alias: int | None) -> Publish:
    return replace(packet, topic=topic, properties=replace(packet.properties, topic_alias=alias))


@fault("alias.refuses-alias-at-maximum", "The Topic Alias equal to the server's maximum is "
       "refused as if above it", v5="MQTT-3.3.2-12", levels=(5,))
def refuses_top(p: Patcher) -> None:
    def bump(conn: Connection, packet: Packet) -> Packet:
        top = conn.config.topic_alias_maximum
        if isinstance(packet, Publish) and _alias(packet) == top:
            return _with_alias(packet, packet.topic, top + 1)
        return packet

    p.incoming(bump)


@fault("alias.ignores-remapping", "A Topic Name sent with an alias already mapped does not "
       "change the mapping", v5="MQTT-3.3.2-12", levels=(5,))
def ignores_remapping(p: Patcher) -> None:
    def keep_old(conn: Connection, packet: Packet) -> Packet:
        alias = _alias(packet)
        if isinstance(packet, Publish) and packet.topic and alias in conn.aliases_in:
            return _with_alias(packet, "", alias)  # delivered on the old Topic Name
        return packet

    p.incoming(keep_old)


@fault("alias.accepts-alias-above-maximum", "A Topic Alias above the server's maximum is "
       "taken as alias 1 (or ignored when the maximum is 0)",
       v5=("MQTT-3.3.2-9", "MQTT-3.2.2-17", "MQTT-3.2.2-18"), levels=(5,))
def accepts_above(p: Patcher) -> None:
    def clamp(conn: Connection, packet: Packet) -> Packet:
        alias, top = _alias(packet), conn.config.topic_alias_maximum
        if isinstance(packet, Publish) and alias is not None and alias > top:
            return _with_alias(packet, packet.topic, 1 if top else None)
        return packet

    p.incoming(clamp)


@fault("alias.accepts-alias-zero", "A PUBLISH with Topic Alias 0 is dropped, the connection "
       "left open", v5="MQTT-3.3.2-8", levels=(5,))
def accepts_zero(p: Patcher) -> None:
    def violation(original: Any, conn: Connection, exc: Any, now: float) -> None:
        if "MQTT-3.3.2-8" not in exc.statements:
            original(conn, exc, now)

    p.wrap(Connection, "violation", violation)


@fault("alias.unmapped-alias-dropped", "A PUBLISH with an empty Topic Name and an unmapped "
       "alias is dropped silently", v5="MQTT-3.3.2-7", cases=("alias.client-alias-unmapped",),
       levels=(5,))
def unmapped_dropped(p: Patcher) -> None:
    def drop(conn: Connection, packet: Packet) -> Packet | None:
        if isinstance(packet, Publish) and not packet.topic and \
                _alias(packet) not in conn.aliases_in:
            return None
        return packet

    p.incoming(drop)


def _keep_per_client(p: Patcher, attribute: str) -> None:
    """The connection's alias table (`aliases_in` or `aliases_out`) outlives it: the next
    connection with the same Client Identifier starts with it."""
    kept: dict[str, dict[Any, Any]] = {}

    def accept(original: Any, conn: Connection, *args: Any) -> None:
        setattr(conn, attribute, kept.setdefault(conn.client_id, {}))
        original(conn, *args)

    p.wrap(Connection, "accept", accept)


@fault("alias.keeps-client-mappings-across-connections", "The client's Topic Alias mappings "
       "are carried over to its next connection", v5="MQTT-3.3.2-7", levels=(5,))
def keeps_client_mappings(p: Patcher) -> None:
    _keep_per_client(p, "aliases_in")


@fault("alias.reuses-server-mappings-across-connections", "The server uses Topic Aliases it "
       "mapped on an earlier connection of the client", v5="MQTT-3.3.2-7", levels=(5,))
def reuses_server_mappings(p: Patcher) -> None:
    _keep_per_client(p, "aliases_out")


@fault("alias.server-ignores-client-maximum", "The server uses up to 10 Topic Aliases "
       "whatever Topic Alias Maximum the client declared",
       v5=("MQTT-3.1.2-26", "MQTT-3.1.2-27", "MQTT-3.3.2-11"), levels=(5,))
def ignores_client_maximum(p: Patcher) -> None:
    def accept(original: Any, conn: Connection, *args: Any) -> None:
        original(conn, *args)
        conn.alias_max_out = 10

    p.wrap(Connection, "accept", accept)
