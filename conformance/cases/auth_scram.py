"""The client half of SCRAM-SHA-256 (RFC 5802 with RFC 7677's hash) for the AUTH cases, and
the first steps of an MQTT 5 enhanced authentication (MQTT 5 section 4.12).

Strategy: written here from the RFC, independent of the reference broker's own SCRAM code, so
the two cannot share a mistake.  SCRAM-SHA-256 is the method the suite tries: a broker that
does not offer it answers the CONNECT with a refusal (0x8C Bad authentication method, as
MQTT-4.12.0-1 allows), and the cases that need it are then NOT APPLICABLE.  The user is the
target's User Name when one is configured, else a made-up one: enough for the cases that
only need the exchange to start, or to fail.  No cases live in this module.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import replace

from conformance.case import CaseContext, fail, not_applicable
from conformance.client import BrokerClosed, BrokerViolation, ClientError, TestClient
from mqttspec import Auth, Connack, Connect, Packet, Properties, encode

METHOD = "SCRAM-SHA-256"
NOBODY = "mqttlab-nobody"  # a user no broker knows


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.digest(key, data, "sha256")


class ScramClient:
    def __init__(self, user: str, password: str) -> None:
        self.password = password
        self.nonce = _b64(os.urandom(18))
        name = user.replace("=", "=3D").replace(",", "=2C")
        self.first_bare = f"n={name},r={self.nonce}"
        self.server_signature = b""

    def first(self) -> bytes:
        """client-first-message: no channel binding, no authorization identity."""
        return ("n,," + self.first_bare).encode()

    def final(self, server_first: bytes) -> bytes:
        """client-final-message answering server-first-message (ValueError if unreadable)."""
        text = server_first.decode()
        attrs = dict(part.split("=", 1) for part in text.split(","))
        nonce, salt, iterations = attrs["r"], base64.b64decode(attrs["s"]), int(attrs["i"])
        if not nonce.startswith(self.nonce):
            raise ValueError("the server nonce does not extend the client nonce")
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), salt, iterations)
        client_key = _hmac(salted, b"Client Key")
        without_proof = f"c={_b64(b'n,,')},r={nonce}"
        auth_message = f"{self.first_bare},{text},{without_proof}".encode()
        signature = _hmac(hashlib.sha256(client_key).digest(), auth_message)
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        self.server_signature = _hmac(_hmac(salted, b"Server Key"), auth_message)
        return f"{without_proof},p={_b64(proof)}".encode()

    def verifies(self, server_final: bytes) -> bool:
        text = server_final.decode(errors="replace")
        return text.startswith("v=") and hmac.compare_digest(
            base64.b64decode(text[2:].split(",")[0] or "=="), self.server_signature)


def credentials(ctx: CaseContext, need: bool = False) -> tuple[str, str]:
    """The target's User Name and Password; a made-up user unless the case `need`s real ones."""
    t = ctx.target
    if t.username and t.password:
        return t.username, t.password
    if need:
        not_applicable("no User Name / Password configured for the target (--broker-username, "
                       "--broker-password): a successful SCRAM-SHA-256 exchange needs them")
    return NOBODY, "not-the-password"


def auth_packet(scram_data: bytes, code: int = 0x18) -> Auth:
    return Auth(reason_code=code, properties=Properties(authentication_method=METHOD,
                                                        authentication_data=scram_data))


def start(ctx: CaseContext, c: TestClient, scram: ScramClient,
          props: Properties | None = None) -> Packet | None:
    """CONNECT with SCRAM-SHA-256 and the client-first-message; the broker's first answer
    (None: it closed without one)."""
    properties = replace(props or Properties(), authentication_method=METHOD,
                         authentication_data=scram.first())
    c.send(encode(Connect(client_id=ctx.client_id(c.name), protocol_level=5,
                          properties=properties)))
    try:
        return c.recv()
    except BrokerClosed:
        return None


def expect_challenge(ctx: CaseContext, c: TestClient, scram: ScramClient,
                     props: Properties | None = None) -> Auth:
    """Start the exchange; the broker's AUTH (else NOT APPLICABLE: SCRAM is not offered)."""
    try:
        first = start(ctx, c, scram, props)
    except BrokerViolation as exc:  # e.g. an AUTH without Authentication Method (-5)
        fail(f"a well-formed answer to a {METHOD} CONNECT", str(exc))
    except ClientError as exc:
        not_applicable(f"no answer to a {METHOD} CONNECT: {exc}")
    if isinstance(first, Auth):
        return first
    if isinstance(first, Connack) and first.reason_code >= 0x80:
        not_applicable(f"the broker refuses {METHOD} (CONNACK {first.reason_code:#04x})")
    if first is None:
        not_applicable(f"the broker closed the connection on a {METHOD} CONNECT")
    not_applicable(f"the broker answered a {METHOD} CONNECT with {first!r}")
