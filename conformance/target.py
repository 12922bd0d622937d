"""What the suite is pointed at: address, transport, credentials, versions and capabilities.

Strategy: one frozen `Target` value built from command-line options or a small profile file.
Only loopback addresses are accepted (127.0.0.0/8 and ::1): the suite drives brokers on this
machine.  Optional capabilities for MQTT 3.x come from the profile (3.x brokers cannot declare
them); for MQTT 5 the suite reads them from the broker's CONNACK at run time.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

VERSION_OF_LEVEL = {3: "3.1", 4: "3.1.1", 5: "5.0"}  # protocol level -> MQTT version
LEVEL_OF_VERSION = {v: k for k, v in VERSION_OF_LEVEL.items()}
LEVELS = {**LEVEL_OF_VERSION, "5": 5, "3": 3, "4": 4}  # what a user may write


class TargetError(ValueError):
    """A bad target description; the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """Optional features a broker may offer (MQTT 5 declares them in CONNACK)."""

    maximum_qos: int = 2
    retain_available: bool = True
    wildcard_subscriptions: bool = True
    subscription_identifiers: bool = True
    shared_subscriptions: bool = True
    topic_alias_maximum: int = 0
    receive_maximum: int = 65535
    maximum_packet_size: int | None = None
    zero_length_client_id: bool = True

    def has(self, name: str) -> bool:
        value = getattr(self, name)
        return bool(value) if not isinstance(value, int) or isinstance(value, bool) else value > 0


@dataclass(frozen=True, slots=True)
class Target:
    host: str = "127.0.0.1"
    port: int = 1883
    tls: bool = False
    cafile: str | None = None
    username: str | None = None
    password: str | None = None
    levels: tuple[int, ...] = (3, 4, 5)
    capabilities: Capabilities = field(default_factory=Capabilities)
    timeout: float = 2.0  # seconds for one bounded wait
    case_timeout: float = 30.0  # seconds for a whole case, however many waits it makes
    denied_topic: str | None = None  # a Topic Name the broker does not let us publish to
    untested: tuple[tuple[int, str], ...] = ()  # (level, why) for versions the broker refused
    websocket_port: int | None = None  # MQTT over WebSocket listener (section 6), if any
    websocket_path: str = "/mqtt"  # the HTTP path of its opening handshake

    def __post_init__(self) -> None:
        check_loopback(self.host)
        if not 0 < self.port < 65536:
            raise TargetError(f"port {self.port} is not a TCP port")
        if self.websocket_port is not None and not 0 < self.websocket_port < 65536:
            raise TargetError(f"WebSocket port {self.websocket_port} is not a TCP port")
        if not self.websocket_path.startswith("/") or any(
                ch <= " " or ch == "\x7f" for ch in self.websocket_path):
            raise TargetError(f"WebSocket path {self.websocket_path!r} must start with '/' "
                              "and hold no spaces or control characters")
        for level in self.levels:
            if level not in (3, 4, 5):
                raise TargetError(f"protocol level {level} is not 3, 4 or 5")


def check_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise TargetError(f"{host!r} is not an IP address (use 127.0.0.1 or ::1)") from None
    if not address.is_loopback:
        raise TargetError(f"{host} is not a loopback address: the suite only targets "
                          "127.0.0.0/8 and ::1")


def parse_address(text: str) -> tuple[str, int]:
    """"HOST:PORT", "[::1]:PORT" or "PORT" -> (host, port)."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        number = int(port)
    except ValueError:
        raise TargetError(f"{text!r} is not HOST:PORT") from None
    return host, number


def parse_levels(text: str) -> tuple[int, ...]:
    try:
        return tuple(sorted({LEVELS[v.strip()] for v in text.split(",") if v.strip()}))
    except KeyError as exc:
        raise TargetError(f"unknown MQTT version {exc.args[0]!r} (3.1, 3.1.1, 5.0)") from None


def target_from_options(*, profile: str | None = None, broker: str | None = None,
                        versions: str | None = None, tls: bool = False,
                        **fields: Any) -> Target:
    """The target a command line describes: the profile (or the defaults), then each option
    given; `fields` are Target fields, None meaning "not given"."""
    changes = {name: value for name, value in fields.items() if value is not None}
    if broker:
        changes["host"], changes["port"] = parse_address(broker)
    if versions:
        changes["levels"] = parse_levels(versions)
    if tls:
        changes["tls"] = True
    base = load_profile(profile) if profile else Target()
    return replace(base, **changes)


def load_profile(path: str | Path, base: Target | None = None) -> Target:
    """A JSON profile: {"host", "port", "tls", "versions": ["3.1.1", "5.0"], "capabilities":
    {...}}; keys not given keep the `base` value."""
    try:
        data: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TargetError(f"cannot read profile {path}: {exc}") from None
    target = base or Target()
    caps = data.pop("capabilities", {})
    known = {f.name for f in fields(Capabilities)}
    if unknown := set(caps) - known:
        raise TargetError(f"profile {path}: unknown capabilities {sorted(unknown)}")
    changes: dict[str, Any] = {}
    if "versions" in data:
        changes["levels"] = parse_levels(",".join(data.pop("versions")))
    known_target = {f.name for f in fields(Target)} - {"capabilities", "levels"}
    if unknown := set(data) - known_target:
        raise TargetError(f"profile {path}: unknown keys {sorted(unknown)}")
    changes.update(data)
    changes["capabilities"] = replace(target.capabilities, **caps)
    return replace(target, **changes)
