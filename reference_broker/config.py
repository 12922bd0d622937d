"""Broker configuration: one frozen dataclass, loaded from a JSON or TOML file plus overrides.

Strategy: every optional capability a broker may declare (MQTT 5 section 3.2.2.3) and every
resource limit is a field of `BrokerConfig`, with its default, its allowed range and a help
line kept beside it in the field metadata.  The same metadata drives validation (one readable
line per bad value, raised as `ConfigError`), the command-line options of `__main__` and the
start-up listing.  File keys may use '-' or '_'.
"""

from __future__ import annotations

import json
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

UNLIMITED_SESSION = 0xFFFFFFFF  # Session Expiry Interval meaning "never expires"


class ConfigError(ValueError):
    """A bad configuration value; the message is one line meant for the user."""


def _opt(default: Any, help: str, lo: float | None = None, hi: float | None = None) -> Any:
    return field(default=default, metadata={"help": help, "min": lo, "max": hi})


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerConfig:
    host: str = _opt("127.0.0.1", "address to listen on")
    port: int = _opt(0, "TCP port to listen on (0: the OS picks)", 0, 65535)
    tls_port: int | None = _opt(None, "TLS port (0: the OS picks; none: no TLS listener)",
                                0, 65535)
    websocket_port: int | None = _opt(
        None, "MQTT over WebSocket port (0: the OS picks; none: off)", 0, 65535)
    wss_port: int | None = _opt(
        None, "MQTT over WebSocket over TLS port (0: the OS picks; none: off)", 0, 65535)
    tls_certfile: str | None = _opt(None, "PEM certificate (chain) of the TLS listeners")
    tls_keyfile: str | None = _opt(None, "PEM private key (none: it is in tls_certfile)")
    tls_cafile: str | None = _opt(None, "PEM CA certificates that client certificates must "
                                  "chain to")
    tls_require_client_cert: bool = _opt(False, "refuse TLS clients without a valid "
                                         "certificate")
    maximum_qos: int = _opt(2, "highest QoS accepted from and granted to clients", 0, 2)
    retain_available: bool = _opt(True, "retained messages supported")
    wildcard_subscription_available: bool = _opt(True, "'+' and '#' in Topic Filters")
    subscription_identifier_available: bool = _opt(True, "Subscription Identifiers (MQTT 5)")
    shared_subscription_available: bool = _opt(True, "$share/... subscriptions (MQTT 5)")
    topic_alias_maximum: int = _opt(10, "Topic Aliases a client may use (0: none)", 0, 65535)
    receive_maximum: int = _opt(65535, "QoS 1/2 PUBLISH a client may have unacknowledged",
                                1, 65535)
    maximum_packet_size: int | None = _opt(
        None, "largest packet accepted, in bytes (none: the protocol limit)", 2, 268_435_460)
    session_expiry_max: int = _opt(UNLIMITED_SESSION, "cap on a Session Expiry Interval (s)",
                                   0, UNLIMITED_SESSION)
    server_keep_alive: int | None = _opt(
        None, "Keep Alive imposed on MQTT 5 clients (none: the client's own)", 0, 65535)
    allow_zero_length_client_id: bool = _opt(True, "assign a Client Identifier when empty")
    response_information: str | None = _opt(
        "response/", "prefix of the Response Information given on request (none: never)")
    server_user_property: str | None = _opt(
        None, "'name=value': a User Property added to every CONNACK, acknowledgement, "
        "DISCONNECT and AUTH sent to MQTT 5 clients (none: never)")
    connect_timeout: float = _opt(10.0, "seconds a connection may wait before CONNECT",
                                  0.01, 3600)
    max_inflight: int = _opt(100, "unacknowledged QoS 1/2 PUBLISH sent per session", 1, 65535)
    max_queued: int = _opt(1000, "messages queued per session before dropping", 0, 10_000_000)
    max_connections: int = _opt(10_000, "simultaneous network connections", 1, 10_000_000)
    password_file: str | None = _opt(
        None, "users and salted password hashes (python -m reference_broker passwd FILE USER)")
    allow_anonymous: bool | None = _opt(
        None, "accept clients without a user name (none: only when there is no password_file)")
    acl_file: str | None = _opt(None, "topic access rules (none: every topic is allowed)")

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in fields(self):
            _check(f.name, hints[f.name], getattr(self, f.name), f.metadata)
        if (self.tls_port is not None or self.wss_port is not None) and not self.tls_certfile:
            raise ConfigError("option tls_certfile: required by tls_port and wss_port")
        if self.tls_require_client_cert and not self.tls_cafile:
            raise ConfigError("option tls_cafile: required by tls_require_client_cert")
        if self.server_user_property is not None and "=" not in self.server_user_property:
            raise ConfigError("option server_user_property: expected 'name=value', got "
                              f"{self.server_user_property!r}")

    @property
    def user_properties(self) -> tuple[tuple[str, str], ...]:
        """`server_user_property` as the User Property pairs to send."""
        if self.server_user_property is None:
            return ()
        name, _, value = self.server_user_property.partition("=")
        return ((name, value),)

    def describe(self) -> list[str]:
        """One 'name = value' line per option, for the start-up listing."""
        return [f"{f.name} = {_show(getattr(self, f.name))}" for f in fields(self)]

    def with_overrides(self, overrides: Mapping[str, Any]) -> BrokerConfig:
        return replace(self, **_normalise(overrides, "overrides"))


def option_help() -> dict[str, str]:
    return {f.name: str(f.metadata["help"]) for f in fields(BrokerConfig)}


def option_types() -> dict[str, Any]:
    return typing.get_type_hints(BrokerConfig)


def _show(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)


def _check(name: str, hint: Any, value: object, meta: Mapping[str, Any]) -> None:
    args = typing.get_args(hint)
    optional = type(None) in args
    base = next((a for a in args if a is not type(None)), hint) if args else hint
    if value is None:
        if optional:
            return
        raise ConfigError(f"option {name}: a value is required")
    ok = isinstance(value, base) and not (base is not bool and isinstance(value, bool))
    if base is float and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if not ok:
        raise ConfigError(f"option {name}: expected {_kind(base)}, got {value!r}")
    lo, hi = meta.get("min"), meta.get("max")
    if isinstance(value, int | float) and not isinstance(value, bool) and (
        (lo is not None and value < lo) or (hi is not None and value > hi)
    ):
        raise ConfigError(f"option {name}: {value!r} is outside {lo:g}..{hi:g}")


def _kind(base: Any) -> str:
    return {bool: "true or false", int: "an integer", float: "a number",
            str: "a string"}.get(base, str(base))


def _normalise(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    known = {f.name for f in fields(BrokerConfig)}
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name not in known:
            raise ConfigError(f"{source}: unknown option {key!r}")
        out[name] = value
    return out


def parse_value(name: str, text: str) -> Any:
    """Turn a command-line string into the option's type ('none' for an optional value)."""
    hint = option_types()[name]
    args = typing.get_args(hint)
    base = next((a for a in args if a is not type(None)), hint) if args else hint
    if args and text.lower() in ("none", "null", ""):
        return None
    try:
        if base is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if base is int:
            return int(text, 0)
        if base is float:
            return float(text)
    except ValueError:
        raise ConfigError(f"option {name}: expected {_kind(base)}, got {text!r}") from None
    return text


def load_file(path: str | Path) -> dict[str, Any]:
    """The options in a JSON or TOML file (chosen by the suffix; TOML unless .json)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc.strerror}") from None
    try:
        data: object
        if path.suffix.lower() == ".json":
            data = json.loads(raw)
        else:
            data = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"config file {str(path)!r} is not valid: {first}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a table/object of options")
    return _normalise(data, f"config file {str(path)!r}")


def load_config(path: str | Path | None = None,
                overrides: Mapping[str, Any] | None = None) -> BrokerConfig:
    """Defaults, then the file's options, then the overrides (e.g. from the command line)."""
    values: dict[str, Any] = {}
    if path is not None:
        values.update(load_file(path))
    if overrides:
        values.update(_normalise(overrides, "overrides"))
    try:
        return BrokerConfig(**values)
    except TypeError as exc:  # pragma: no cover - _normalise already refuses unknown keys
        raise ConfigError(str(exc)) from None
