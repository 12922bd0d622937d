"""The decoder's promise: whatever the bytes, it returns packets or raises ProtocolViolation,
and feeding them in one chunk, byte by byte or in random pieces gives the same outcome.

Inputs are random bytes and mutated streams of valid packets of every type (bit flips,
byte changes, truncation, insertion, deletion, a changed packet type), under every decoder
configuration.  10,000 examples.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqttspec import Decoder, ProtocolViolation, encode
from tests.mqttspec import strategies as S

Outcome = tuple[list[object], str | None]


def run(chunks: list[bytes], level: int | None, peer: str | None, limit: int | None) -> Outcome:
    decoder = Decoder(level, peer, limit)
    packets: list[object] = []
    try:
        for chunk in chunks:
            decoder.feed(chunk)
            packets.extend(decoder)
    except ProtocolViolation as exc:
        assert isinstance(exc.statements, tuple)
        assert 0x80 <= exc.reason_code <= 0xA2, exc
        # A failed decoder keeps failing, with the same error.
        try:
            decoder.next_packet()
        except ProtocolViolation as again:
            assert again is exc
        else:
            raise AssertionError("decoder recovered after a violation") from None
        return packets, repr(exc)
    return packets, None


SEEDS = {level: [encode(p) for p in S.sample_packets(level)] for level in (3, 4, 5)}


@st.composite
def mutated_stream(draw: st.DrawFn) -> bytes:
    level = draw(st.sampled_from((3, 4, 5)))
    seeds = draw(st.lists(st.sampled_from(SEEDS[level]), min_size=1, max_size=3))
    if draw(st.booleans()):
        seeds.insert(0, SEEDS[level][0])  # open with the CONNECT, so level None can go on
    data = bytearray(b"".join(seeds))
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(("flip", "set", "cut", "insert", "delete", "retype")))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set" and data:
            data[pos] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[pos:]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=4))
        elif kind == "delete" and data:
            del data[pos]
        elif kind == "retype" and data:  # another packet type over the same body
            data[0] = (draw(st.integers(0, 15)) << 4) | (data[0] & 0x0F)
    return bytes(data)


inputs = st.one_of(st.binary(max_size=96), mutated_stream())


EXAMPLES = 10_000
calls = 0


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=inputs, level=st.sampled_from((None, 3, 4, 5)),
       peer=st.sampled_from((None, "client", "server")),
       limit=st.sampled_from((None, 64, 1024)), cuts=st.lists(st.integers(0, 200), max_size=4))
def check_any_bytes(
    data: bytes, level: int | None, peer: str | None, limit: int | None, cuts: list[int]
) -> None:
    global calls
    calls += 1
    whole = run([data], level, peer, limit)
    drip = run([data[i : i + 1] for i in range(len(data))], level, peer, limit)
    edges = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    pieces = run([data[a:b] for a, b in zip(edges, edges[1:], strict=False)], level, peer, limit)
    assert whole == drip == pieces


def test_any_bytes_decode_or_raise_protocol_violation() -> None:
    """Runs the property above and proves it ran at least 10,000 examples."""
    global calls
    calls = 0
    check_any_bytes()
    assert calls >= EXAMPLES, calls
