"""Topic Name / Topic Filter rules and matching (MQTT 3.1.1 4.7, MQTT 5 4.7 and 4.8.2)."""

from __future__ import annotations

import pytest

from mqttspec import ProtocolViolation
from mqttspec.topics import check_topic_filter, check_topic_name, matches, split_shared


@pytest.mark.parametrize(
    ("topic_filter", "name", "expected"),
    [
        # Examples of MQTT 3.1.1 section 4.7.1.2 / MQTT 5 section 4.7.1.2
        ("sport/tennis/player1/#", "sport/tennis/player1", True),
        ("sport/tennis/player1/#", "sport/tennis/player1/ranking", True),
        ("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", True),
        ("sport/#", "sport", True),
        ("#", "sport/tennis", True),
        # section 4.7.1.3
        ("sport/tennis/+", "sport/tennis/player1", True),
        ("sport/tennis/+", "sport/tennis/player1/ranking", False),
        ("sport/+", "sport", False),
        ("sport/+", "sport/", True),
        ("+/+", "/finance", True),
        ("/+", "/finance", True),
        ("+", "/finance", False),
        # section 4.7.2: MQTT-4.7.2-1
        ("#", "$SYS/broker", False),
        ("+/monitor/Clients", "$SYS/monitor/Clients", False),
        ("$SYS/#", "$SYS/monitor/Clients", True),
        ("$SYS/monitor/+", "$SYS/monitor/Clients", True),
        # no normalisation (MQTT-4.7.3-4); case and spaces matter
        ("ACCOUNTS", "Accounts", False),
        ("a b", "a b", True),
        ("a/b", "a//b", False),
        ("a//b", "a//b", True),
        ("\ufeffa", "a", False),
    ],
)
def test_matching(topic_filter: str, name: str, expected: bool) -> None:
    assert matches(topic_filter, name) is expected


@pytest.mark.parametrize("level", (3, 4, 5))
@pytest.mark.parametrize("good", ["#", "+", "a/+/b", "a/#", "/", "+/+", "a//#", "$SYS/#"])
def test_valid_filters(level: int, good: str) -> None:
    check_topic_filter(good, level)


@pytest.mark.parametrize(
    ("bad", "v3", "v5"),
    [
        ("", "MQTT-4.7.3-1", "MQTT-4.7.3-1"),
        ("a/#/b", "MQTT-4.7.1-2", "MQTT-4.7.1-1"),
        ("a#", "MQTT-4.7.1-2", "MQTT-4.7.1-1"),
        ("a/b+", "MQTT-4.7.1-3", "MQTT-4.7.1-2"),
        ("++", "MQTT-4.7.1-3", "MQTT-4.7.1-2"),
    ],
)
@pytest.mark.parametrize("level", (3, 4, 5))
def test_invalid_filters(bad: str, v3: str, v5: str, level: int) -> None:
    with pytest.raises(ProtocolViolation) as info:
        check_topic_filter(bad, level)
    assert (v5 if level == 5 else v3) in info.value.statements


@pytest.mark.parametrize("bad", ["$share/", "$share//a", "$share/g", "$share/g/", "$share/g+/a",
                                 "$share/#/a"])
def test_invalid_shared_filters_v5(bad: str) -> None:
    with pytest.raises(ProtocolViolation) as info:
        check_topic_filter(bad, 5)
    assert {"MQTT-4.8.2-1", "MQTT-4.8.2-2"} <= set(info.value.statements)
    check_topic_filter("$share/g/a", 4)  # only a plain filter in 3.1.1 ...
    if bad.endswith("/a") and "+" not in bad and "#" not in bad:
        check_topic_filter(bad, 4)  # ... where "$share//a" is simply unusual, not invalid


def test_split_shared() -> None:
    assert split_shared("$share/g/a/+") == ("g", "a/+")
    assert split_shared("a/+") == (None, "a/+")


@pytest.mark.parametrize(("bad", "statement"), [("", "MQTT-4.7.3-1"), ("a/+", "MQTT-3.3.2-2"),
                                                 ("#", "MQTT-3.3.2-2"), ("a/#", "MQTT-3.3.2-2")])
def test_invalid_topic_names(bad: str, statement: str) -> None:
    for level in (3, 4, 5):
        with pytest.raises(ProtocolViolation) as info:
            check_topic_name(bad, level)
        assert statement in info.value.statements


def test_too_long_topic() -> None:
    with pytest.raises(ProtocolViolation) as info:
        check_topic_name("x" * 65536, 4)
    assert info.value.statements == ("MQTT-4.7.3-3",)
    check_topic_name("x" * 65535, 4)
