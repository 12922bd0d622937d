"""Topic access control lists: which client may publish to, and receive from, which topics.

Strategy: a small text file, read once at start-up into sections of rules; a connection gets
its own `Rules` (its section plus every pattern, with %u and %c filled in) once it is
authenticated, so each check is a short loop over Topic Filters.  The format:

    # Rules before any 'user' line, or after an 'anonymous' line, are for clients
    # without a verified user name.
    topic read public/#
    user alice
    topic readwrite alice/#
    anonymous
    topic read weather/+
    pattern readwrite clients/%c/#
    pattern read users/%u/inbox/#

A 'pattern' rule is for every client, wherever the line is; %u stands for the user name, %c
for the Client Identifier.  Comments are whole lines starting with '#'.  Each rule is 'topic'
or 'pattern', then read | write | readwrite, then a Topic Filter (the rest of the line).
With an ACL file nothing is allowed that no rule grants; without one, everything is.  A
pattern applies only when its %u / %c value exists and holds no '/', '+' or '#' (so a
crafted user name cannot widen a rule).  Writing to a Topic Name needs a write rule whose
filter matches it; receiving a message needs a read rule matching its topic (checked when
the message is sent); subscribing needs a read rule whose filter covers the whole
subscription filter (every topic the subscription can match), shared subscriptions judged
by their filter without the '$share/{ShareName}/' prefix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mqttspec import ProtocolViolation
from mqttspec.topics import check_topic_filter, matches

READ, WRITE = 1, 2
_ACCESS = {"read": READ, "write": WRITE, "readwrite": READ | WRITE}


class AclError(ValueError):
    """An ACL file that cannot be read or parsed; the message is one line."""


@dataclass(frozen=True, slots=True)
class Rule:
    access: int  # READ, WRITE or both
    topic_filter: str


@dataclass(frozen=True, slots=True)
class Rules:
    """The rules that apply to one authenticated connection."""

    rules: tuple[Rule, ...] = ()

    def may_write(self, topic: str) -> bool:
        return any(r.access & WRITE and matches(r.topic_filter, topic) for r in self.rules)

    def may_read(self, topic: str) -> bool:
        return any(r.access & READ and matches(r.topic_filter, topic) for r in self.rules)

    def may_subscribe(self, topic_filter: str) -> bool:
        """`topic_filter` without any '$share/{ShareName}/' prefix (MQTT 5 only; in 3.1.1
        "$share/..." is a plain filter)."""
        return any(r.access & READ and covers(r.topic_filter, topic_filter)
                   for r in self.rules)


@dataclass(slots=True)
class Acl:
    anonymous: list[Rule] = field(default_factory=list)
    users: dict[str, list[Rule]] = field(default_factory=dict)
    patterns: list[Rule] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str, source: str = "ACL file") -> Acl:
        acl = cls()
        section = acl.anonymous
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            keyword, _, rest = line.partition(" ")
            rest = rest.strip()
            where = f"{source} line {number}"
            if keyword == "user":
                if not rest:
                    raise AclError(f"{where}: 'user' needs a user name")
                section = acl.users.setdefault(rest, [])
            elif keyword == "anonymous" and not rest:
                section = acl.anonymous
            elif keyword in ("topic", "pattern"):
                access, _, topic_filter = rest.partition(" ")
                rule = _rule(access, topic_filter.strip(), keyword == "pattern", where)
                (acl.patterns if keyword == "pattern" else section).append(rule)
            else:
                raise AclError(f"{where}: expected 'user NAME', 'anonymous', "
                               "'topic ACCESS FILTER' or 'pattern ACCESS FILTER'")
        return acl

    @classmethod
    def load(cls, path: str | Path) -> Acl:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
            raise AclError(f"cannot read ACL file {str(path)!r}: {why}") from None
        return cls.parse(text, f"ACL file {str(path)!r}")

    def rules_for(self, username: str | None, client_id: str) -> Rules:
        """The rules of a client: its user's section (or the anonymous one) and the
        patterns whose substitutions are safe."""
        own = self.anonymous if username is None else self.users.get(username, [])
        rules = list(own)
        for pattern in self.patterns:
            topic_filter = _substitute(pattern.topic_filter, username, client_id)
            if topic_filter is not None:
                rules.append(Rule(pattern.access, topic_filter))
        return Rules(tuple(rules))


def _rule(access: str, topic_filter: str, pattern: bool, where: str) -> Rule:
    if access not in _ACCESS:
        raise AclError(f"{where}: access must be read, write or readwrite, not {access!r}")
    if not topic_filter:
        raise AclError(f"{where}: a Topic Filter is missing")
    try:
        sample = topic_filter.replace("%u", "u").replace("%c", "c") if pattern else topic_filter
        check_topic_filter(sample, 4)
    except ProtocolViolation as exc:
        raise AclError(f"{where}: {exc.detail}") from None
    return Rule(_ACCESS[access], topic_filter)


def _substitute(topic_filter: str, username: str | None, client_id: str) -> str | None:
    for token, value in (("%u", username), ("%c", client_id)):
        if token in topic_filter:
            if not value or any(c in value for c in "/+#"):
                return None
            topic_filter = topic_filter.replace(token, value)
    return topic_filter


def covers(rule: str, subscription: str) -> bool:
    """Does every Topic Name the `subscription` filter can match also match `rule`?"""
    r_levels, s_levels = rule.split("/"), subscription.split("/")
    for i, r in enumerate(r_levels):
        s = s_levels[i] if i < len(s_levels) else None
        if r == "#":
            # a leading '#' does not match '$' topics (MQTT-4.7.2-1)
            return not (i == 0 and s is not None and s.startswith("$"))
        if s is None or s == "#":
            return False  # the subscription reaches topics the rule does not
        if r == "+":
            if i == 0 and s.startswith("$"):
                return False
            continue
        if s != r:  # a '+' in the subscription matches more than a literal rule level
            return False
    return len(r_levels) == len(s_levels)
