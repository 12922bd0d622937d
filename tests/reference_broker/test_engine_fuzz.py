"""The engine's promise, fuzzed without sockets: several clients on one core send valid and
mutated packet streams in any order, with time passing; the engine never raises, and every
byte it writes is a well-formed packet of the client's protocol version."""

from __future__ import annotations

from typing import cast

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqttspec import Connect, Decoder, Packet, Properties, ProtocolViolation, encode
from mqttspec import packets as pk
from mqttspec.catalogue import load_catalogue
from mqttspec.types import SENT_BY_CLIENT
from mqttspec.types import PacketType as T
from reference_broker.config import BrokerConfig
from reference_broker.connection import Connection
from reference_broker.core import Core
from tests.mqttspec import strategies as S

CATALOGUE = load_catalogue()
TOPICS = st.sampled_from(["a", "a/b", "$SYS/x", "w", "s/1"])
FILTERS = st.sampled_from(["#", "a/+", "a/b", "+/1", "$SYS/#", "$share/g/a/#", "$share/h/#"])
IDS = st.integers(1, 4)


@st.composite
def focused(draw: st.DrawFn, level: int) -> Packet:
    """Packets on a small shared vocabulary of topics and ids, so flows meet each other."""
    v5 = level == 5
    kind = draw(st.sampled_from(["pub", "pub", "pub", "sub", "unsub", "ack", "ping"]))
    if kind == "pub":
        qos = draw(st.integers(0, 2))
        props = Properties()
        if v5:
            props = Properties(
                topic_alias=draw(st.none() | st.integers(1, 3)),
                message_expiry_interval=draw(st.none() | st.integers(0, 3)),
                user_properties=tuple(draw(st.lists(st.sampled_from([("k", "1"), ("j", "2")]),
                                                    max_size=2))))
        return pk.Publish(topic=draw(TOPICS), payload=draw(st.binary(max_size=40)), qos=qos,
                          retain=draw(st.booleans()), packet_id=draw(IDS) if qos else None,
                          dup=bool(qos) and draw(st.booleans()), properties=props,
                          protocol_level=level)
    if kind == "sub":
        subs = tuple(pk.Subscription(
            topic_filter=f if v5 or not f.startswith("$share") else "x/#",
            qos=draw(st.integers(0, 2)),
            no_local=v5 and not f.startswith("$share") and draw(st.booleans()),
            retain_as_published=v5 and draw(st.booleans()),
            retain_handling=draw(st.integers(0, 2)) if v5 else 0)
            for f in draw(st.lists(FILTERS, min_size=1, max_size=3)))
        ids = (draw(st.integers(1, 3)),) if v5 and draw(st.booleans()) else ()
        return pk.Subscribe(packet_id=draw(IDS), subscriptions=subs,
                            properties=Properties(subscription_identifiers=ids),
                            protocol_level=level)
    if kind == "unsub":
        return pk.Unsubscribe(packet_id=draw(IDS), topic_filters=(draw(FILTERS),),
                              protocol_level=level) if v5 else pk.Unsubscribe(
            packet_id=draw(IDS), topic_filters=("a/+",), protocol_level=level)
    if kind == "ack":
        cls = draw(st.sampled_from([pk.Puback, pk.Pubrec, pk.Pubrel, pk.Pubcomp]))
        return cast(Packet, cls(packet_id=draw(IDS), protocol_level=level))
    return pk.Pingreq(protocol_level=level)


@st.composite
def client_stream(draw: st.DrawFn) -> bytes:
    level = draw(st.sampled_from((3, 4, 5)))
    connect = draw(S.connect(level))
    if draw(st.integers(0, 3)):  # mostly a CONNECT the broker accepts
        props = Properties()
        if level == 5:
            props = Properties(session_expiry_interval=draw(st.sampled_from([0, 10])),
                                 receive_maximum=draw(st.none() | st.integers(1, 3)),
                                 topic_alias_maximum=draw(st.none() | st.integers(1, 2)),
                                 maximum_packet_size=draw(st.none() | st.integers(20, 80)))
        will = None
        if draw(st.booleans()):
            will = pk.Will(topic=draw(TOPICS), payload=b"w", qos=draw(st.integers(0, 2)),
                           retain=draw(st.booleans()))
        connect = Connect(client_id=draw(st.sampled_from(["c1", "c2", "c3", ""])),
                          clean_start=draw(st.booleans()), keep_alive=draw(st.integers(0, 3)),
                          will=will, protocol_level=level, properties=props)
    types = [t for t in S.types_of(level) if t in SENT_BY_CLIENT]
    enders = (T.CONNECT, T.DISCONNECT, T.AUTH)  # these end most connections: rarely, last
    anything = st.one_of(*(S.packet(t, level) for t in types if t not in enders))
    packets: list[Packet] = [connect]
    packets += draw(st.lists(st.one_of(focused(level), focused(level), focused(level),
                                       anything), min_size=2, max_size=12))
    if draw(st.integers(0, 3)) == 0:
        packets.append(draw(st.one_of(*(S.packet(t, level) for t in types if t in enders))))
    data = bytearray(b"".join(encode(p) for p in packets))
    for _ in range(draw(st.integers(0, 2)) if draw(st.integers(0, 3)) == 0 else 0):
        if data:
            pos = draw(st.integers(0, len(data) - 1))
            data[pos] ^= 1 << draw(st.integers(0, 7))
    return bytes(data)


class Sim:
    def __init__(self, core: Core, data: bytes) -> None:
        self.conn = Connection(core, 0.0)
        self.data = data
        self.inbound = Decoder(peer="client", max_packet_size=core.config.maximum_packet_size)
        self.outbound: Decoder | None = None

    def step(self, size: int, now: float) -> None:
        chunk, self.data = self.data[:size], self.data[size:]
        if self.conn.closed or not chunk:
            return
        self.inbound.feed(chunk)
        try:
            for packet in self.inbound:
                self.conn.receive(packet, now)
                if self.conn.closed:
                    break
        except ProtocolViolation as exc:
            self.conn.violation(exc, now)

    def check_output(self) -> None:
        out = self.conn.take_output()
        if not out:
            return
        if self.outbound is None:
            level = self.conn.level if self.conn.level in (3, 4, 5) else 4
            self.outbound = Decoder(protocol_level=level, peer="server")
        for data in out:
            self.outbound.feed(data)
        list(self.outbound)  # raises if the broker wrote anything ill-formed


@settings(max_examples=200, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(streams=st.lists(client_stream(), min_size=1, max_size=3),
       steps=st.lists(st.tuples(st.integers(0, 2), st.integers(1, 64), st.booleans()),
                      max_size=40),
       small=st.booleans())
def test_engine_survives_any_client_streams(streams: list[bytes],
                                            steps: list[tuple[int, int, bool]],
                                            small: bool) -> None:
    config = BrokerConfig(receive_maximum=2, maximum_packet_size=512, topic_alias_maximum=2,
                          max_inflight=2, max_queued=5) if small else BrokerConfig()
    core = Core(config)
    sims = [Sim(core, data) for data in streams]
    now = 0.0
    for index, size, tick in steps + [(i, 1 << 20, True) for i in range(len(sims))]:
        sim = sims[index % len(sims)]
        now += 0.2
        sim.step(size, now)
        if tick:
            core.tick(now)
            for other in sims:
                other.conn.check_keep_alive(now)
        for other in sims:
            other.check_output()
    for sim in sims:
        sim.conn.connection_lost(now + 1)
        sim.check_output()
    core.tick(now + 10_000)
    assert core.open_connections == 0
    for version, counts in core.trace.snapshot().items():  # counted under the right version
        assert set(counts) <= CATALOGUE.for_version(version).ids, version
