"""Faulty variants of the reference broker: each one lacks one behaviour the spec requires.

Strategy: a `Fault` is declared once, like a case, with a stable ID, the statement IDs whose
behaviour it removes, and an `install(p: Patcher)` function that monkeypatches the reference
broker in the current process (nothing in the broker's own code knows about faults: they stay
out of its normal path).  `Patcher` offers three tools: `outgoing(fn)` rewrites or drops what
the broker sends (every packet passes through `fn(conn, packet)`), `incoming(fn)` the same for
what it receives, and `wrap(owner, name, wrapper)` replaces any function or method with
`wrapper(original, *args)`.  `config` changes the broker's configuration for the variant.
Everything is undone by `Patcher.undo()`.  The proof runner (conformance/canfail.py) starts a
broker under each fault and runs the cases that check the fault's statements: a case that
still passes against a broker lacking the behaviour proves nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mqttspec import Packet, decode_packet
from reference_broker.connection import Connection

Outgoing = Callable[[Connection, Packet], "Packet | Sequence[Packet] | None"]
Incoming = Callable[[Connection, Packet], "Packet | None"]


@dataclass(frozen=True, slots=True)
class Fault:
    id: str
    title: str
    v3: tuple[str, ...]  # statement IDs (3.1.1 numbering) whose behaviour it removes
    v5: tuple[str, ...]  # ... and in the 5.0 numbering
    install: Callable[[Patcher], None]
    cases: tuple[str, ...] = ()  # case ID prefixes expected to catch it, besides statements
    config: dict[str, Any] = field(default_factory=dict)  # BrokerConfig changes
    levels: tuple[int, ...] = (3, 4, 5)  # protocol levels the fault is meant for
    target: dict[str, Any] = field(default_factory=dict)  # Target changes (e.g. denied_topic)


FAULTS: dict[str, Fault] = {}


def fault(fault_id: str, title: str, *, v3: Sequence[str] | str = (),
          v5: Sequence[str] | str = (), cases: Sequence[str] = (),
          config: dict[str, Any] | None = None, levels: Sequence[int] = (3, 4, 5),
          target: dict[str, Any] | None = None
          ) -> Callable[[Callable[[Patcher], None]], Callable[[Patcher], None]]:
    """Declare a faulty variant; the decorated function installs it."""
    def ids(value: Sequence[str] | str) -> tuple[str, ...]:
        return (value,) if isinstance(value, str) else tuple(value)

    def register(install: Callable[[Patcher], None]) -> Callable[[Patcher], None]:
        if fault_id in FAULTS:
            raise ValueError(f"fault {fault_id} declared twice")
        FAULTS[fault_id] = Fault(fault_id, title, ids(v3), ids(v5), install, tuple(cases),
                                 dict(config or {}), tuple(levels), dict(target or {}))
        return install

    return register


class Patcher:
    """Monkeypatches, all undone by `undo()`."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def wrap(self, owner: Any, name: str, wrapper: Callable[..., Any]) -> None:
        """`owner.name(*args)` becomes `wrapper(original, *args)`."""
        original = getattr(owner, name)

        @functools.wraps(original)
        def patched(*args: Any, **kwargs: Any) -> Any:
            return wrapper(original, *args, **kwargs)

        setattr(owner, name, patched)
        self._undo.append(lambda: setattr(owner, name, original))

    def replace(self, owner: Any, name: str, value: Any) -> None:
        original = getattr(owner, name)
        setattr(owner, name, value)
        self._undo.append(lambda: setattr(owner, name, original))

    def outgoing(self, fn: Outgoing) -> None:
        """Every packet the broker sends goes through `fn(conn, packet)`, which returns it,
        another packet, several, or None to drop it."""
        def send(original: Callable[[Connection, Packet], bool], conn: Connection,
                 packet: Packet) -> bool:
            result = fn(conn, packet)
            if result is None:
                return True  # dropped, as if it had been sent
            many = [result] if not isinstance(result, Sequence) else list(result)
            return all([original(conn, p) for p in many])

        def send_encoded(original: Callable[[Connection, bytes], bool], conn: Connection,
                         data: bytes) -> bool:
            return bool(Connection.send(conn, decode_packet(data, protocol_level=conn.level,
                                                            peer="server")))

        self.wrap(Connection, "send", send)
        self.wrap(Connection, "send_encoded", send_encoded)

    def incoming(self, fn: Incoming) -> None:
        """Every packet the broker receives (after CONNECT's decoding) goes through
        `fn(conn, packet)`; None drops it unseen."""
        def receive(original: Callable[[Connection, Packet, float], None], conn: Connection,
                    packet: Packet, now: float) -> None:
            result = fn(conn, packet)
            if result is not None:
                original(conn, result, now)

        self.wrap(Connection, "receive", receive)

    def undo(self) -> None:
        while self._undo:
            self._undo.pop()()

