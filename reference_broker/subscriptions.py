"""Who gets a message: the broker-wide subscription index and the matching rules.

Strategy: two dicts, read in full on every PUBLISH (simple before fast).  Non-shared
subscriptions are kept by Topic Filter, then by Client Identifier; shared ones (MQTT 5
"$share/{ShareName}/{filter}") by (ShareName, filter), then by Client Identifier.  Matching
uses `mqttspec.topics.matches`, which keeps '$' topics away from leading wildcards
(MQTT-4.7.2-1) and compares without any normalisation (MQTT-4.7.3-4).

Overlapping non-shared subscriptions of one session give one copy of the message, at the
highest granted QoS of the matches (MQTT-3.3.5-1 / MQTT-3.3.4-2), carrying every matching
Subscription Identifier (MQTT-3.3.4-3, -4).  Its QoS is the lower of the published QoS and that
granted QoS (MQTT-3.8.4-6 / MQTT-3.8.4-8).  A shared subscription group gets one copy per
message, sent to one member chosen round robin among the connected members (any member when
none is connected), with that member's own Subscription Identifier (MQTT-3.3.4-5).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mqttspec.topics import matches, split_shared
from reference_broker.model import Delivery, Message, SubOptions


@dataclass(slots=True)
class _Group:
    members: dict[str, SubOptions] = field(default_factory=dict)
    turn: int = 0  # round robin position


class SubscriptionIndex:
    __slots__ = ("_plain", "_shared")

    def __init__(self) -> None:
        self._plain: dict[str, dict[str, SubOptions]] = {}
        self._shared: dict[tuple[str, str], _Group] = {}

    def add(self, client_id: str, topic_filter: str, options: SubOptions) -> None:
        share, plain_filter = split_shared(topic_filter)
        if share is None:
            self._plain.setdefault(plain_filter, {})[client_id] = options
        else:
            self._shared.setdefault((share, plain_filter), _Group()).members[client_id] = options

    def remove(self, client_id: str, topic_filter: str) -> None:
        share, plain_filter = split_shared(topic_filter)
        if share is None:
            subs = self._plain.get(plain_filter)
            if subs is not None:
                subs.pop(client_id, None)
                if not subs:
                    del self._plain[plain_filter]
            return
        group = self._shared.get((share, plain_filter))
        if group is not None:
            group.members.pop(client_id, None)
            if not group.members:
                del self._shared[(share, plain_filter)]

    def match(self, message: Message, online: Callable[[str], bool]
              ) -> list[tuple[str, Delivery]]:
        """(Client Identifier, Delivery) for every session that must receive `message`."""
        topic = message.topic
        found: dict[str, list[SubOptions]] = {}
        for topic_filter, subs in self._plain.items():
            if not matches(topic_filter, topic):
                continue
            for client_id, options in subs.items():
                if options.no_local and client_id == message.origin:
                    continue  # MQTT-3.8.3-3: No Local
                found.setdefault(client_id, []).append(options)
        out = [(client_id, _combine(message, opts)) for client_id, opts in found.items()]
        for (_, topic_filter), group in self._shared.items():
            if matches(topic_filter, topic):
                client_id = _choose(group, online)
                out.append((client_id, _combine(message, [group.members[client_id]])))
        return out


def _combine(message: Message, opts: list[SubOptions]) -> Delivery:
    granted = max(o.qos for o in opts)
    ids = tuple(o.subscription_id for o in opts if o.subscription_id is not None)
    # Retain As Published (MQTT-3.3.1-12, -13); 3.x subscriptions never set it (MQTT-3.3.1-9)
    retain = message.retain and any(o.retain_as_published for o in opts)
    return Delivery(message, min(message.qos, granted), retain, ids)


def _choose(group: _Group, online: Callable[[str], bool]) -> str:
    members = list(group.members)
    start = group.turn % len(members)
    order = members[start:] + members[:start]
    chosen = next((client_id for client_id in order if online(client_id)), order[0])
    group.turn = members.index(chosen) + 1
    return chosen
