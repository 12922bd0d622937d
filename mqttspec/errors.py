"""The one error type for "the peer broke the spec", and the encoder's refusal.

Strategy: every check in the decoder raises `ProtocolViolation`, carrying the normative
statement IDs that the bytes break (for the protocol level they were read under) and the
reason code an MQTT 5 receiver should answer with.  Nothing else may escape the decoder: that
is the invariant the fuzz tests hold it to.  MQTT 3.1 has no numbered statements; violations
read under level 3 carry the MQTT 3.1.1 IDs of the equivalent rule.

`EncodeError` is different in kind: it is *our* caller asking the strict encoder to write a
packet the spec forbids.
"""

from __future__ import annotations

from mqttspec.reason_codes import reason_code_name


class ProtocolViolation(Exception):
    """Bytes from the peer that break the spec.

    statements: normative statement IDs broken (may be empty where the rule is unnumbered,
        then `section` names where the rule lives).
    reason_code: what an MQTT 5 receiver should send (in DISCONNECT or CONNACK), e.g. 0x81.
    protocol_level: the level the packet was read under, set by the decoder: for a refused
        CONNECT, the Protocol Level byte it declared (any value) once that byte was read, so a
        server can answer in the client's version; None when not known.  The statements are
        numbered for MQTT 5.0 when it is 5, for 3.1.1 otherwise.
    """

    __slots__ = ("detail", "statements", "reason_code", "section", "protocol_level")

    def __init__(
        self,
        detail: str,
        statements: tuple[str, ...] = (),
        reason_code: int = 0x81,
        section: str = "",
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.statements = statements
        self.reason_code = reason_code
        self.section = section
        self.protocol_level: int | None = None

    def __str__(self) -> str:
        where = ", ".join(self.statements) or (f"section {self.section}" if self.section else "")
        code = f"0x{self.reason_code:02X} {reason_code_name(self.reason_code)}"
        return f"{self.detail} [{where}; {code}]" if where else f"{self.detail} [{code}]"

    def __repr__(self) -> str:
        return (
            f"ProtocolViolation({self.detail!r}, statements={self.statements!r}, "
            f"reason_code=0x{self.reason_code:02X}, section={self.section!r})"
        )


class EncodeError(ValueError):
    """The strict encoder refuses to write a packet that breaks the spec."""


def ids(level: int, v3: str | tuple[str, ...], v5: str | tuple[str, ...]) -> tuple[str, ...]:
    """Statement IDs for a rule, picked by protocol level (3 and 4 use 3.1.1 numbering)."""
    chosen = v5 if level == 5 else v3
    if isinstance(chosen, str):
        return (chosen,) if chosen else ()
    return chosen
