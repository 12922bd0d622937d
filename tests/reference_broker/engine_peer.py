"""A simulated client for unit tests of the engine: no sockets, no waiting.

Packets go through the strict encoder and a server-side `Decoder` (as in server.py) into a
`Connection`; what the engine sends comes back through a client-side `Decoder`, so every byte
the broker writes is also checked against the wire package.  Time is an explicit number.
"""

from __future__ import annotations

from typing import TypeVar

from mqttspec import (
    Connect,
    Decoder,
    Packet,
    Properties,
    ProtocolViolation,
    Publish,
    Subscribe,
    Subscription,
    Will,
    encode,
)
from reference_broker.config import BrokerConfig
from reference_broker.connection import Connection
from reference_broker.core import Core


def declared_level(data: bytes) -> int | None:
    """The Protocol Level the stream's first packet declares, read as the broker reads it:
    from the CONNECT, or from the decoder's refusal of it (None if it never got that far)."""
    decoder = Decoder(peer="client")
    decoder.feed(data)
    try:
        packet = decoder.next_packet()
    except ProtocolViolation as exc:
        return exc.protocol_level
    return packet.protocol_level if isinstance(packet, Connect) else None


def make_core(**options: object) -> Core:
    return Core(BrokerConfig(**options))  # type: ignore[arg-type]


class Peer:
    def __init__(self, core: Core, level: int = 5, now: float = 0.0) -> None:
        self.core = core
        self.level = level
        self.conn = Connection(core, now)
        self.inbound = Decoder(peer="client", max_packet_size=core.config.maximum_packet_size)
        self.outbound = Decoder(protocol_level=level, peer="server")

    @property
    def closed(self) -> bool:
        return self.conn.closed

    def send_bytes(self, data: bytes, now: float = 0.0) -> list[Packet]:
        self.inbound.feed(data)
        try:
            for packet in self.inbound:
                self.conn.receive(packet, now)
                if self.conn.closed:
                    break
        except ProtocolViolation as exc:
            self.conn.violation(exc, now)
        return self.received()

    def send(self, packet: Packet, now: float = 0.0) -> list[Packet]:
        return self.send_bytes(encode(packet), now)

    def received(self) -> list[Packet]:
        for data in self.conn.take_output():
            self.outbound.feed(data)
        return list(self.outbound)

    # -- shortcuts -------------------------------------------------------------------------

    def connect(self, client_id: str = "c1", clean: bool = True, keep_alive: int = 0,
                will: Will | None = None, properties: Properties | None = None,
                now: float = 0.0) -> list[Packet]:
        return self.send(Connect(client_id=client_id, clean_start=clean, keep_alive=keep_alive,
                                 will=will, properties=properties or Properties(),
                                 protocol_level=self.level), now)

    def subscribe(self, *filters: str, qos: int = 2, packet_id: int = 1,
                  properties: Properties | None = None, now: float = 0.0,
                  **options: object) -> list[Packet]:
        subs = tuple(Subscription(topic_filter=f, qos=qos, **options)  # type: ignore[arg-type]
                     for f in filters)
        return self.send(Subscribe(packet_id=packet_id, subscriptions=subs,
                                   properties=properties or Properties(),
                                   protocol_level=self.level), now)

    def publish(self, topic: str, payload: bytes = b"x", qos: int = 0, retain: bool = False,
                packet_id: int | None = None, properties: Properties | None = None,
                dup: bool = False, now: float = 0.0) -> list[Packet]:
        if qos and packet_id is None:
            packet_id = 1
        return self.send(Publish(topic=topic, payload=payload, qos=qos, retain=retain,
                                 packet_id=packet_id, dup=dup,
                                 properties=properties or Properties(),
                                 protocol_level=self.level), now)


P = TypeVar("P")


def of_type(packets: list[Packet], cls: type[P]) -> list[P]:
    return [p for p in packets if isinstance(p, cls)]


def only(packets: list[Packet], cls: type[P]) -> P:
    """The single packet received, which must be a `cls`."""
    assert len(packets) == 1 and isinstance(packets[0], cls), packets
    return packets[0]
