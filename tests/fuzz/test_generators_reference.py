"""The generators' expectations against the reference broker's engine, without sockets: what a
case expects to stay open stays open, what it expects to close closes (ANY is not judged)."""

from __future__ import annotations

from itertools import islice

from fuzz.case import Expect, FuzzCase
from fuzz.generators import CLASS_LEVELS, CLASSES, case_seed, generate, make_case
from mqttspec import Connect, Decoder, ProtocolViolation, encode
from reference_broker.config import BrokerConfig
from reference_broker.connection import Connection
from reference_broker.core import Core

BARRIER = b"\xc0\x00"  # the engine's PINGREQ after the frames


def stays_open(case: FuzzCase) -> bool:
    core = Core(BrokerConfig())
    conn = Connection(core, 0.0)
    decoder = Decoder(peer="client")
    sends = list(case.frames) + [BARRIER]
    if case.connect:  # as the engine opens it: plain CONNECT, no Authentication Method
        sends.insert(0, encode(Connect(client_id="fz1", keep_alive=60,
                                       protocol_level=case.level)))
    for data in sends:
        if conn.closed:
            break
        decoder.feed(data)
        try:
            for packet in decoder:
                conn.receive(packet, 1.0)
                if conn.closed:
                    break
        except ProtocolViolation as exc:
            conn.violation(exc, 1.0)
    return not conn.closed


def _agrees(case: FuzzCase) -> bool:
    if case.expect is Expect.ANY:
        return True
    return stays_open(case) is (case.expect is Expect.ALIVE)


def test_a_run_of_cases() -> None:
    wrong = [c for c in islice(generate(99), 1500) if not _agrees(c)]
    assert not wrong, [c.to_json() for c in wrong[:3]]


def test_every_class() -> None:
    wrong = [case for name in CLASSES for level in CLASS_LEVELS[name] for i in range(4)
             if not _agrees(case := make_case(case_seed(5, i), level, name))]
    assert not wrong, [c.to_json() for c in wrong[:3]]
