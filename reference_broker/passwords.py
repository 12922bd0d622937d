"""The password file: one line per user holding salted, iterated SCRAM-SHA-256 keys.

Strategy: a user's secret is what SCRAM's server half needs (scram.py): a random 16-byte salt,
the PBKDF2-HMAC-SHA-256 iteration count, StoredKey and ServerKey, written in the layout of
RFC 5803 (the one PostgreSQL uses), after the user name and a colon:

    # comment lines and blank lines are ignored
    alice:SCRAM-SHA-256$100000:3q2+7wAAAAAAAAAAAAAAAA==$<StoredKey base64>:<ServerKey base64>

The same entry checks a CONNECT User Name / Password (derive the keys from the password with
the stored salt, compare StoredKey in constant time) and serves SCRAM, so no password is ever
stored.  A user name may hold ':' (the secret is matched from the end of the line) but not a
line break, and may not start with '#'.  An unknown user costs the same key derivation as a
known one.  `passwd_main` is `python -m reference_broker passwd FILE USER`.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import getpass
import os
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from reference_broker.scram import (
    DEFAULT_ITERATIONS,
    MECHANISM,
    MIN_ITERATIONS,
    ScramCredentials,
    check_password,
    new_credentials,
    salted_password,
    saslprep,
)

_LINE = re.compile(
    r"(?P<user>.+):" + re.escape(MECHANISM) + r"\$(?P<iterations>[0-9]{1,9}):"
    r"(?P<salt>[A-Za-z0-9+/=]+)\$(?P<stored>[A-Za-z0-9+/=]+):(?P<server>[A-Za-z0-9+/=]+)")
_DUMMY_SALT = b"\x00" * 16


class PasswordFileError(ValueError):
    """A password file that cannot be read or parsed; the message is one line."""


def check_username(name: str) -> str:
    """The name, if a password file line can hold it (else PasswordFileError)."""
    if not name:
        raise PasswordFileError("the user name is empty")
    if any(c in name for c in "\r\n\x00") or name.startswith("#"):
        raise PasswordFileError(f"user name {name!r} may not hold a line break or NUL, "
                                "nor start with '#'")
    if len(name.encode("utf-8", "surrogatepass")) > 0xFFFF:
        raise PasswordFileError("the user name is longer than an MQTT string")
    return name


class PasswordFile:
    def __init__(self, users: dict[str, ScramCredentials] | None = None) -> None:
        self.users: dict[str, ScramCredentials] = dict(users or {})

    # -- reading and writing ------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str, source: str = "password file") -> PasswordFile:
        users: dict[str, ScramCredentials] = {}
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            match = _LINE.fullmatch(line)
            if match is None:
                raise PasswordFileError(f"{source} line {number}: expected "
                                        f"USER:{MECHANISM}$ITERATIONS:SALT$STOREDKEY:SERVERKEY")
            try:
                salt, stored, server = (base64.b64decode(match[k], validate=True)
                                        for k in ("salt", "stored", "server"))
            except binascii.Error:
                raise PasswordFileError(f"{source} line {number}: bad base64") from None
            if len(stored) != 32 or len(server) != 32 or not salt:
                raise PasswordFileError(f"{source} line {number}: keys must be 32 bytes")
            users[match["user"]] = ScramCredentials(salt, int(match["iterations"]), stored,
                                                    server)
        return cls(users)

    @classmethod
    def load(cls, path: str | Path) -> PasswordFile:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
            raise PasswordFileError(f"cannot read password file {str(path)!r}: {why}") from None
        return cls.parse(text, f"password file {str(path)!r}")

    def dumps(self) -> str:
        lines = ["# reference broker password file: USER:SCRAM-SHA-256$ITERATIONS:SALT"
                 "$STOREDKEY:SERVERKEY", "# add or change a user: python -m reference_broker "
                 "passwd FILE USER"]
        for user, c in self.users.items():
            b64 = [base64.b64encode(v).decode("ascii")
                   for v in (c.salt, c.stored_key, c.server_key)]
            lines.append(f"{user}:{MECHANISM}${c.iterations}:{b64[0]}${b64[1]}:{b64[2]}")
        return "\n".join(lines) + "\n"

    def save(self, path: str | Path) -> None:
        """Write atomically (a temporary file renamed over the old one), readable by the
        owner only."""
        path = Path(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(self.dumps())
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # -- users -------------------------------------------------------------------------------

    def set(self, user: str, password: str, iterations: int = DEFAULT_ITERATIONS) -> None:
        self.users[check_username(user)] = new_credentials(password, iterations)

    def lookup(self, user: str) -> ScramCredentials | None:
        return self.users.get(user)

    @property
    def usual_iterations(self) -> int:
        """The most common iteration count: what an unknown user is made to cost."""
        counts = Counter(c.iterations for c in self.users.values())
        return counts.most_common(1)[0][0] if counts else DEFAULT_ITERATIONS

    def check(self, user: str, password: bytes) -> bool:
        """Does the CONNECT Password match the user's stored keys?"""
        credentials = self.users.get(user)
        try:
            text = password.decode("utf-8")
            if credentials is not None:
                return check_password(text, credentials)
        except (UnicodeDecodeError, ValueError):  # not UTF-8, or refused by SASLprep
            text = ""
        salted_password(text, _DUMMY_SALT, self.usual_iterations)  # same cost as a real check
        return False


# -- python -m reference_broker passwd FILE USER -------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m reference_broker passwd",
        description="Add a user to a password file, or change or delete one. The password is "
                    "read from --password, else from standard input (one line), else asked "
                    "for twice on the terminal.")
    parser.add_argument("file", metavar="FILE", help="password file (created if missing)")
    parser.add_argument("user", metavar="USER", help="user name")
    parser.add_argument("--password", help="the password (visible to other local users: "
                        "for scripts and tests)")
    parser.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS,
                        help=f"PBKDF2 iterations (at least {MIN_ITERATIONS}; "
                             f"default {DEFAULT_ITERATIONS})")
    parser.add_argument("--delete", action="store_true", help="remove the user")
    return parser


def _read_password(args: argparse.Namespace) -> str:
    if args.password is not None:
        return str(args.password)
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise PasswordFileError("the passwords differ")
    return first


def passwd_main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    path = Path(args.file)
    try:
        check_username(args.user)
        db = PasswordFile.load(path) if path.exists() else PasswordFile()
        if args.delete:
            if db.users.pop(args.user, None) is None:
                raise PasswordFileError(f"no user {args.user!r} in {str(path)!r}")
            db.save(path)
            print(f"deleted user {args.user!r}")
            return 0
        if args.iterations < MIN_ITERATIONS:
            raise PasswordFileError(f"--iterations must be at least {MIN_ITERATIONS}")
        password = _read_password(args)
        if not password:
            raise PasswordFileError("the password is empty")
        try:
            saslprep(password)
        except ValueError as exc:
            raise PasswordFileError(f"unusable password: {exc}") from None
        existed = args.user in db.users
        db.set(args.user, password, args.iterations)
        db.save(path)
    except PasswordFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write {str(path)!r}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"{'updated' if existed else 'added'} user {args.user!r} in {str(path)!r}")
    return 0
