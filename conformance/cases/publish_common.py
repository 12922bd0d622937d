"""Helpers shared by the publishing and QoS cases (publish, qos, retain, ordering, redelivery).

Strategy: the cases read as the spec's flows, so the plumbing lives here.  `expecting(what)`
turns a broker that stays silent, closes, answers with the wrong packet or with malformed
bytes into FAIL with `what` as the expected behaviour.  Proof that something did NOT arrive
uses either the barrier (`nothing_more`) or a sentinel: a last message on the same topic and
at the same QoS from the same publisher, which the ordering rules (MQTT-4.6.0-5 / -6) put
after everything published before it, so "until the sentinel" is "everything".  Persistent
sessions (redelivery) are opened with Clean Start 0 and, under MQTT 5, a Session Expiry
Interval, and are ended by the case (Clean Start 1, expiry 0) so nothing is left behind.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from conformance.case import CaseContext, SetupFailed, fail, not_applicable
from conformance.client import (
    ClientError,
    TestClient,
)
from conformance.reactions import expecting as expecting  # re-exported for the cases
from mqttspec import (
    Connect,
    Packet,
    Properties,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Will,
)

P = TypeVar("P", bound=Packet)

SESSION_EXPIRY = 300  # seconds an MQTT 5 persistent session of a case may outlive it
SENTINEL = b"sentinel: the last message of this case"


def require_qos(ctx: CaseContext, qos: int) -> None:
    """NOT APPLICABLE when the server's Maximum QoS (MQTT 5 CONNACK; 3.x: the profile) is
    below the QoS the case publishes at."""
    top = ctx.target.capabilities.maximum_qos
    if top < qos:
        not_applicable(f"the case publishes at QoS {qos}; the broker's Maximum QoS is {top}")


def expect_packet(c: TestClient, cls: type[P], what: str, packet_id: int | None = None) -> P:
    """The next packet is a `cls` (carrying `packet_id`, when given)."""
    with expecting(what):
        packet = c.expect(cls)
    if packet_id is not None and getattr(packet, "packet_id", None) != packet_id:
        fail(what, f"{packet!r} (Packet Identifier {getattr(packet, 'packet_id', None)}, "
                   f"not {packet_id})")
    return packet


def receive(c: TestClient, what: str, ack: bool = True, timeout: float | None = None
            ) -> Publish:
    """The next PUBLISH for `c` (acknowledged as its QoS asks, with `ack`)."""
    with expecting(what):
        return c.expect_publish(timeout, ack=ack)


def publish(c: TestClient, topic: str, payload: bytes, qos: int = 0, retain: bool = False,
            properties: Properties | None = None) -> Packet | None:
    """Run a whole publishing flow; a broker that does not complete it is a FAIL."""
    with expecting(f"the QoS {qos} flow of a PUBLISH to {topic!r} completes"):
        kwargs: dict[str, Any] = {} if properties is None else {"properties": properties}
        return c.publish(topic, payload, qos=qos, retain=retain, **kwargs)


def until_sentinel(sub: TestClient, what: str, limit: int = 200) -> list[Publish]:
    """Every PUBLISH before the sentinel (acknowledged); the sentinel itself is dropped."""
    got: list[Publish] = []
    for _ in range(limit):
        p = receive(sub, what)
        if p.payload == SENTINEL:
            return got
        got.append(p)
    fail(what, f"more than {limit} messages before the sentinel")


def send_sentinel(pub: TestClient, topic: str, qos: int) -> None:
    publish(pub, topic, SENTINEL, qos=qos)


def nothing_more(c: TestClient, what: str) -> None:
    """Barrier: no PUBLISH (nor anything else) may have come; `what` says what must not."""
    with expecting(f"no {what}"):
        got = c.no_publish()
    if got:
        fail(f"no {what}", f"received {', '.join(repr(p) for p in got)}")


def window(ctx: CaseContext, wanted: int) -> int:
    """How many QoS 1/2 PUBLISH a client may have unacknowledged (MQTT 5 Receive Maximum)."""
    if ctx.level == 5:
        return max(1, min(wanted, ctx.target.capabilities.receive_maximum))
    return wanted


def pipeline(pub: TestClient, topic: str, tag: str, n: int, qos: int) -> None:
    """Send n PUBLISH packets (payloads b"tag:000" ...) back to back, then complete their
    flows in order: PUBACKs; or PUBRECs, then every PUBREL, then PUBCOMPs."""
    level = pub.level
    ids = [pub.packet_id() if qos else None for _ in range(n)]
    for i, pid in enumerate(ids):
        pub.send(Publish(topic=topic, payload=f"{tag}:{i:03}".encode(), qos=qos, packet_id=pid,
                         protocol_level=level))
    if qos == 1:
        for pid in ids:
            expect_packet(pub, Puback, f"PUBACK {pid}", pid)
    elif qos == 2:
        for pid in ids:
            expect_packet(pub, Pubrec, f"PUBREC {pid}", pid)
        for pid in ids:
            assert pid is not None
            pub.send(Pubrel(packet_id=pid, protocol_level=level))
        for pid in ids:
            expect_packet(pub, Pubcomp, f"PUBCOMP {pid}", pid)


def drain(c: TestClient) -> list[Publish]:
    """Barrier; the PUBLISH packets that came before it, acknowledged."""
    with expecting("the barrier's PINGRESP"):
        got = [p for p in c.no_publish() if isinstance(p, Publish)]
        for p in got:
            c.ack(p)
    return got


def payloads(messages: Iterable[Publish]) -> list[bytes]:
    return [m.payload for m in messages]


# -- persistent sessions --------------------------------------------------------------------

def session_fields(level: int, clean: bool = False) -> dict[str, Any]:
    """CONNECT fields for a session that outlives its network connection (or, `clean`, for
    one that ends with it)."""
    if clean:
        return {"clean_start": True}
    if level == 5:
        return {"clean_start": False,
                "properties": Properties(session_expiry_interval=SESSION_EXPIRY)}
    return {"clean_start": False}


def open_session(ctx: CaseContext, name: str, client_id: str) -> TestClient:
    """A client whose session outlives its network connection (Clean Start 0)."""
    c = ctx.connected(name, client_id=client_id, **session_fields(ctx.level))
    assert c.connack is not None
    if ctx.level == 5 and c.connack.properties.session_expiry_interval == 0:
        not_applicable("the broker set the Session Expiry Interval to 0: no session outlives "
                       "its network connection")
    return c


def resume(ctx: CaseContext, name: str, client_id: str) -> TestClient:
    """Reconnect to the session of `client_id`; it must still be there."""
    try:
        c = ctx.connected(name, client_id=client_id, **session_fields(ctx.level))
    except SetupFailed as exc:
        fail("the broker accepts the reconnection with Clean Start 0", str(exc))
    assert c.connack is not None
    if ctx.level >= 4 and not c.connack.session_present:
        fail("the session kept by Clean Start 0 is resumed (Session Present 1)",
             f"{c.connack!r}")
    return c


def connect_with_will(ctx: CaseContext, qos: int = 0, retain: bool = False) -> Connect:
    """An MQTT 5 CONNECT carrying a Will Message (for the capability cases)."""
    password = ctx.target.password.encode() if ctx.target.password else None
    return Connect(client_id=ctx.client_id("will"), protocol_level=5,
                   will=Will(topic=ctx.topic("will"), payload=b"will", qos=qos, retain=retain),
                   username=ctx.target.username, password=password)


def end_session(ctx: CaseContext, client_id: str) -> None:
    """Leave no session behind (best effort, also after the case's time limit): connect with
    Clean Start 1 (MQTT 5: no Session Expiry, so 0) and disconnect."""
    try:
        with TestClient(ctx.target, ctx.log, "cleanup", ctx.level) as c:
            if c.connect(client_id, clean_start=True).reason_code == 0:
                c.disconnect()
    except (ClientError, OSError):
        pass
