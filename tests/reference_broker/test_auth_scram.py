"""SCRAM-SHA-256: RFC 7677's published exchange, and the ways an exchange fails."""

from __future__ import annotations

import base64

import pytest

from reference_broker.scram import (
    ScramClient,
    ScramCredentials,
    ScramError,
    ScramServer,
    decode_name,
    derive,
    encode_name,
)

# RFC 7677 section 3: user "user", password "pencil", 4096 iterations
SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
CLIENT_NONCE = "rOprNGfwEbeRWgbNEkqO"
SERVER_NONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
CLIENT_FIRST = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
SERVER_FIRST = (b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                b"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
CLIENT_FINAL = (b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
SERVER_FINAL = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

CREDENTIALS = derive("pencil", SALT, 4096)


def lookup(user: str) -> ScramCredentials | None:
    return CREDENTIALS if user == "user" else None


def server() -> ScramServer:
    return ScramServer(lookup, nonce=SERVER_NONCE)


def test_rfc7677_client_messages() -> None:
    client = ScramClient("user", "pencil", nonce=CLIENT_NONCE)
    assert client.first() == CLIENT_FIRST
    assert client.final(SERVER_FIRST) == CLIENT_FINAL
    client.verify(SERVER_FINAL)
    with pytest.raises(ScramError, match="does not verify"):
        client.verify(b"v=" + base64.b64encode(b"\0" * 32))
    with pytest.raises(ScramError, match="invalid-proof"):
        client.verify(b"e=invalid-proof")


def test_rfc7677_server_messages() -> None:
    s = server()
    assert s.first(CLIENT_FIRST) == SERVER_FIRST
    assert s.final(CLIENT_FINAL) == SERVER_FINAL
    assert s.username == "user"


def test_full_exchange_with_random_nonces() -> None:
    client = ScramClient("user", "pencil")
    s = ScramServer(lookup)
    client.verify(s.final(client.final(s.first(client.first()))))


def test_wrong_password_fails_at_the_proof() -> None:
    client = ScramClient("user", "pencil!", nonce=CLIENT_NONCE)
    s = server()
    final = client.final(s.first(client.first()))
    with pytest.raises(ScramError, match="invalid-proof"):
        s.final(final)


def test_unknown_user_looks_like_a_wrong_password() -> None:
    s1, s2 = server(), server()
    first = s1.first(b"n,,n=nobody,r=abc")
    assert first == s2.first(b"n,,n=nobody,r=abc")  # the made-up salt is stable
    assert b",i=100000" in first
    client = ScramClient("nobody", "pencil", nonce="abc")
    with pytest.raises(ScramError, match="invalid-proof"):
        s1.final(client.final(first))


def test_a_proof_is_good_once() -> None:
    s = server()
    s.first(CLIENT_FIRST)
    s.final(CLIENT_FINAL)
    with pytest.raises(ScramError, match="out of order|nonce"):
        s.final(CLIENT_FINAL)
    with pytest.raises(ScramError, match="twice"):
        s.first(CLIENT_FIRST)


@pytest.mark.parametrize(("message", "error"), [
    (b"p=tls-unique,,n=user,r=x", "channel-binding-not-supported"),
    (b"n,,n=user", "malformed attributes|expected attributes"),
    (b"x,,n=user,r=abc", "gs2 header"),
    (b"n,a=other,n=user,r=abc", "invalid-authzid"),
    (b"n,,m=ext,n=user,r=abc", "extensions-not-supported"),
    (b"n,,n=us=er,r=abc", "invalid-username-encoding"),
    (b"n,,n=user,r=a,b", "malformed attributes"),
    (b"n,,n=user,r=\x7f", "nonce"),
    (b"\xff", "UTF-8"),
    (b"", "gs2 header"),
])
def test_bad_client_first(message: bytes, error: str) -> None:
    with pytest.raises(ScramError, match=error):
        server().first(message)


@pytest.mark.parametrize(("message", "error"), [
    (CLIENT_FINAL.replace(b"c=biws", b"c=eSws"), "channel-bindings-dont-match"),
    (CLIENT_FINAL.replace(b"hNlF$k0", b"hNlF$k1"), "nonce does not match"),
    (CLIENT_FINAL.replace(b"p=dHzb", b"p=!Hzb"), "not base64"),
    (CLIENT_FINAL[:-8], "not base64|invalid-proof"),
    (b"c=biws,p=abc", "malformed attributes"),
    (b"c=biws,x=1,p=abc", "expected attributes"),
])
def test_bad_client_final(message: bytes, error: str) -> None:
    s = server()
    s.first(CLIENT_FIRST)
    with pytest.raises(ScramError, match=error):
        s.final(message)


def test_authzid_equal_to_user_is_accepted() -> None:
    client = ScramClient("user", "pencil", nonce=CLIENT_NONCE)
    s = server()
    first = b"n,a=user," + client.first()[3:]
    s.first(first)
    with pytest.raises(ScramError, match="channel-bindings-dont-match"):
        s.final(client.final(SERVER_FIRST))  # the client bound "n,," not "n,a=user,"


def test_client_refuses_a_bad_server_first() -> None:
    client = ScramClient("user", "pencil", nonce=CLIENT_NONCE)
    with pytest.raises(ScramError, match="extend"):
        client.final(b"r=other,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
    with pytest.raises(ScramError, match="iteration"):
        client.final(b"r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=x")


def test_names_are_escaped() -> None:
    assert encode_name("a,b=c") == "a=2Cb=3Dc"
    assert decode_name("a=2Cb=3Dc") == "a,b=c"
    client = ScramClient("a,b", "pw")
    assert client.first().startswith(b"n,,n=a=2Cb,r=")
