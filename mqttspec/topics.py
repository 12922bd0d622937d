"""Topic Names and Topic Filters (MQTT 3.1.1 section 4.7, MQTT 5 sections 4.7 and 4.8.2).

Strategy: pure functions that raise `ProtocolViolation` naming the rule broken.  The codec
calls them on every Topic Name and Topic Filter it reads, so a broker built on it never sees
a filter like "a/#/b".  Matching a name against a filter lives here too, because the
reference broker and the conformance suite must agree on it.
"""

from __future__ import annotations

from mqttspec.errors import ProtocolViolation, ids
from mqttspec.reason_codes import MALFORMED_PACKET, PROTOCOL_ERROR

SHARE_PREFIX = "$share/"


def check_topic_name(name: str, level: int, what: str = "Topic Name") -> None:
    if not name:
        raise ProtocolViolation(f"{what} is empty", ids(level, "MQTT-4.7.3-1", "MQTT-4.7.3-1"),
                                PROTOCOL_ERROR if level == 5 else MALFORMED_PACKET)
    if "+" in name or "#" in name:
        raise ProtocolViolation(
            f"{what} {name!r} contains a wildcard",
            ids(level, ("MQTT-3.3.2-2", "MQTT-4.7.1-1"), ("MQTT-3.3.2-2", "MQTT-4.7.0-1")),
            MALFORMED_PACKET,
        )
    _check_length(name, level, what)


def check_topic_filter(topic_filter: str, level: int, what: str = "Topic Filter") -> None:
    if not topic_filter:
        raise ProtocolViolation(f"{what} is empty", ids(level, "MQTT-4.7.3-1", "MQTT-4.7.3-1"),
                                MALFORMED_PACKET)
    _check_length(topic_filter, level, what)
    rest = topic_filter
    if level == 5 and topic_filter.startswith(SHARE_PREFIX):
        share_name, sep, rest = topic_filter[len(SHARE_PREFIX):].partition("/")
        # MQTT-4.8.2-1 / MQTT-4.8.2-2: $share/{ShareName}/{filter}
        if not share_name or not sep or not rest or any(c in share_name for c in "+#"):
            raise ProtocolViolation(
                f"{what} {topic_filter!r} is not a valid shared subscription",
                ("MQTT-4.8.2-1", "MQTT-4.8.2-2"), PROTOCOL_ERROR)
    levels = rest.split("/")
    for i, part in enumerate(levels):
        if "#" in part and (part != "#" or i != len(levels) - 1):
            raise ProtocolViolation(
                f"{what} {topic_filter!r}: '#' must be a whole, last level",
                ids(level, "MQTT-4.7.1-2", "MQTT-4.7.1-1"), MALFORMED_PACKET)
        if "+" in part and part != "+":
            raise ProtocolViolation(
                f"{what} {topic_filter!r}: '+' must be a whole level",
                ids(level, "MQTT-4.7.1-3", "MQTT-4.7.1-2"), MALFORMED_PACKET)


def _check_length(topic: str, level: int, what: str) -> None:
    # Strings are length-prefixed with 16 bits, so a decoded topic can never exceed this;
    # the check guards callers that build topics themselves.
    if len(topic.encode("utf-8", "surrogatepass")) > 0xFFFF:
        raise ProtocolViolation(f"{what} encodes to more than 65535 bytes",
                                ids(level, "MQTT-4.7.3-3", "MQTT-4.7.3-3"), MALFORMED_PACKET)


def is_shared(topic_filter: str) -> bool:
    return topic_filter.startswith(SHARE_PREFIX)


def split_shared(topic_filter: str) -> tuple[str | None, str]:
    """("group", "filter") for "$share/group/filter", (None, filter) otherwise."""
    if not is_shared(topic_filter):
        return None, topic_filter
    share_name, _, rest = topic_filter[len(SHARE_PREFIX):].partition("/")
    return share_name, rest


def matches(topic_filter: str, topic_name: str) -> bool:
    """Does a (non-shared) filter match a name?  '$' topics are not matched by a leading
    wildcard (MQTT-4.7.2-1).  No normalisation of either string (MQTT-4.7.3-4)."""
    if topic_name.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    f_levels = topic_filter.split("/")
    n_levels = topic_name.split("/")
    for i, f in enumerate(f_levels):
        if f == "#":
            return True  # also matches the parent level: "a/#" matches "a"
        if i >= len(n_levels):
            return False
        if f != "+" and f != n_levels[i]:
            return False
    return len(f_levels) == len(n_levels)
