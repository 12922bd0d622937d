"""Faults in topic matching and topic validation (MQTT 3.1.1 / MQTT 5 section 4.7).

The matching faults replace the matcher the broker's subscription index uses, or route a
message a second time under a transformed Topic Name (lower-cased, NFKC-normalised, prefixed)
and hand the extra subscribers the original message, as a broker that normalised names or
forgot the '$' rule would.  The validation faults drop the offending packet and keep the
connection open.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from conformance.faults.base import Patcher, fault
from conformance.faults.subscribe import subscribe_as_if
from mqttspec.topics import matches
from reference_broker import subscriptions
from reference_broker.connection import Connection
from reference_broker.subscriptions import SubscriptionIndex

ROUTED = ("MQTT-3.3.2-3", "MQTT-4.5.0-1")


def _matcher(p: Patcher, rule: Callable[[str, str, bool], bool]) -> None:
    """`rule(filter, name, what the real matcher says)` decides instead."""
    real = matches
    p.replace(subscriptions, "matches", lambda f, n: rule(f, n, real(f, n)))


@fault("topics.plus-spans-levels", "'+' matches any number of levels",
       v3=ROUTED, v5=ROUTED, cases=("topics.",))
def plus_spans(p: Patcher) -> None:
    def rule(f: str, n: str, real: bool) -> bool:
        pattern = "/".join(".*" if part in "+#" else re.escape(part) for part in f.split("/"))
        return real or ("+" in f and re.fullmatch(pattern, n) is not None)

    _matcher(p, rule)


@fault("topics.hash-needs-a-level", "'sport/#' does not match 'sport' itself",
       v3=ROUTED, v5=ROUTED, cases=("topics.",))
def hash_needs_level(p: Patcher) -> None:
    _matcher(p, lambda f, n, real: real and not (f.endswith("/#") and n == f[:-2]))


@fault("topics.plus-skips-empty-levels", "'+' does not match an empty level",
       v3=ROUTED, v5=ROUTED, cases=("topics.",))
def plus_skips_empty(p: Patcher) -> None:
    def rule(f: str, n: str, real: bool) -> bool:
        levels = n.split("/")
        return real and not any(part == "+" and i < len(levels) and levels[i] == ""
                                for i, part in enumerate(f.split("/")))

    _matcher(p, rule)


def _also_route_as(p: Patcher, transform: Callable[[str], str]) -> None:
    """Route each message a second time under `transform(topic)`; subscribers found only
    then get the original message."""
    def match(original: Any, index: SubscriptionIndex, message: Any, sessions: Any) -> Any:
        out = original(index, message, sessions)
        other = transform(message.topic)
        if other != message.topic:
            seen = {cid for cid, _ in out}
            out += [(cid, replace(d, message=message)) for cid, d in
                    original(index, replace(message, topic=other), sessions) if cid not in seen]
        return out

    p.wrap(SubscriptionIndex, "match", match)


@fault("topics.dollar-matched-by-wildcards",
       "Filters starting with a wildcard match Topic Names starting with '$'",
       v3="MQTT-4.7.2-1", v5="MQTT-4.7.2-1")
def dollar_matched(p: Patcher) -> None:
    _also_route_as(p, lambda topic: "x" + topic if topic.startswith("$") else topic)


@fault("topics.case-insensitive", "Topic Names are matched case-insensitively",
       v3="MQTT-4.7.3-4", v5="MQTT-4.7.3-4")
def case_insensitive(p: Patcher) -> None:
    _also_route_as(p, str.casefold)


@fault("topics.unicode-normalised", "Topic Names are NFKC-normalised and stripped",
       v3="MQTT-4.7.3-4", v5="MQTT-4.7.3-4")
def unicode_normalised(p: Patcher) -> None:
    _also_route_as(p, lambda topic: unicodedata.normalize("NFKC", topic).strip())


def _tolerate(p: Patcher, statements: set[str]) -> None:
    """Violations naming one of `statements` are dropped; the connection stays open."""
    def violation(original: Any, conn: Connection, exc: Any, now: float) -> None:
        if not statements & set(exc.statements):
            original(conn, exc, now)

    p.wrap(Connection, "violation", violation)


@fault("topics.accepts-wildcard-names", "A Topic Name holding '+' or '#' is ignored, not closed",
       v3="MQTT-4.7.1-1", v5="MQTT-4.7.0-1")
def accepts_wildcard_names(p: Patcher) -> None:
    _tolerate(p, {"MQTT-4.7.1-1", "MQTT-4.7.0-1"})


@fault("topics.accepts-empty", "An empty Topic Name or Filter is ignored, not closed",
       v3="MQTT-4.7.3-1", v5="MQTT-4.7.3-1")
def accepts_empty(p: Patcher) -> None:
    _tolerate(p, {"MQTT-4.7.3-1"})


@fault("topics.accepts-null-character", "A Topic Name or Filter with U+0000 is ignored",
       v3="MQTT-4.7.3-2", v5="MQTT-4.7.3-2")
def accepts_null(p: Patcher) -> None:
    _tolerate(p, {"MQTT-1.5.3-2", "MQTT-1.5.4-2", "MQTT-4.7.3-2"})


@fault("topics.wildcards-granted-when-unsupported",
       "No wildcard subscriptions declared, yet a SUBACK grants them",
       v3="MQTT-3.8.3-2", v5="MQTT-3.8.4-7", config={"wildcard_subscription_available": False},
       cases=("topics.wildcards-refused",))
def wildcards_granted(p: Patcher) -> None:
    subscribe_as_if(p, wildcard_subscription_available=True)
