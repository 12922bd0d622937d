"""Who gets a message: the broker-wide subscription index and the matching rules.

Strategy: dicts.  Non-shared subscriptions are kept by Topic Filter, then by Client
Identifier, in two dicts: filters without wildcards, which match exactly one Topic Name, the
identical string (so one lookup finds them), and filters with '+' or '#', read in full on every
PUBLISH.  Shared ones (MQTT 5 "$share/{ShareName}/{filter}") are kept by (ShareName, filter),
then by Client Identifier, and read in full too.  A filter starting with a wildcard is never
matched with a Topic Name starting with '$' (MQTT-4.7.2-1); the rest is
`mqttspec.topics.matches`, which compares without any normalisation (MQTT-4.7.3-4).

Overlapping non-shared subscriptions of one session give one copy of the message, at the
highest granted QoS of the matches (MQTT-3.3.5-1 / MQTT-3.3.4-2), carrying every matching
Subscription Identifier (MQTT-3.3.4-3, -4).  Its QoS is the lower of the published QoS and that
granted QoS (MQTT-3.8.4-6 / MQTT-3.8.4-8).  A shared subscription group gets one copy per
message, sent to one member chosen round robin among the connected members (any member when
none is connected), with that member's own granted QoS and Subscription Identifier
(MQTT-4.8.2-3, MQTT-3.3.4-5).  Each rule applied records its statement in the broker's trace,
under the protocol level of the subscriber's session.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mqttspec.topics import matches, split_shared
from reference_broker.model import Delivery, Message, SubOptions
from reference_broker.trace import Trace

if TYPE_CHECKING:
    from reference_broker.session import Session


@dataclass(slots=True)
class _Group:
    members: dict[str, SubOptions] = field(default_factory=dict)
    turn: int = 0  # round robin position


class SubscriptionIndex:
    __slots__ = ("_exact", "_wild", "_shared", "_trace")

    def __init__(self, trace: Trace | None = None) -> None:
        self._exact: dict[str, dict[str, SubOptions]] = {}  # filters without wildcards
        self._wild: dict[str, dict[str, SubOptions]] = {}  # filters with '+' or '#'
        self._shared: dict[tuple[str, str], _Group] = {}
        self._trace = trace or Trace()

    def _plain(self, topic_filter: str) -> dict[str, dict[str, SubOptions]]:
        """The dict that holds this non-shared filter."""
        return self._wild if "+" in topic_filter or "#" in topic_filter else self._exact

    def add(self, client_id: str, topic_filter: str, options: SubOptions) -> None:
        share, plain_filter = split_shared(topic_filter)
        if share is None:
            self._plain(plain_filter).setdefault(plain_filter, {})[client_id] = options
        else:
            self._shared.setdefault((share, plain_filter), _Group()).members[client_id] = options

    def remove(self, client_id: str, topic_filter: str) -> None:
        share, plain_filter = split_shared(topic_filter)
        if share is None:
            table = self._plain(plain_filter)
            subs = table.get(plain_filter)
            if subs is not None:
                subs.pop(client_id, None)
                if not subs:
                    del table[plain_filter]
            return
        group = self._shared.get((share, plain_filter))
        if group is not None:
            group.members.pop(client_id, None)
            if not group.members:
                del self._shared[(share, plain_filter)]

    def match(self, message: Message, sessions: Mapping[str, Session]
              ) -> list[tuple[str, Delivery]]:
        """(Client Identifier, Delivery) for every session that must receive `message`;
        `sessions` are the broker's, by Client Identifier."""
        found: dict[str, list[SubOptions]] = {}
        exact = self._exact.get(message.topic)  # the filter equal to the Topic Name, if any
        if exact is not None:
            self._collect(message, exact, found)
        if self._wild:
            self._match_wild(message, sessions, found)
        out = [(client_id, self._combine(message, opts, sessions[client_id].level))
               for client_id, opts in found.items()]
        if self._shared:
            self._match_shared(message, sessions, out)
        return out

    def _match_wild(self, message: Message, sessions: Mapping[str, Session],
                    found: dict[str, list[SubOptions]]) -> None:
        topic, hit = message.topic, self._trace.hit
        dollar = topic.startswith("$")
        for topic_filter, subs in self._wild.items():
            if dollar and topic_filter[0] in "+#":
                for client_id in subs:  # MQTT-4.7.2-1: a leading wildcard never matches '$'
                    hit(sessions[client_id].level, "MQTT-4.7.2-1", "MQTT-4.7.2-1")
                continue
            if matches(topic_filter, topic):
                self._collect(message, subs, found)

    def _match_shared(self, message: Message, sessions: Mapping[str, Session],
                      out: list[tuple[str, Delivery]]) -> None:
        """Add one Delivery per matching shared subscription group to `out`."""
        topic, hit = message.topic, self._trace.hit
        plain = len(out)
        for (_, topic_filter), group in self._shared.items():
            if matches(topic_filter, topic):
                client_id = _choose(group, sessions)
                level = sessions[client_id].level
                hit(level, "", "MQTT-4.8.2-3")  # the chosen member's own granted QoS
                out.append((client_id, self._combine(message, [group.members[client_id]],
                                                     level, shared=True)))
        if len(out) > plain and len({client_id for client_id, _ in out}) < len(out):
            hit(5, "", "MQTT-3.3.4-5")  # several copies, each with its own identifiers

    def _collect(self, message: Message, subs: dict[str, SubOptions],
                 found: dict[str, list[SubOptions]]) -> None:
        """Add the subscriptions of one matching filter to `found`, by Client Identifier."""
        for client_id, options in subs.items():
            if options.no_local and client_id == message.origin:
                self._trace.hit(5, "", "MQTT-3.8.3-3")  # No Local: not to the publisher
                continue
            if client_id in found:
                found[client_id].append(options)
            else:
                found[client_id] = [options]

    def _combine(self, message: Message, opts: list[SubOptions], level: int,
                 shared: bool = False) -> Delivery:
        hit = self._trace.hit
        if len(opts) == 1:  # the usual case: one subscription matched
            options = opts[0]
            granted = options.qos
            ids: tuple[int, ...] = () if options.subscription_id is None else (
                options.subscription_id,)
            retain = message.retain and options.retain_as_published
        else:
            granted = max(o.qos for o in opts)
            hit(level, "MQTT-3.3.5-1", "MQTT-3.3.4-2")  # the highest QoS of the overlaps
            ids = tuple(o.subscription_id for o in opts if o.subscription_id is not None)
            retain = message.retain and any(o.retain_as_published for o in opts)
        # Retain As Published (MQTT-3.3.1-12, -13); 3.x subscriptions never set it (MQTT-3.3.1-9)
        if retain:
            hit(level, "", "MQTT-3.3.1-13")  # RETAIN as the publisher set it
        return Delivery(message, min(message.qos, granted), retain, ids, shared)


def _choose(group: _Group, sessions: Mapping[str, Session]) -> str:
    members = list(group.members)
    start = group.turn % len(members)
    order = members[start:] + members[:start]
    chosen = next((client_id for client_id in order
                   if sessions[client_id].connection is not None), order[0])
    group.turn = members.index(chosen) + 1
    return chosen
