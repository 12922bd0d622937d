"""Integration: the TLS listener (standard `ssl`) and WebSocket over TLS, with certificates
made at test time (trustme); paho-mqtt for pub/sub, raw TLS sockets for refusals."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from mqttspec import Connack, Connect, Pingreq, Pingresp, encode
from reference_broker import BrokerConfig, ConfigError, ThreadedBroker
from reference_broker.__main__ import main
from reference_broker.listeners import ListenerError
from tests.reference_broker.broker_process import broker_process

from .paho_client import V5, V311, PahoClient
from .raw_client import RawClient
from .tls_certs import Certs, client_context, make_certs
from .ws_client import WsClient


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


def tls_config(certs: Certs, **options: object) -> BrokerConfig:
    return BrokerConfig(tls_port=0, tls_certfile=str(certs.server), **options)  # type: ignore[arg-type]


@pytest.fixture
def broker(certs: Certs) -> Iterator[ThreadedBroker]:
    with ThreadedBroker(tls_config(certs, wss_port=0)) as running:
        yield running


class TlsRawClient(RawClient):
    """RawClient over TLS, verifying the broker with the test CA."""

    def __init__(self, port: int, context: ssl.SSLContext, timeout: float = 5.0) -> None:
        super().__init__(port, timeout=timeout)
        self.sock = context.wrap_socket(self.sock, server_hostname="127.0.0.1")


def paho(port: int, certs: Certs, protocol: object, client_id: str,
         certfile: Path | None = None, websocket: bool = False) -> PahoClient:
    client = PahoClient(port, client_id, protocol)
    if websocket:
        client.client.transport = "websockets"
    client.client.tls_set(ca_certs=str(certs.ca),
                          certfile=str(certfile) if certfile is not None else None)
    return client


def pubsub(pub: PahoClient, sub: PahoClient, topic: str) -> None:
    sub.subscribe(f"{topic}/#", qos=2)
    for qos in (0, 1, 2):
        pub.publish(f"{topic}/q{qos}", f"m{qos}".encode(), qos=qos)
        message = sub.next_message()
        assert (message.topic, message.payload, message.qos) == (
            f"{topic}/q{qos}", f"m{qos}".encode(), qos)


def test_ports_reported(broker: ThreadedBroker) -> None:
    ports = broker.ports
    assert set(ports) == {"tcp", "tls", "wss"} and ports["tcp"] == broker.port
    assert len(set(ports.values())) == 3


@pytest.mark.parametrize("protocol", [V311, V5])
def test_paho_pubsub_over_tls(broker: ThreadedBroker, certs: Certs, protocol: object) -> None:
    sub = paho(broker.ports["tls"], certs, protocol, "tls-sub")
    pub = paho(broker.ports["tls"], certs, protocol, "tls-pub")
    try:
        sub.connect()
        pub.connect()
        pubsub(pub, sub, "tls")
        sub.disconnect()
        pub.disconnect()
    finally:
        sub.close()
        pub.close()


@pytest.mark.parametrize("protocol", [V311, V5])
def test_paho_pubsub_over_websocket_over_tls(broker: ThreadedBroker, certs: Certs,
                                              protocol: object) -> None:
    sub = paho(broker.ports["wss"], certs, protocol, "wss-sub", websocket=True)
    pub = PahoClient(broker.port, "tcp-pub", protocol)  # one core behind every listener
    try:
        sub.connect()
        pub.connect()
        pubsub(pub, sub, "wss")
        sub.disconnect()
        pub.disconnect()
    finally:
        sub.close()
        pub.close()


def test_raw_tls_and_plain_bytes_on_the_tls_port(broker: ThreadedBroker, certs: Certs) -> None:
    with TlsRawClient(broker.ports["tls"], client_context(certs)) as client:
        client.send(Connect(client_id="raw-tls", protocol_level=5))
        assert isinstance(client.recv(), Connack)
        client.send(Pingreq(protocol_level=5))
        assert isinstance(client.recv(), Pingresp)
    with RawClient(broker.ports["tls"]) as plain:  # MQTT without TLS: no CONNACK, closed
        plain.send(Connect(client_id="plain", protocol_level=5))
        reply = plain.read_bytes_to_eof()  # nothing, or a TLS alert record (0x15)
        assert reply[:1] in (b"", b"\x15")
    with WsClient(broker.ports["wss"], context=client_context(certs)) as client:
        client.open()


def test_tls_handshake_bounded_by_the_connect_timeout(certs: Certs) -> None:
    with ThreadedBroker(tls_config(certs, connect_timeout=0.3)) as broker, \
            RawClient(broker.ports["tls"]) as silent:
        assert silent.read_bytes_to_eof() == b""  # no ClientHello: dropped


def refused(port: int, context: ssl.SSLContext) -> bool:
    """True when a TLS client with this context gets no CONNACK (TLS 1.3 reports a missing
    or rejected client certificate only after the client's handshake is done)."""
    try:
        with TlsRawClient(port, context) as client:
            client.send(encode(Connect(client_id="nocert", protocol_level=5)))
            return client.read_bytes_to_eof() == b""
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return True


def test_client_certificate_required(certs: Certs) -> None:
    config = tls_config(certs, tls_cafile=str(certs.ca), tls_require_client_cert=True)
    with ThreadedBroker(config) as broker:
        port = broker.ports["tls"]
        good = paho(port, certs, V5, "with-cert", certfile=certs.client)
        try:
            good.connect()
            good.subscribe("cert/#", qos=1)
            good.publish("cert/a", b"ok", qos=1)
            assert good.next_message().payload == b"ok"
            good.disconnect()
        finally:
            good.close()
        assert refused(port, client_context(certs))  # no certificate
        assert refused(port, client_context(certs, certs.stranger))  # untrusted issuer
        with TlsRawClient(port, client_context(certs, certs.client)) as client:
            client.send(Connect(client_id="raw-cert", protocol_level=5))
            assert isinstance(client.recv(), Connack)


def test_options_that_need_each_other() -> None:
    with pytest.raises(ConfigError, match="tls_certfile: required"):
        BrokerConfig(tls_port=0)
    with pytest.raises(ConfigError, match="tls_certfile: required"):
        BrokerConfig(wss_port=0)
    with pytest.raises(ConfigError, match="tls_cafile: required"):
        BrokerConfig(tls_port=0, tls_certfile="x.pem", tls_require_client_cert=True)


def test_unusable_certificate_is_one_line(tmp_path: Path, certs: Certs,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.pem"
    with pytest.raises(ListenerError, match="cannot load the TLS certificate"):
        ThreadedBroker(BrokerConfig(tls_port=0, tls_certfile=str(missing))).start()
    assert main(["--tls-port", "0", "--tls-certfile", str(certs.ca)]) == 1  # no key in it
    err = capsys.readouterr().err
    assert err.startswith("error: cannot load the TLS certificate") and err.count("\n") == 1


def test_port_in_use_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--websocket-port", str(port)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot listen (ws) on 127.0.0.1:{port}: ")
    assert err.count("\n") == 1


def test_module_prints_every_listener(certs: Certs) -> None:
    with broker_process("--tls-port", "0", "--websocket-port", "0", "--wss-port", "0",
                        "--tls-certfile", str(certs.server)) as (proc, lines):
        text = "".join(lines)
        for name in ("tls", "ws", "wss"):
            assert f"\n{name} listener on 127.0.0.1:" in text
        assert "  tls_port = 0\n" in text and "  tls_require_client_cert = false\n" in text
        proc.terminate()
        _, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
