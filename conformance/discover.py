"""What the broker accepts: protocol versions tried one by one, MQTT 5 capabilities read.

Strategy: before a run, one probe connection per requested protocol level sends a plain
CONNECT (the target's credentials, a probe Client Identifier, Clean Start).  A level whose
CONNECT is refused or unanswered is dropped from the run, with the reason kept for the report
(its cases become NOT APPLICABLE, never FAIL).  The MQTT 5 CONNACK declares the optional
capabilities (MQTT 5 section 3.2.2.3; an absent property means its default); for MQTT 3.x
they come from the profile.  An unreachable broker raises `TargetError` (one line).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

from conformance.client import BrokerViolation, ClientError, TestClient
from conformance.target import (
    LEVEL_OF_VERSION,
    VERSION_OF_LEVEL,
    Capabilities,
    Target,
    TargetError,
)
from conformance.wirelog import EventKind, WireLog
from mqttspec import Connack, Properties


@dataclass(frozen=True, slots=True)
class Discovery:
    target: Target  # levels narrowed to those accepted, capabilities read from CONNACK
    refused: dict[str, str] = field(default_factory=dict)  # version -> why it is not tested


def discover(target: Target) -> Discovery:
    accepted: list[int] = []
    refused: dict[str, str] = {}
    caps = target.capabilities
    for level in target.levels:
        try:
            connack = probe(target, level)
        except OSError as exc:
            raise TargetError(f"cannot reach the broker at {target.host}:{target.port}: "
                              f"{exc.strerror or exc}") from None
        except ClientError as exc:
            refused[VERSION_OF_LEVEL[level]] = f"the broker did not accept a plain CONNECT: {exc}"
            continue
        if connack.reason_code != 0:
            refused[VERSION_OF_LEVEL[level]] = f"CONNACK return code {connack.reason_code:#04x}"
            continue
        accepted.append(level)
        if level == 5:
            caps = capabilities_from(connack.properties, caps)
    untested = tuple((LEVEL_OF_VERSION[v], why) for v, why in refused.items())
    return Discovery(replace(target, levels=tuple(accepted), capabilities=caps,
                             untested=untested), refused)


def probe(target: Target, level: int) -> Connack:
    log = WireLog()
    try:
        with TestClient(target, log, "probe", level) as c:
            connack = c.connect(f"mqttlab-probe-{os.getpid():x}-{level}")
            if connack.reason_code == 0:
                c.disconnect()
            return connack
    except BrokerViolation:
        # a broker without MQTT 5 may answer in the 3.1.1 form (MQTT 5.0 section 3.1.2.2)
        refused = [e.hex for e in log.events if e.kind is EventKind.BROKER_VIOLATION]
        if level == 5 and refused and refused[0].startswith("20 02 00 "):
            raise ClientError(f"answered with an MQTT 3.1.1 CONNACK (return code "
                              f"0x{refused[0].split()[3]}): no MQTT 5.0") from None
        raise


def capabilities_from(p: Properties, base: Capabilities) -> Capabilities:
    """MQTT 5 CONNACK properties; an absent one takes its default (section 3.2.2.3)."""
    def flag(value: int | None) -> bool:
        return value is None or value == 1

    return replace(
        base,
        maximum_qos=2 if p.maximum_qos is None else p.maximum_qos,
        retain_available=flag(p.retain_available),
        wildcard_subscriptions=flag(p.wildcard_subscription_available),
        subscription_identifiers=flag(p.subscription_identifier_available),
        shared_subscriptions=flag(p.shared_subscription_available),
        topic_alias_maximum=p.topic_alias_maximum or 0,
        receive_maximum=p.receive_maximum or 65535,
        maximum_packet_size=p.maximum_packet_size)
