"""Certificates for the TLS tests, made at test time with trustme (nothing secret is stored).

One CA issues the server's certificate (for 127.0.0.1 and localhost) and a client's; a second,
unrelated CA issues a client certificate the broker must not trust.  Each certificate file
holds the private key and the chain, so it serves as certfile with no keyfile.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class Certs:
    ca: Path  # the CA certificate clients and the broker trust
    server: Path  # the broker's key and certificate chain
    client: Path  # a client's key and certificate, issued by `ca`
    stranger: Path  # a client's key and certificate from an untrusted CA


def make_certs(directory: Path) -> Certs:
    ca, other = trustme.CA(), trustme.CA()
    certs = Certs(directory / "ca.pem", directory / "server.pem", directory / "client.pem",
                  directory / "stranger.pem")
    ca.cert_pem.write_to_path(str(certs.ca))
    ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(
        str(certs.server))
    ca.issue_cert("client.example").private_key_and_cert_chain_pem.write_to_path(
        str(certs.client))
    other.issue_cert("client.example").private_key_and_cert_chain_pem.write_to_path(
        str(certs.stranger))
    return certs


def client_context(certs: Certs, certfile: Path | None = None) -> ssl.SSLContext:
    """A client context that verifies the broker against the test CA."""
    context = ssl.create_default_context(cafile=str(certs.ca))
    if certfile is not None:
        context.load_cert_chain(str(certfile))
    return context
