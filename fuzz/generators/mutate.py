"""Mutants of valid traffic: bytes changed blindly, then judged by the decoder.

Strategy: a base of valid packets (valid.Flow, encoded) gets one operator: bit flips, byte
set / insert / delete, a splice of two packets, a Remaining Length that lies, a field
repeated inside a packet (its length fixed), a packet cut short (its length fixed) or
repeated, a changed packet type or flags, packets swapped; or only the framing changes
(`resplit`: the same bytes cut at other send boundaries; `concat`: several packets in one
send), which must not change the outcome.  Nothing here knows what a mutant means: its
expectation is the shared judge's (expect.py) - the strict Decoder's refusal (CLOSE, with the
decoder's statement IDs), else the state check's ALIVE or a conservative ANY.

A mutant must end on a packet boundary: frames that end inside a packet make the broker wait
and swallow the engine's PINGREQ barrier.  An open last packet is padded with zero bytes (if
it lacks at most 512) or the operator is tried again, and in the end the framing-only
`resplit` stands in, which keeps the base's boundaries.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from fuzz.generators import values as v
from fuzz.generators.base import Built
from fuzz.generators.expect import Verdict, judge
from fuzz.generators.valid import Flow, encoded
from mqttspec.raw import raw_vbi

Op = Callable[[random.Random, list[bytes], list[bytes]], list[bytes]]  # (rng, base, other)
INTERESTING = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0x2F, 0x23, 0x2B, 0xC0, 0x30, 0x02)
MAX_PAD = 512


def header(packet: bytes) -> tuple[int, int] | None:
    """(Remaining Length, header size) of a well-framed packet, None if it cannot be read."""
    length, shift = 0, 0
    for i in range(1, min(5, len(packet))):
        length |= (packet[i] & 0x7F) << shift
        if not packet[i] & 0x80:
            return length, i + 1
        shift += 7
    return None


def reframe(first: int, body: bytes) -> bytes:
    return bytes((first,)) + raw_vbi(len(body)) + body


def _body(packet: bytes) -> bytes:
    h = header(packet)
    return packet[h[1]:] if h else packet[1:]


def _one(rng: random.Random, base: list[bytes]) -> int:
    return int(rng.random() * len(base))


def _edit(base: list[bytes], i: int, new: bytes) -> list[bytes]:
    return base[:i] + [new] + base[i + 1:]


def bitflip(rng: random.Random, base: list[bytes], other: list[bytes]) -> list[bytes]:
    i = _one(rng, base)
    data = bytearray(base[i])
    near = rng.random() < 0.4  # the fixed header and first fields, where lengths live
    for _ in range(1 + int(rng.random() * 3)):
        pos = int(rng.random() * (min(len(data), 6) if near else len(data)))
        data[pos] ^= 1 << int(rng.random() * 8)
    return _edit(base, i, bytes(data))


def byte_set(rng: random.Random, base: list[bytes], other: list[bytes]) -> list[bytes]:
    i = _one(rng, base)
    data = bytearray(base[i])
    for _ in range(1 + int(rng.random() * 2)):
        value = v.pick(rng, INTERESTING) if rng.random() < 0.7 else int(rng.random() * 256)
        data[int(rng.random() * len(data))] = value
    return _edit(base, i, bytes(data))


def byte_insert(rng: random.Random, base: list[bytes], other: list[bytes]) -> list[bytes]:
    i = _one(rng, base)
    data = base[i]
    at = int(rng.random() * (len(data) + 1))
    new = bytes(v.pick(rng, INTERESTING) for _ in range(1 + int(rng.random() * 4)))
    return _edit(base, i, data[:at] + new + data[at:])


def byte_delete(rng: random.Random, base: list[bytes], other: list[bytes]) -> list[bytes]:
    i = _one(rng, base)
    data = base[i]
    at = int(rng.random() * len(data))
    return _edit(base, i, data[:at] + data[at + 1 + int(rng.random() * 4):])


def splice(rng: random.Random, base: list[bytes], other: list[bytes]) -> list[bytes]:
    i = _one(rng, base)
    a, b = base[i], v.pick(rng, other)
    return _edit(base, i, a[:1 + int(rng.random() * len(a))] + b[int(rng.random() * len(b)):])


def length_lie(rng: random.Random, base: list[bytes], other: list[bytes]) -> list[bytes]:
    i = _one(rng, base)
    data = base[i]
    h = header(data)
    if h is None:
        return base
    length, size = h
    lie = max(0, length + (1 + int(rng.random() * 4)) * (1 if rng.random() < 0.5 else -1))
    return _edit(base, i, data[:1] + raw_vbi(lie) + data[size:])


def duplicate_field(rng: random.Random, base: list[bytes], other: list[bytes]) -> list[bytes]:
    i = _one(rng, base)
    body = _body(base[i])
    if not body:
        return base
    start = int(rng.random() * len(body))
    end = min(len(body), start + 1 + int(rng.random() * 8))
    return _edit(base, i, reframe(base[i][0], body[:end] + body[start:end] + body[end:]))


def cut(rng: random.Random, base: list[bytes], other: list[bytes]) -> list[bytes]:
    i = _one(rng, base)
    body = _body(base[i])
    return _edit(base, i, reframe(base[i][0], body[:int(rng.random() * len(body))]))


def duplicate_packet(rng: random.Random, base: list[bytes], other: list[bytes]) -> list[bytes]:
    i = _one(rng, base)
    return base[:i + 1] + base[i:]


def retype(rng: random.Random, base: list[bytes], other: list[bytes]) -> list[bytes]:
    i = _one(rng, base)
    first = (int(rng.random() * 16) << 4) | (base[i][0] & 0x0F)
    return _edit(base, i, bytes((first,)) + base[i][1:])


def reflag(rng: random.Random, base: list[bytes], other: list[bytes]) -> list[bytes]:
    i = _one(rng, base)
    first = (base[i][0] & 0xF0) | int(rng.random() * 16)
    return _edit(base, i, bytes((first,)) + base[i][1:])


def reorder(rng: random.Random, base: list[bytes], other: list[bytes]) -> list[bytes]:
    out = list(base)
    rng.shuffle(out)
    return out


def resplit(rng: random.Random, base: list[bytes], other: list[bytes]) -> list[bytes]:
    data = b"".join(base)
    if len(data) <= 48 and rng.random() < 0.3:
        return [data[i:i + 1] for i in range(len(data))]  # one byte a send
    cuts = sorted({int(rng.random() * len(data)) for _ in range(1 + int(rng.random() * 4))})
    edges = [0, *(c for c in cuts if c), len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:], strict=False) if b > a]


def concat(rng: random.Random, base: list[bytes], other: list[bytes]) -> list[bytes]:
    if len(base) < 2 or rng.random() < 0.5:
        return [b"".join(base)]
    at = 1 + int(rng.random() * (len(base) - 1))
    return [b"".join(base[:at]), b"".join(base[at:])]


OPS: dict[str, tuple[str, Op]] = {
    "bitflip": ("flip 1 to 3 bits of a packet", bitflip),
    "byte_set": ("set 1 or 2 bytes to boundary values", byte_set),
    "byte_insert": ("insert 1 to 4 bytes", byte_insert),
    "byte_delete": ("delete 1 to 5 bytes", byte_delete),
    "splice": ("the head of one packet on the tail of another", splice),
    "length_lie": ("a Remaining Length off by 1 to 4", length_lie),
    "duplicate_field": ("repeat a slice of a body (length fixed)", duplicate_field),
    "cut": ("cut a body short (length fixed)", cut),
    "duplicate_packet": ("send a packet twice", duplicate_packet),
    "retype": ("another packet type on the same body", retype),
    "reflag": ("other fixed-header flags", reflag),
    "reorder": ("packets in another order", reorder),
    "resplit": ("the same bytes cut at other send boundaries", resplit),
    "concat": ("several packets in one send", concat),
}


def missing(data: bytes) -> int | None:
    """Bytes the last packet of a stream still lacks (None: it cannot be completed)."""
    pos = 0
    while pos < len(data):
        h = header(data[pos:pos + 5])
        if h is None:
            return None  # the Remaining Length itself is cut
        length, size = h
        if pos + size + length > len(data):
            return pos + size + length - len(data)
        pos += size + length
    return 0


def _settle(level: int, frames: list[bytes]) -> tuple[list[bytes], Verdict] | None:
    frames = [f for f in frames if f]
    if not frames:
        return None
    verdict = judge(level, frames)
    if verdict.complete:
        return frames, verdict
    need = missing(b"".join(frames))
    if not need or need > MAX_PAD:
        return None
    frames[-1] += bytes(need)
    verdict = judge(level, frames)
    return (frames, verdict) if verdict.complete else None


def base_packets(rng: random.Random, level: int, seed: int) -> list[bytes]:
    flow = Flow(rng, level, v.root_of(seed))
    r = rng.random()  # mostly one packet: most operators work on one
    return encoded(flow.packets(1 if r < 0.6 else 2 if r < 0.9 else 3, end=r > 0.97))


def mutant(op: str) -> Callable[[random.Random, int, int], Built]:
    apply = OPS[op][1]

    def build(rng: random.Random, level: int, seed: int) -> Built:
        base = base_packets(rng, level, seed)
        other = base_packets(rng, level, seed) if op == "splice" else base
        for _ in range(3):
            settled = _settle(level, apply(rng, base, other))
            if settled is not None:
                break
        else:
            settled = _settle(level, resplit(rng, base, other))
        assert settled is not None  # the base is whole packets: resplit keeps it whole
        frames, verdict = settled
        return Built(tuple(frames), verdict.expect, verdict.statements)
    return build
