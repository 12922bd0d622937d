"""A row of the malformed-input table: the bytes, when they are sent, what the spec requires.

Strategy: a row is data.  `build(level, names)` writes the bytes for one protocol level with
the raw builder or as literal bytes (never the strict encoder), so the same malformation is
tested under each version in that version's encoding; `state` says when they are sent and
`expect` what must follow.  `v3` / `v5` are the statements checked, in the 3.1.1 and 5.0
numbering (3.1 runs use the 3.1.1 IDs): the specific rule the bytes break, plus the general
rule that a violation closes the connection, which `make_row` adds.  MQTT 3.1 (protocol
level 3, "MQIsdp") keeps only the rows its own text decides: the refusals of CONNECT with
a return code (unacceptable protocol version 0x01, identifier rejected 0x02).  The 3.1
document states no rule that malformed or reserved input closes the connection, so the
3.1.1 rules are not imposed on it.  The family modules
beside this one generate the rows; conformance/cases/malformed.py registers each as a case.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

CLOSE_V3 = "MQTT-4.8.0-1"  # 3.1.1: a protocol violation closes the network connection
CLOSE_V5 = "MQTT-4.13.1-1"  # 5.0: Malformed Packet / Protocol Error closes it
BAD_CONNECT = "MQTT-3.1.4-1"  # both: a CONNECT not as section 3.1 describes closes it
NO_RETURN_CODE_FITS = "MQTT-3.2.2-6"  # 3.1.1: then close without a CONNACK
# 5.0: a client whose CONNECT named no Authentication Method never sends AUTH.  The suite
# cannot assume any method a broker offers, so every AUTH row breaks this rule as well.
AUTH_UNASKED = "MQTT-4.12.0-7"
# both: the Will is published when the connection closes, unless a (valid) DISCONNECT removed
# it - the rows with a broken DISCONNECT check that it was not taken for a valid one
WILL_PUBLISHED = "MQTT-3.1.2-8"
ALL_LEVELS = (3, 4, 5)
V3_LEVELS = (3, 4)
V5_ONLY = (5,)


class State(StrEnum):
    """When the row's bytes are sent."""

    FIRST = "first bytes on the connection"
    CONNECTED = "after a successful CONNECT"
    WITH_WILL = "after a CONNECT with a Will that a second client watches"


class Expect(StrEnum):
    """What the spec requires after the bytes."""

    # close; under 5.0 a DISCONNECT (CONNACK before one) >= 0x80 may come first; under 3.x
    # nothing may (MQTT-3.1.4-1: no CONNACK for a malformed CONNECT)
    CLOSE = "close"
    # a wrong Protocol Name: the server may answer as another protocol would (MQTT-3.1.2-1),
    # so a CONNACK refusal in any version's format may come before the close
    CLOSE_OR_REFUSE = "close, at most after a CONNACK refusal"
    # 3.x rules that name a return code: that CONNACK, then close
    REFUSE = "CONNACK with the row's return code, then close"
    # 3.x: CONNACK 0x01, then close (MQTT-3.1.2-2); 5.0: as CLOSE_OR_REFUSE
    UNSUPPORTED_VERSION = "refused as an unsupported protocol version"


class Malformation(StrEnum):
    RESERVED_FLAGS = "reserved-flags"
    PUBLISH_FLAGS = "publish-qos3-or-dup-at-qos0"
    BAD_VBI = "bad-variable-byte-integer"  # Remaining Length, Property Length, ...
    RESERVED_TYPE = "reserved-packet-type"
    TRUNCATION = "truncation"
    LENGTH_LIES = "length-lies"
    ILL_FORMED_UTF8 = "ill-formed-utf8"
    UTF8_NUL = "utf8-u0000"
    FORBIDDEN_PROPERTY = "forbidden-property"
    DUPLICATE_PROPERTY = "duplicate-property"
    UNKNOWN_PROPERTY = "unknown-property"
    PROPERTY_VALUE = "invalid-property-value"
    REASON_CODE = "invalid-reason-code"
    TOPIC_NAME = "bad-topic-name"
    TOPIC_FILTER = "bad-topic-filter"
    NO_TOPIC_FILTERS = "no-topic-filters"
    SUBSCRIPTION_OPTIONS = "subscription-options"
    PACKET_ID_ZERO = "packet-identifier-0"
    CONNECT_FLAGS = "connect-flags"
    PROTOCOL_NAME = "protocol-name"
    PROTOCOL_LEVEL = "protocol-level"
    CLIENT_IDENTIFIER = "client-identifier"
    BEFORE_CONNECT = "before-connect"
    SECOND_CONNECT = "second-connect"
    SERVER_ONLY_PACKET = "server-only-packet"
    WRONG_STATE = "wrong-state"


# what the MQTT 3.1 document itself decides (CONNACK return codes 0x01 and 0x02)
MQTT_3_1_CLASSES = frozenset({Malformation.PROTOCOL_NAME, Malformation.PROTOCOL_LEVEL,
                              Malformation.CLIENT_IDENTIFIER})


@dataclass(frozen=True, slots=True)
class Names:
    """What a case makes unique to itself, and what the broker told it."""

    client_id: str
    root: str  # topic root no other case uses
    alias_max: int = 0  # the server's Topic Alias Maximum (MQTT 5 CONNACK; 0 when absent)
    username: str | None = None  # the target's credentials, for CONNECTs meant to be valid
    password: str | None = None

    def topic(self, *levels: str) -> str:
        return "/".join((self.root, *levels))


class NotApplicable(Exception):
    """The row cannot be built against this broker (e.g. no Topic Alias above its maximum)."""


Builder = Callable[[int, Names], bytes]


@dataclass(frozen=True, slots=True)
class Row:
    id: str
    title: str
    packet: str  # the packet type the bytes carry ("RESERVED-0", "RESERVED-15" for those)
    malformation: Malformation
    levels: tuple[int, ...]
    build: Builder
    v3: tuple[str, ...]
    v5: tuple[str, ...]
    state: State = State.CONNECTED
    expect: Expect = Expect.CLOSE
    connack: int | None = None  # REFUSE: the 3.x CONNACK return code the spec requires
    codes_v5: tuple[int, ...] | None = None  # the only 5.0 Reason Codes a statement allows
    needs: tuple[str, ...] = ()  # Capabilities the row needs (conformance.target)
    decoder_blind: str = ""  # why mqttspec's Decoder alone cannot see the violation

    def statements_for(self, level: int) -> tuple[str, ...]:
        return self.v5 if level == 5 else self.v3


def make_row(row_id: str, title: str, packet: str, malformation: Malformation,
             levels: Sequence[int], build: Builder, *, v3: Sequence[str] = (),
             v5: Sequence[str] = (), state: State = State.CONNECTED,
             expect: Expect = Expect.CLOSE, connack: int | None = None,
             codes_v5: tuple[int, ...] | None = None, needs: tuple[str, ...] = (),
             decoder_blind: str = "") -> Row:
    """A row with the general rules added: a violation closes the connection (MQTT-4.8.0-1,
    MQTT-4.13.1-1), a malformed first CONNECT is closed on (MQTT-3.1.4-1), an AUTH after a
    CONNECT without Authentication Method is out of place (MQTT-4.12.0-7), and a broken
    DISCONNECT leaves the Will to be published (MQTT-3.1.2-8)."""
    general: tuple[str, ...] = ()
    general5: tuple[str, ...] = ()
    if expect in (Expect.CLOSE, Expect.CLOSE_OR_REFUSE):
        general, general5 = (CLOSE_V3,), (CLOSE_V5,)
        if packet == "CONNECT" and state is State.FIRST:
            general, general5 = (BAD_CONNECT, CLOSE_V3), (BAD_CONNECT, CLOSE_V5)
            if expect is Expect.CLOSE:  # 3.1.1: no return code fits a malformed CONNECT
                general = (*general, NO_RETURN_CODE_FITS)
    if packet == "AUTH" and state is not State.FIRST:
        general5 = (AUTH_UNASKED, *general5)
    if state is State.WITH_WILL:
        general, general5 = (*general, WILL_PUBLISHED), (*general5, WILL_PUBLISHED)
    levels = tuple(lv for lv in levels if lv != 3 or malformation in MQTT_3_1_CLASSES)
    ids3 = _unique((*v3, *general)) if any(lv < 5 for lv in levels) else ()
    ids5 = _unique((*v5, *general5)) if 5 in levels else ()
    return Row(f"malformed.{row_id}", title, packet, malformation, levels, build, ids3, ids5,
               state, expect, connack, codes_v5, needs, decoder_blind)


def _unique(ids: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(ids))


def slug(text: str) -> str:
    """'Will Topic' -> 'will-topic'."""
    return "-".join(text.lower().replace("/", " ").split())
