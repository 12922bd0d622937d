"""Retained messages: at most one per Topic Name, outside any session.

Strategy: a tree with one node per topic level ("a/b/c": root -> "a" -> "b" -> "c"), each
node holding the retained message of the Topic Name that ends there, if any.  A new
subscription's filter walks it level by level: a plain level is one child, '+' every child,
'#' the node itself (its parent level: "a/#" matches "a") and everything under it, so a
SUBSCRIBE reads only the part of the tree its filter can match, however many messages are
retained.  A filter starting with a wildcard skips first levels starting with '$'
(MQTT-4.7.2-1); levels are compared as they are, without normalisation (MQTT-4.7.3-4), the
rules `mqttspec.topics.matches` states for one name.  A retained PUBLISH with a payload
replaces the stored message; an empty payload removes it and is never stored itself, and
nodes left empty are removed with it.  Expired messages (Message Expiry Interval) are
dropped when a filter reaches them.  Retained messages are not session state, so ending a
session never touches this store (MQTT-3.1.2-7 in 3.1.1).
"""

from __future__ import annotations

from reference_broker.model import Message


class _Level:
    __slots__ = ("message", "children")

    def __init__(self) -> None:
        self.message: Message | None = None
        self.children: dict[str, _Level] = {}


class RetainedStore:
    __slots__ = ("_root", "_count")

    def __init__(self) -> None:
        self._root = _Level()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def store(self, message: Message) -> None:
        """Keep `message` as the topic's retained message, or clear it for an empty payload."""
        if message.payload:
            self._put(message)
        else:
            self._remove(message.topic)

    def _put(self, message: Message) -> None:
        node = self._root
        for name in message.topic.split("/"):
            node = node.children.setdefault(name, _Level())
        self._count += node.message is None
        node.message = message

    def get(self, topic: str) -> Message | None:
        node: _Level | None = self._root
        for name in topic.split("/"):
            node = node.children.get(name) if node is not None else None
        return node.message if node is not None else None

    def matching(self, topic_filter: str, now: float) -> list[Message]:
        """The retained messages whose Topic Name matches a (non-shared) Topic Filter."""
        found: list[Message] = []
        _collect(self._root, topic_filter.split("/"), found)
        live = [m for m in found if not m.expired(now)]
        if len(live) < len(found):
            for message in found:
                if message.expired(now):
                    self._remove(message.topic)
        return live

    def _remove(self, topic: str) -> None:
        path = [self._root]
        for name in topic.split("/"):
            child = path[-1].children.get(name)
            if child is None:
                return
            path.append(child)
        if path[-1].message is None:
            return
        path[-1].message = None
        self._count -= 1
        names = topic.split("/")
        for depth in range(len(names), 0, -1):  # drop the nodes nothing needs any more
            node = path[depth]
            if node.message is not None or node.children:
                break
            del path[depth - 1].children[names[depth - 1]]


def _collect(root: _Level, levels: list[str], found: list[Message]) -> None:
    """Add the messages that match filter `levels` to `found`.  Iterative, with a stack of
    (node, filter level reached): a topic may have thousands of levels."""
    stack = [(root, 0)]
    while stack:
        node, i = stack.pop()
        if i == len(levels):
            if node.message is not None:
                found.append(node.message)
            continue
        part = levels[i]
        if part in ("+", "#"):
            children = [child for name, child in node.children.items()
                        if not (i == 0 and name.startswith("$"))]  # MQTT-4.7.2-1
            if part == "+":
                stack.extend((child, i + 1) for child in children)
                continue
            if node.message is not None:  # the parent level ("a/#" matches "a"; never root)
                found.append(node.message)
            while children:  # '#': everything below
                child = children.pop()
                if child.message is not None:
                    found.append(child.message)
                children.extend(child.children.values())
        elif part in node.children:
            stack.append((node.children[part], i + 1))
