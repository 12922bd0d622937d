"""The password file, the `passwd` command, the ACL file and its matching rules."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from reference_broker.__main__ import main
from reference_broker.acl import READ, WRITE, Acl, AclError, Rule, Rules, covers
from reference_broker.auth import Security
from reference_broker.config import BrokerConfig, ConfigError
from reference_broker.passwords import PasswordFile, PasswordFileError, passwd_main
from reference_broker.scram import MIN_ITERATIONS, check_password, saslprep

FAST = MIN_ITERATIONS  # the least RFC 7677 allows: keeps the tests quick


# -- password file ---------------------------------------------------------------------------------

def test_round_trip_and_checks(tmp_path: Path) -> None:
    db = PasswordFile()
    db.set("alice", "wonderland", FAST)
    db.set("bob:the:builder", "can we fix it", FAST)  # ':' in a user name is allowed
    path = tmp_path / "passwd"
    db.save(path)
    assert path.stat().st_mode & 0o777 == 0o600
    text = path.read_text()
    assert "wonderland" not in text
    line = next(x for x in text.splitlines() if x.startswith("alice:"))
    assert line.startswith(f"alice:SCRAM-SHA-256${FAST}:")
    loaded = PasswordFile.load(path)
    assert loaded.users == db.users
    assert loaded.check("alice", b"wonderland")
    assert loaded.check("bob:the:builder", b"can we fix it")
    assert not loaded.check("alice", b"Wonderland")  # wrong password
    assert not loaded.check("alice", b"")
    assert not loaded.check("carol", b"wonderland")  # unknown user
    assert not loaded.check("alice", b"\xff\xfe")  # not UTF-8


def test_salt_differs_per_user_and_per_change() -> None:
    db = PasswordFile()
    db.set("a", "same", FAST)
    db.set("b", "same", FAST)
    a, b = db.users["a"], db.users["b"]
    assert len(a.salt) == 16 and a.salt != b.salt and a.stored_key != b.stored_key
    db.set("a", "same", FAST)
    assert db.users["a"].salt != a.salt
    assert check_password("same", db.users["a"])


def test_saslprep_maps_and_refuses() -> None:
    assert saslprep("I\u00adX") == "IX"  # soft hyphen is mapped to nothing
    assert saslprep("user") == "user"
    assert saslprep("\u00aa") == "a"  # NFKC
    assert saslprep("a\u00a0b") == "a b"  # non-ASCII space to space
    with pytest.raises(ValueError):
        saslprep("\u0007")  # prohibited control character
    with pytest.raises(ValueError):
        saslprep("\u0627\u0031")  # RandALCat first but not last
    db = PasswordFile()
    db.set("u", "I\u00adX", FAST)
    assert db.check("u", b"IX")  # the same password after SASLprep


@pytest.mark.parametrize(("text", "message"), [
    ("alice:plain\n", "line 1: expected USER:SCRAM-SHA-256"),
    ("# c\n\nalice:SCRAM-SHA-256$4096:AAAA$AAAA:AAAA\n", "line 3: keys must be 32 bytes"),
    ("alice:SCRAM-SHA-256$4096:A$AAAA:AAAA\n", "line 1: bad base64"),
])
def test_bad_password_files(text: str, message: str) -> None:
    with pytest.raises(PasswordFileError, match=message.replace("$", r"\$")):
        PasswordFile.parse(text)


def test_passwd_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "users"
    assert main(["passwd", str(path), "alice", "--password", "s3cret",
                 "--iterations", str(FAST)]) == 0
    assert "added user 'alice'" in capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", io.StringIO("from stdin\n"))
    assert passwd_main([str(path), "alice", "--iterations", str(FAST)]) == 0
    assert "updated user 'alice'" in capsys.readouterr().out
    db = PasswordFile.load(path)
    assert db.check("alice", b"from stdin") and not db.check("alice", b"s3cret")
    assert passwd_main([str(path), "bob", "--password", "x", "--iterations", "10"]) == 2
    assert "at least 4096" in capsys.readouterr().err
    assert passwd_main([str(path), "#bob", "--password", "x"]) == 2
    assert passwd_main([str(path), "bob", "--password", "", "--iterations", str(FAST)]) == 2
    assert "empty" in capsys.readouterr().err
    assert passwd_main([str(path), "alice", "--delete"]) == 0
    assert PasswordFile.load(path).users == {}
    assert passwd_main([str(path), "alice", "--delete"]) == 2
    assert "no user 'alice'" in capsys.readouterr().err
    (tmp_path / "broken").write_text("nonsense\n")
    assert passwd_main([str(tmp_path / "broken"), "a", "--password", "x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "line 1" in err


def test_passwd_subcommand_as_a_process(tmp_path: Path) -> None:
    path = tmp_path / "users"
    done = subprocess.run(
        [sys.executable, "-m", "reference_broker", "passwd", str(path), "carol",
         "--iterations", str(FAST)], input="pw\n", capture_output=True, text=True,
        timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert PasswordFile.load(path).check("carol", b"pw")


# -- ACL -------------------------------------------------------------------------------------------

ACL_TEXT = """\
# anonymous rules come first
topic read public/#
user alice
topic readwrite alice/#
topic write sensors/+/temp
user bob
topic read sensors/#
anonymous
topic write public/anon
pattern readwrite clients/%c/#
pattern read users/%u/inbox/#
"""


def test_acl_sections_and_patterns() -> None:
    acl = Acl.parse(ACL_TEXT)
    anon = acl.rules_for(None, "dev1")
    assert anon.may_read("public/news") and anon.may_write("public/anon")
    assert not anon.may_write("public/news") and not anon.may_read("alice/x")
    assert anon.may_write("clients/dev1/state") and anon.may_read("clients/dev1/cmd")
    assert not anon.may_read("clients/dev2/cmd")
    assert not anon.may_read("users/dev1/inbox/1")  # %u needs a user name
    alice = acl.rules_for("alice", "a-1")
    assert alice.may_write("alice/x/y") and alice.may_read("alice")
    assert alice.may_write("sensors/kitchen/temp") and not alice.may_read("sensors/k/temp")
    assert not alice.may_read("public/news")  # anonymous rules are not everyone's
    assert alice.may_read("users/alice/inbox/7") and not alice.may_read("users/bob/inbox/7")
    assert alice.may_write("clients/a-1/x")
    bob = acl.rules_for("bob", "b")
    assert bob.may_read("sensors/a/b") and not bob.may_write("sensors/a/temp")
    stranger = acl.rules_for("nobody", "n")
    assert not stranger.may_read("public/news") and stranger.may_read("users/nobody/inbox")


@pytest.mark.parametrize(("username", "client_id"), [
    ("+", "c"), ("#", "c"), ("a/b", "c"), ("", "c"),
])
def test_pattern_substitution_cannot_widen(username: str, client_id: str) -> None:
    rules = Acl.parse("pattern read users/%u/#\n").rules_for(username, client_id)
    assert rules.rules == ()
    rules = Acl.parse("pattern read c/%c\n").rules_for("u", "x/+")
    assert rules.rules == ()


def test_subscription_must_be_covered() -> None:
    rules = Rules((Rule(READ, "sensors/#"), Rule(WRITE, "cmd/#"), Rule(READ, "a/+/c")))
    assert rules.may_subscribe("sensors/#") and rules.may_subscribe("sensors/+/t")
    assert rules.may_subscribe("sensors") and not rules.may_subscribe("$share/g/sensors/x")
    assert not rules.may_subscribe("#") and not rules.may_subscribe("cmd/x")
    assert rules.may_subscribe("a/b/c") and rules.may_subscribe("a/+/c")
    assert not rules.may_subscribe("a/#") and not rules.may_subscribe("a/b/+")


@pytest.mark.parametrize(("rule", "sub", "expected"), [
    ("#", "#", True), ("#", "a/b", True), ("#", "$SYS/x", False), ("#", "+/x", True),
    ("+/x", "$SYS/x", False), ("$SYS/#", "$SYS/broker", True), ("a/#", "a", True),
    ("a/+", "a", False), ("a", "a/#", False), ("a/+/#", "a/#", False), ("a/b", "a/+", False),
    ("+/+", "a/+", True), ("a/#", "a/#", True), ("a/+", "a/b/c", False),
])
def test_covers(rule: str, sub: str, expected: bool) -> None:
    assert covers(rule, sub) is expected


@pytest.mark.parametrize(("text", "message"), [
    ("topic read\n", "line 1: a Topic Filter is missing"),
    ("topic all x\n", "line 1: access must be read, write or readwrite"),
    ("user\n", "line 1: 'user' needs a user name"),
    ("\nallow x\n", "line 2: expected 'user NAME'"),
    ("topic read a/#/b\n", "line 1: Topic Filter 'a/#/b'"),
    ("pattern read a/%u+\n", "line 1: Topic Filter"),
])
def test_bad_acl_files(text: str, message: str) -> None:
    with pytest.raises(AclError, match=message):
        Acl.parse(text)


# -- configuration ---------------------------------------------------------------------------------

def test_security_from_config(tmp_path: Path) -> None:
    assert Security.from_config(BrokerConfig()).allow_anonymous
    assert Security.from_config(BrokerConfig()).methods == frozenset()
    users = tmp_path / "users"
    PasswordFile().save(users)
    security = Security.from_config(BrokerConfig(password_file=str(users)))
    assert not security.allow_anonymous and security.methods == {"SCRAM-SHA-256"}
    security = Security.from_config(BrokerConfig(password_file=str(users),
                                                 allow_anonymous=True))
    assert security.allow_anonymous
    with pytest.raises(ConfigError, match="cannot read ACL file"):
        Security.from_config(BrokerConfig(acl_file=str(tmp_path / "missing")))
    acl = tmp_path / "acl"
    acl.write_text("user alice\ntopic read x\n")
    assert Security.from_config(BrokerConfig(acl_file=str(acl))).warnings("0.0.0.0") == [
        "anonymous clients are accepted on 0.0.0.0, not only on loopback",
        "the ACL has user sections but without password_file no user name is verified: "
        "every client gets the anonymous rules"]


def test_command_line_refuses_bad_files_in_one_line(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "users"
    bad.write_text("alice\n")
    assert main(["--password-file", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: password file") and err.count("\n") == 1
    assert main(["--acl-file", str(tmp_path / "none"), "--allow-anonymous", "true"]) == 2
    assert "cannot read ACL file" in capsys.readouterr().err
