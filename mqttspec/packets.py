"""The 15 MQTT control packets as frozen, slotted dataclasses.

Strategy: one class per packet type, fields named as the spec names them, each packet
remembering the protocol level (3 = MQTT 3.1, 4 = 3.1.1, 5 = 5.0) it was read or is to be
written under.  Version-specific fields (properties, reason codes of acks, subscription
options) simply keep their defaults under 3.x; the encoder refuses them when set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from typing import Any, ClassVar, TypeVar

from mqttspec.properties import NO_PROPERTIES, Properties
from mqttspec.types import PacketType

C = TypeVar("C", bound=type)


def _quick_init(cls: C) -> C:
    """Give a frozen, slotted dataclass an `__init__` that fills each slot through the slot's
    own descriptor: the generated one goes through `object.__setattr__`, twice as slow, and
    PUBLISH and its acknowledgements are made once per message.  Same keyword-only signature
    and defaults; the instance is as frozen afterwards.  `cls._make(...)` does the same with
    every field positional, in declaration order (same defaults), for the decoder's hot path.
    """
    names: dict[str, Any] = {"new": object.__new__, "cls": cls}
    params, lines = [], []
    for f in fields(cls):
        names[f"set_{f.name}"] = getattr(cls, f.name).__set__
        if f.default is MISSING:
            params.append(f.name)
        else:
            names[f"default_{f.name}"] = f.default
            params.append(f"{f.name}=default_{f.name}")
        lines.append(f"    set_{f.name}(self, {f.name})")
    body = "\n".join(lines)
    source = (f"def __init__(self, *, {', '.join(params)}):\n{body}\n"
              f"def _make({', '.join(params)}):\n"
              f"    self = new(cls)\n{body}\n    return self\n")
    exec(source, names)  # noqa: S102  (built only from the class's own field names)
    init = names["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = init  # type: ignore[misc]
    cls._make = staticmethod(names["_make"])  # type: ignore[attr-defined]
    return cls


@dataclass(frozen=True, slots=True, kw_only=True)
class Will:
    topic: str
    payload: bytes = b""
    qos: int = 0
    retain: bool = False
    properties: Properties = NO_PROPERTIES


@dataclass(frozen=True, slots=True, kw_only=True)
class Connect:
    TYPE = PacketType.CONNECT
    client_id: str = ""
    clean_start: bool = True  # "CleanSession" in 3.x
    keep_alive: int = 0
    username: str | None = None
    password: bytes | None = None
    will: Will | None = None
    properties: Properties = NO_PROPERTIES
    protocol_level: int = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class Connack:
    TYPE = PacketType.CONNACK
    session_present: bool = False
    reason_code: int = 0  # the "return code" in 3.x
    properties: Properties = NO_PROPERTIES
    protocol_level: int = 4


@_quick_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Publish:
    TYPE = PacketType.PUBLISH
    _make: ClassVar[Callable[..., Publish]]  # positional constructor (_quick_init)
    topic: str
    payload: bytes = b""
    qos: int = 0
    retain: bool = False
    dup: bool = False
    packet_id: int | None = None  # present exactly when qos > 0
    properties: Properties = NO_PROPERTIES
    protocol_level: int = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class _Ack:
    """PUBACK, PUBREC, PUBREL and PUBCOMP share one shape."""

    TYPE: ClassVar[PacketType]
    _make: ClassVar[Callable[..., Any]]  # positional constructor (_quick_init)
    packet_id: int
    reason_code: int = 0  # MQTT 5 only
    properties: Properties = NO_PROPERTIES
    protocol_level: int = 4


@_quick_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Puback(_Ack):
    TYPE = PacketType.PUBACK


@_quick_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Pubrec(_Ack):
    TYPE = PacketType.PUBREC


@_quick_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Pubrel(_Ack):
    TYPE = PacketType.PUBREL
    dup: bool = False  # MQTT 3.1 only: a re-sent PUBREL may carry DUP


@_quick_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Pubcomp(_Ack):
    TYPE = PacketType.PUBCOMP


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscription:
    topic_filter: str
    qos: int = 0  # Maximum QoS requested
    no_local: bool = False  # MQTT 5 subscription options from here on
    retain_as_published: bool = False
    retain_handling: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscribe:
    TYPE = PacketType.SUBSCRIBE
    packet_id: int
    subscriptions: tuple[Subscription, ...]
    properties: Properties = NO_PROPERTIES
    protocol_level: int = 4
    dup: bool = False  # MQTT 3.1 only


@dataclass(frozen=True, slots=True, kw_only=True)
class Suback:
    TYPE = PacketType.SUBACK
    packet_id: int
    reason_codes: tuple[int, ...]
    properties: Properties = NO_PROPERTIES
    protocol_level: int = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class Unsubscribe:
    TYPE = PacketType.UNSUBSCRIBE
    packet_id: int
    topic_filters: tuple[str, ...]
    properties: Properties = NO_PROPERTIES
    protocol_level: int = 4
    dup: bool = False  # MQTT 3.1 only


@dataclass(frozen=True, slots=True, kw_only=True)
class Unsuback:
    TYPE = PacketType.UNSUBACK
    packet_id: int
    reason_codes: tuple[int, ...] = ()  # MQTT 5 only; 3.x UNSUBACK has no payload
    properties: Properties = NO_PROPERTIES
    protocol_level: int = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class Pingreq:
    TYPE = PacketType.PINGREQ
    protocol_level: int = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class Pingresp:
    TYPE = PacketType.PINGRESP
    protocol_level: int = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class Disconnect:
    TYPE = PacketType.DISCONNECT
    reason_code: int = 0
    properties: Properties = NO_PROPERTIES
    protocol_level: int = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class Auth:
    TYPE = PacketType.AUTH
    reason_code: int = 0
    properties: Properties = NO_PROPERTIES
    protocol_level: int = 5


Packet = (
    Connect | Connack | Publish | Puback | Pubrec | Pubrel | Pubcomp | Subscribe | Suback
    | Unsubscribe | Unsuback | Pingreq | Pingresp | Disconnect | Auth
)
PacketAck = Puback | Pubrec | Pubrel | Pubcomp

PACKET_CLASSES: dict[PacketType, type[Packet]] = {
    cls.TYPE: cls
    for cls in (Connect, Connack, Publish, Puback, Pubrec, Pubrel, Pubcomp, Subscribe, Suback,
                Unsubscribe, Unsuback, Pingreq, Pingresp, Disconnect, Auth)
}
