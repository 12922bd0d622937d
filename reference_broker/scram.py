"""SCRAM-SHA-256 (RFC 5802 with RFC 7677's hash), both halves, standard library only.

Strategy: the four SCRAM messages are plain byte strings; `ScramServer` turns client-first
into server-first and client-final into server-final, `ScramClient` does the opposite, and
neither knows about MQTT (the broker carries them in Authentication Data, MQTT 5 section
4.12).  The server never sees a password: it holds, per user, the salt, the iteration count,
StoredKey = H(HMAC(SaltedPassword, "Client Key")) and ServerKey = HMAC(SaltedPassword,
"Server Key"), exactly what the password file stores.  An unknown user gets made-up but
stable credentials, so the exchange fails only at the proof, like a wrong password
(RFC 5802 section 5.1 on not disclosing which users exist).  Channel binding is not offered
(gs2 flag "n" or "y"); an authorization identity other than the user is refused.  Passwords
go through SASLprep; user names are compared exactly, as MQTT compares a User Name.  Every
failure raises `ScramError`; proofs are compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import stringprep
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

MECHANISM = "SCRAM-SHA-256"
MIN_ITERATIONS = 4096  # RFC 7677 section 4: at least 4096
DEFAULT_ITERATIONS = 100_000
_KEY_FOR_UNKNOWN = secrets.token_bytes(32)  # per process: made-up credentials stay stable


class ScramError(ValueError):
    """The exchange failed; the message is an RFC 5802 server-error-value or a short reason."""


@dataclass(frozen=True, slots=True)
class ScramCredentials:
    """What the server stores for one user (RFC 5802 section 3)."""

    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes


# -- key derivation -------------------------------------------------------------------------

def _hmac(key: bytes, data: bytes) -> bytes:
    return hmac.digest(key, data, "sha256")


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def salted_password(password: str, salt: bytes, iterations: int) -> bytes:
    """Hi(Normalize(password), salt, i): PBKDF2-HMAC-SHA-256 (RFC 5802 section 2.2)."""
    return hashlib.pbkdf2_hmac("sha256", saslprep(password).encode("utf-8"), salt, iterations)


def derive(password: str, salt: bytes, iterations: int) -> ScramCredentials:
    salted = salted_password(password, salt, iterations)
    return ScramCredentials(salt, iterations, _h(_hmac(salted, b"Client Key")),
                            _hmac(salted, b"Server Key"))


def new_credentials(password: str, iterations: int = DEFAULT_ITERATIONS) -> ScramCredentials:
    """Credentials with a fresh random 16-byte salt."""
    return derive(password, secrets.token_bytes(16), iterations)


def check_password(password: str, credentials: ScramCredentials) -> bool:
    """Does `password` give the stored key?  (Constant-time comparison.)"""
    salted = salted_password(password, credentials.salt, credentials.iterations)
    return hmac.compare_digest(_h(_hmac(salted, b"Client Key")), credentials.stored_key)


def saslprep(text: str) -> str:
    """RFC 4013 SASLprep for stored strings (user names and passwords); ValueError if the
    string holds a prohibited, unassigned or badly mixed bidirectional character."""
    if text.isascii() and text.isprintable():
        return text  # the common case: nothing is mapped or prohibited
    mapped = "".join(" " if stringprep.in_table_c12(c) else c for c in text
                     if not stringprep.in_table_b1(c))
    prepared = unicodedata.ucd_3_2_0.normalize("NFKC", mapped)
    for c in prepared:
        if (stringprep.in_table_c12(c) or stringprep.in_table_c21_c22(c)
                or stringprep.in_table_c3(c) or stringprep.in_table_c4(c)
                or stringprep.in_table_c5(c) or stringprep.in_table_c6(c)
                or stringprep.in_table_c7(c) or stringprep.in_table_c8(c)
                or stringprep.in_table_c9(c) or stringprep.in_table_a1(c)):
            raise ValueError(f"character U+{ord(c):04X} is not allowed (SASLprep)")
    if any(stringprep.in_table_d1(c) for c in prepared) and (
            any(stringprep.in_table_d2(c) for c in prepared)
            or not (stringprep.in_table_d1(prepared[0])
                    and stringprep.in_table_d1(prepared[-1]))):
        raise ValueError("bidirectional text not allowed (SASLprep)")
    return prepared


# -- message syntax ---------------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ScramError(f"{what} is not base64") from None


def _text(message: bytes, what: str) -> str:
    try:
        return message.decode("utf-8")
    except UnicodeDecodeError:
        raise ScramError(f"{what} is not UTF-8") from None


def _attributes(text: str, expected: str, what: str) -> list[str]:
    """The values of comma-separated 'x=value' attributes, whose names must be `expected`
    (in order; a final '*' allows extensions before the last one)."""
    parts = text.split(",")
    names = [p[:1] for p in parts]
    if len(parts) < len(expected) or any(p[1:2] != "=" for p in parts):
        raise ScramError(f"{what}: malformed attributes")
    if names[: len(expected) - 1] != list(expected[:-1]) or names[-1] != expected[-1]:
        if "m" in names:
            raise ScramError("extensions-not-supported")
        raise ScramError(f"{what}: expected attributes {','.join(expected)}")
    if len(parts) > len(expected):
        raise ScramError("extensions-not-supported")
    return [p[2:] for p in parts]


def _check_nonce(nonce: str) -> str:
    if not nonce or any(not 0x21 <= ord(c) <= 0x7E or c == "," for c in nonce):
        raise ScramError("nonce must be printable ASCII without ','")
    return nonce


def encode_name(name: str) -> str:
    """saslname: ',' and '=' escaped as '=2C' and '=3D' (RFC 5802 section 5.1)."""
    return name.replace("=", "=3D").replace(",", "=2C")


def decode_name(saslname: str) -> str:
    out, i = [], 0
    while i < len(saslname):
        if saslname[i] == "=":
            escape = saslname[i:i + 3]
            if escape not in ("=2C", "=3D"):
                raise ScramError("invalid-username-encoding")
            out.append("," if escape == "=2C" else "=")
            i += 3
        else:
            out.append(saslname[i])
            i += 1
    return "".join(out)


# -- the server half ----------------------------------------------------------------------------

Lookup = Callable[[str], ScramCredentials | None]


class ScramServer:
    """One server-side exchange: `first(client_first)`, then `final(client_final)`."""

    def __init__(self, lookup: Lookup, *, nonce: str | None = None,
                 unknown_iterations: int = DEFAULT_ITERATIONS) -> None:
        self._lookup = lookup
        self._server_nonce = _check_nonce(nonce) if nonce else _b64(secrets.token_bytes(18))
        self._unknown_iterations = unknown_iterations
        self.username = ""
        self._known = False
        self._credentials: ScramCredentials | None = None
        self._gs2 = ""
        self._nonce = ""
        self._first_bare = ""
        self._server_first = ""

    def first(self, client_first: bytes) -> bytes:
        """client-first-message -> server-first-message."""
        if self._credentials is not None:
            raise ScramError("client-first-message sent twice")
        text = _text(client_first, "client-first-message")
        flag, comma1, rest = text.partition(",")
        authzid, comma2, bare = rest.partition(",")
        if not (comma1 and comma2) or flag not in ("n", "y"):
            if flag.startswith("p="):
                raise ScramError("channel-binding-not-supported")
            raise ScramError("client-first-message: malformed gs2 header")
        name, nonce = _attributes(bare, "nr", "client-first-message")
        username = decode_name(name)
        if authzid and decode_name(authzid.removeprefix("a=")) != username:
            raise ScramError("invalid-authzid")  # acting for another user is not offered
        credentials = self._lookup(username)
        self._known = credentials is not None
        if credentials is None:
            credentials = self._made_up(username)
        self.username = username
        self._credentials = credentials
        self._gs2 = f"{flag},{authzid},"
        self._nonce = _check_nonce(nonce) + self._server_nonce
        self._first_bare = bare
        self._server_first = (f"r={self._nonce},s={_b64(credentials.salt)},"
                              f"i={credentials.iterations}")
        return self._server_first.encode("ascii")

    def final(self, client_final: bytes) -> bytes:
        """client-final-message -> server-final-message; ScramError on a wrong proof."""
        credentials = self._credentials
        if credentials is None or not self._nonce:
            raise ScramError("client-final-message out of order")
        text = _text(client_final, "client-final-message")
        binding, nonce, proof = _attributes(text, "crp", "client-final-message")
        if _unb64(binding, "channel binding") != self._gs2.encode("utf-8"):
            raise ScramError("channel-bindings-dont-match")
        if nonce != self._nonce:
            raise ScramError("nonce does not match")
        self._nonce = ""  # one proof per exchange
        without_proof = text[: text.rindex(",p=")]
        auth_message = ",".join((self._first_bare, self._server_first, without_proof))
        signature = _hmac(credentials.stored_key, auth_message.encode("utf-8"))
        given = _unb64(proof, "proof")
        client_key = bytes(a ^ b for a, b in zip(given, signature, strict=False))
        ok = len(given) == len(signature) and hmac.compare_digest(
            _h(client_key), credentials.stored_key)
        if not (ok and self._known):
            raise ScramError("invalid-proof")
        server_signature = _hmac(credentials.server_key, auth_message.encode("utf-8"))
        return f"v={_b64(server_signature)}".encode("ascii")

    def _made_up(self, username: str) -> ScramCredentials:
        seed = _hmac(_KEY_FOR_UNKNOWN, username.encode("utf-8"))
        return ScramCredentials(seed[:16], self._unknown_iterations, _h(seed), seed)


# -- the client half ----------------------------------------------------------------------------

class ScramClient:
    """One client-side exchange: `first()`, `final(server_first)`, `verify(server_final)`."""

    def __init__(self, username: str, password: str, *, nonce: str | None = None) -> None:
        self.username = username
        self._password = password
        self._nonce = _check_nonce(nonce) if nonce else _b64(secrets.token_bytes(18))
        self._first_bare = f"n={encode_name(username)},r={self._nonce}"
        self._server_signature = b""

    def first(self) -> bytes:
        """client-first-message (gs2 header "n,,": no channel binding, no authzid)."""
        return ("n,," + self._first_bare).encode("utf-8")

    def final(self, server_first: bytes) -> bytes:
        """server-first-message -> client-final-message."""
        text = _text(server_first, "server-first-message")
        nonce, salt, count = _attributes(text, "rsi", "server-first-message")
        if not nonce.startswith(self._nonce) or len(nonce) == len(self._nonce):
            raise ScramError("server nonce does not extend the client nonce")
        if not count.isdigit() or int(count) < 1:
            raise ScramError("bad iteration count")
        salted = salted_password(self._password, _unb64(salt, "salt"), int(count))
        without_proof = f"c={_b64(b'n,,')},r={_check_nonce(nonce)}"
        auth_message = ",".join((self._first_bare, text, without_proof)).encode("utf-8")
        client_key = _hmac(salted, b"Client Key")
        signature = _hmac(_h(client_key), auth_message)
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        self._server_signature = _hmac(_hmac(salted, b"Server Key"), auth_message)
        return f"{without_proof},p={_b64(proof)}".encode("ascii")

    def verify(self, server_final: bytes) -> None:
        """Check the server's signature (mutual authentication); ScramError if wrong."""
        text = _text(server_final, "server-final-message")
        if text.startswith("e="):
            raise ScramError(text[2:])
        if not text.startswith("v=") or not self._server_signature:
            raise ScramError("server-final-message: expected v=")
        if not hmac.compare_digest(_unb64(text[2:].split(",")[0], "verifier"),
                                   self._server_signature):
            raise ScramError("server signature does not verify")
