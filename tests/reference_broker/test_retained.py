"""The retained-message store: a filter finds exactly the retained messages whose Topic Name
`mqttspec.topics.matches` says it matches (checked on generated names and filters, '$' names,
empty levels and wildcards included), clearing removes a message and the tree nodes it
leaves empty, expired messages are dropped when reached, and a topic of thousands of levels
is handled without recursion."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mqttspec import NO_PROPERTIES, Properties
from mqttspec.topics import matches
from reference_broker.model import Message
from reference_broker.retained import RetainedStore

LEVEL = st.sampled_from(["a", "b", "", "$SYS", "$x", "c d"])
NAMES = st.lists(LEVEL, min_size=1, max_size=4).map("/".join).filter(bool)
FILTER_LEVEL = st.sampled_from(["a", "b", "", "$SYS", "+", "#"])


@st.composite
def filters(draw: st.DrawFn) -> str:
    levels = draw(st.lists(FILTER_LEVEL, min_size=1, max_size=4))
    if "#" in levels:  # '#' only as the whole last level
        levels = levels[:levels.index("#") + 1]
    return "/".join(levels)


def message(topic: str, payload: bytes = b"x", expiry: int | None = None,
            at: float = 0.0) -> Message:
    props = NO_PROPERTIES if expiry is None else Properties(message_expiry_interval=expiry)
    return Message(topic, payload, 0, True, props, "pub", at)


@settings(max_examples=300, deadline=None)
@given(st.lists(NAMES, max_size=12), st.lists(NAMES, max_size=4), filters())
def test_a_filter_finds_what_matches_says(stored: list[str], cleared: list[str],
                                          topic_filter: str) -> None:
    store = RetainedStore()
    for topic in stored:
        store.store(message(topic))
    for topic in cleared:
        store.store(message(topic, b""))
    kept = set(stored) - set(cleared)
    assert len(store) == len(kept)
    found = [m.topic for m in store.matching(topic_filter, 0.0)]
    assert sorted(found) == sorted(t for t in kept if matches(topic_filter, t))
    assert all(store.get(t) is not None for t in kept)
    assert all(store.get(t) is None for t in set(cleared))


def test_clearing_removes_the_nodes_it_leaves_empty() -> None:
    store = RetainedStore()
    store.store(message("a/b/c"))
    store.store(message("a"))
    store.store(message("a/b/c", b""))
    assert len(store) == 1 and store._root.children["a"].children == {}
    store.store(message("a", b""))
    assert len(store) == 0 and store._root.children == {}
    store.store(message("never/stored", b""))  # clearing what is not there changes nothing
    assert len(store) == 0


def test_expired_messages_are_dropped_when_reached() -> None:
    store = RetainedStore()
    store.store(message("t/old", expiry=5, at=0.0))
    store.store(message("t/new", expiry=5, at=10.0))
    assert [m.topic for m in store.matching("t/+", 12.0)] == ["t/new"]
    assert store.get("t/old") is None and len(store) == 1


def test_thousands_of_levels() -> None:
    store = RetainedStore()
    deep = "/".join(["x"] * 20000)
    store.store(message(deep))
    assert [m.topic for m in store.matching("#", 0.0)] == [deep]
    assert [m.topic for m in store.matching(deep, 0.0)] == [deep]
    assert [m.topic for m in store.matching("/".join(["+"] * 20000), 0.0)] == [deep]
    store.store(message(deep, b""))
    assert len(store) == 0 and store._root.children == {}
