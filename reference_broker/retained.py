"""Retained messages: at most one per Topic Name, outside any session.

Strategy: a dict from Topic Name to `Message`, looked up directly for a filter without
wildcards and read in full for one with '+' or '#'.  A retained PUBLISH with a payload replaces the
stored one; an empty payload removes it and is never stored itself.  Expired messages
(Message Expiry Interval) are dropped when they are looked at.  Retained messages are not
session state, so ending a session never touches this store (MQTT-3.1.2-7 in 3.1.1).
"""

from __future__ import annotations

from mqttspec.topics import matches
from reference_broker.model import Message


class RetainedStore:
    __slots__ = ("_messages",)

    def __init__(self) -> None:
        self._messages: dict[str, Message] = {}

    def __len__(self) -> int:
        return len(self._messages)

    def store(self, message: Message) -> None:
        """Keep `message` as the topic's retained message, or clear it for an empty payload."""
        if message.payload:
            self._messages[message.topic] = message
        else:
            self._messages.pop(message.topic, None)

    def get(self, topic: str) -> Message | None:
        return self._messages.get(topic)

    def matching(self, topic_filter: str, now: float) -> list[Message]:
        """The retained messages whose Topic Name matches a (non-shared) Topic Filter."""
        found: list[Message] = []
        expired: list[Message] = []
        if "+" in topic_filter or "#" in topic_filter:
            candidates = [m for topic, m in self._messages.items() if matches(topic_filter, topic)]
        else:  # no wildcard: the one Topic Name equal to the filter
            exact = self._messages.get(topic_filter)
            candidates = [] if exact is None else [exact]
        for message in candidates:
            (expired if message.expired(now) else found).append(message)
        for message in expired:
            del self._messages[message.topic]
        return found
