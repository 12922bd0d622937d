"""The malformed-input table (conformance/malformed/): its size and coverage, its statement
IDs against the catalogue, its bytes against mqttspec's decoder, and its verdicts against the
reference broker (all PASS) and against a broker that never closes (FAIL)."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import conformance.cases.malformed as malformed_cases
from conformance.case import REGISTRY, Case, Outcome
from conformance.discover import discover
from conformance.malformed import ROWS, Expect, Malformation, Names, NotApplicable, Row, State
from conformance.malformed.shapes import plain_connect
from conformance.runner import run_plan
from conformance.target import VERSION_OF_LEVEL, Target
from mqttspec import Decoder, ProtocolViolation
from mqttspec.catalogue import load_catalogue
from reference_broker import ThreadedBroker
from tests.conformance import fake_brokers

VERSION = VERSION_OF_LEVEL
NAMES = Names("tmalformedxcheck", "mqttlab/xcheck", alias_max=10)
PACKET_TYPES = {
    4: ("CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP", "SUBSCRIBE",
        "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT",
        "RESERVED-0", "RESERVED-15"),
    3: ("CONNECT",),  # MQTT 3.1 decides only CONNECT refusals (rows.MQTT_3_1_CLASSES)
}
PACKET_TYPES[5] = (*PACKET_TYPES[4][:-1], "AUTH")
# Rows the decoder cannot judge (`decoder_blind`) that it refuses all the same, and why.
DECODER_STRICTER = {
    "malformed.auth.success-short-form-without-authentication-method-in-connect":
        "Table 3-13 marks Reason Code 0x00 (the Remaining Length 0 form) as sent by the server",
}


def cases() -> list[tuple[Row, int]]:
    return [(row, level) for row in ROWS for level in row.levels]


def test_at_least_1500_cases_across_the_three_versions() -> None:
    work = cases()
    by_version = Counter(VERSION[level] for _, level in work)
    by_class = Counter(row.malformation.value for row, _ in work)
    print(f"\n{len(ROWS)} rows, {len(work)} cases: "
          + ", ".join(f"MQTT {v} {n}" for v, n in sorted(by_version.items())))
    for name, n in by_class.most_common():
        print(f"  {name:32} {n}")
    assert len(work) >= 1500
    assert by_version["3.1.1"] >= 300 and by_version["5.0"] >= 1000 and by_version["3.1"] > 0


def test_ids_are_unique_and_every_row_is_a_registered_case() -> None:
    ids = [row.id for row in ROWS]
    assert len(ids) == len(set(ids))
    for row in ROWS:
        assert row.id.startswith("malformed.") and row.title
        registered = REGISTRY[row.id]
        assert registered.module == malformed_cases.__name__
        assert registered.levels == row.levels, row.id
        assert registered.statements == {"3.1.1": row.v3, "5.0": row.v5}


def test_every_statement_is_in_the_catalogue_for_its_version() -> None:
    catalogue = load_catalogue()
    known = {(s.version, s.id) for s in catalogue}
    for row in ROWS:
        for level in row.levels:
            ids = row.statements_for(level)
            assert ids, f"{row.id} names no statement for MQTT {VERSION[level]}"
            version = "5.0" if level == 5 else "3.1.1"
            missing = [s for s in ids if (version, s) not in known]
            assert not missing, f"{row.id}: {missing} not in the {version} catalogue"


def test_every_packet_type_is_covered_in_every_version() -> None:
    covered = {(row.packet, level) for row, level in cases()}
    for level, packets in PACKET_TYPES.items():
        missing = [p for p in packets if (p, level) not in covered]
        assert not missing, f"MQTT {VERSION[level]}: no row for {missing}"


def test_every_malformation_class_appears() -> None:
    assert {row.malformation for row in ROWS} == set(Malformation)


STRICT_ENCODER = re.compile(r"mqttspec\.encoder|from mqttspec import[^)]*\bencode\b|"
                            r"mqttspec\.encode\b")


def test_rows_are_never_built_with_the_strict_encoder() -> None:
    package = Path(__file__).resolve().parents[2] / "conformance" / "malformed"
    for path in package.glob("*.py"):
        assert not STRICT_ENCODER.search(path.read_text(encoding="utf-8")), path.name


def decode(row: Row, level: int) -> tuple[bytes, list[object]]:
    """Feed the row's bytes (after a valid CONNECT where its state needs one) to a server's
    decoder; the packets decoded from the row's bytes (ProtocolViolation propagates)."""
    data = row.build(level, NAMES)
    decoder = Decoder(peer="client")
    if row.state is not State.FIRST:
        decoder.feed(plain_connect(level, NAMES).build())
        assert decoder.next_packet() is not None, "the valid CONNECT is refused"
    decoder.feed(data)
    return data, list(decoder)


def test_the_codec_refuses_every_row_it_can_judge() -> None:
    """Each row's bytes make mqttspec's Decoder raise ProtocolViolation, except rows about the
    connection's state, which it cannot see (each says why, and the codec accepts them)."""
    disagree: list[str] = []
    statement_differs: dict[str, list[str]] = defaultdict(list)
    for row, level in cases():
        try:
            data, packets = decode(row, level)
        except NotApplicable:
            continue
        except ProtocolViolation as exc:
            if row.decoder_blind and row.id not in DECODER_STRICTER:
                disagree.append(f"{row.id} [{VERSION[level]}]: refused although blind: {exc}")
            elif not set(exc.statements) & set(row.statements_for(level)):
                statement_differs[row.malformation.value].append(
                    f"{row.id} [{VERSION[level]}]: codec {exc.statements or exc.section}")
            continue
        if not row.decoder_blind:
            disagree.append(f"{row.id} [{VERSION[level]}]: accepted {data.hex(' ')} as "
                            f"{packets or 'an incomplete packet'}")
    if statement_differs:  # informative: the codec names another (also broken) rule
        print("\nrows where the codec names other statements than the row:")
        for name, items in sorted(statement_differs.items()):
            print(f"  {name}: {len(items)}, e.g. {items[0]}")
    assert not disagree, "\n".join(disagree)


@pytest.fixture(scope="module")
def reference_target() -> Iterator[Target]:
    broker = ThreadedBroker().start()
    try:
        yield discover(Target(port=broker.port)).target
    finally:
        broker.stop()


def registered(rows: list[tuple[Row, int]]) -> list[tuple[Case, int]]:
    return [(REGISTRY[row.id], level) for row, level in rows]


def test_the_reference_broker_passes_every_row(reference_target: Target) -> None:
    started = time.monotonic()
    results = run_plan(reference_target, registered(cases()), jobs=16)
    outcomes = Counter(r.outcome for r in results)
    print(f"\n{len(results)} cases against the reference broker in "
          f"{time.monotonic() - started:.1f} s: {dict(outcomes)}")
    seen = Counter(r.observed.split(", then")[0].split(" after ")[0] for r in results)
    for what, n in seen.most_common(8):
        print(f"  {n:5} {what}")
    bad = [r for r in results if r.outcome is not Outcome.PASS]
    assert not bad, "\n\n".join(
        f"{r.outcome}: {r.case_id} [{r.version}] {r.title}\nexpected: {r.expected}\n"
        f"observed: {r.observed}\n{r.log.render()}" for r in bad[:5])


# -- a broker lacking every behaviour the table checks -------------------------------------

def _frame(buf: bytes) -> tuple[int, bytes, int] | None:
    """(first byte, body, size) of the first whole packet in `buf`, None if incomplete; a
    Remaining Length it cannot read swallows the buffer."""
    if len(buf) < 2:
        return None
    length, shift, i = 0, 0, 1
    while True:
        if i >= len(buf):
            return None
        if i > 4:
            return buf[0], b"", len(buf)
        length |= (buf[i] & 0x7F) << shift
        shift += 7
        i += 1
        if not buf[i - 1] & 0x80:
            break
    if len(buf) < i + length:
        return None
    return buf[0], buf[i:i + length], i + length


def _answer(conn: socket.socket, first: int, body: bytes, level: int) -> int:
    """What a broker that takes anything answers: CONNACK, SUBACK, PINGRESP."""
    kind = first >> 4
    if kind == 1 and len(body) >= 2:
        at = 2 + int.from_bytes(body[:2], "big")
        level = body[at] if at < len(body) else 4
        # 5.0: Topic Alias Maximum 10, so the Topic Alias rows apply
        conn.sendall(b"\x20\x06\x00\x00\x03\x22\x00\x0a" if level == 5 else b"\x20\x02\x00\x00")
    elif kind == 8 and len(body) >= 2:
        conn.sendall((b"\x90\x04" if level == 5 else b"\x90\x03") + body[:2]
                     + (b"\x00\x00" if level == 5 else b"\x00"))
    elif kind == 12:
        conn.sendall(b"\xd0\x00")
    return level


@contextmanager
def never_closing_broker() -> Iterator[int]:
    """Accepts every CONNECT, answers SUBSCRIBE and PINGREQ, ignores everything else and
    never closes a connection."""
    def handle(conn: socket.socket, stop: threading.Event) -> None:
        with conn:
            conn.settimeout(5)
            buf, level = b"", 4
            try:
                while not stop.is_set() and (data := conn.recv(4096)):
                    buf += data
                    while (frame := _frame(buf)) is not None:
                        first, body, size = frame
                        buf = buf[size:]
                        level = _answer(conn, first, body, level)
            except OSError:
                pass

    with fake_brokers.serving(handle) as port:
        yield port


def sample() -> list[tuple[Row, int]]:
    """One row of each malformation, spread over the packet types, then one row of each
    packet type not yet in, then the rows the codec cannot judge (a broker built on it that
    shrugs off what it cannot parse still fails the others); levels taken in turn."""
    chosen: list[Row] = []
    packets: Counter[str] = Counter()
    for m in Malformation:
        rows = [r for r in ROWS if r.malformation is m]
        pick = min(rows, key=lambda r: (packets[r.packet], rows.index(r)))
        packets[pick.packet] += 1
        chosen.append(pick)
    for packet in sorted({r.packet for r in ROWS} - set(packets)):
        chosen.append(next(r for r in ROWS if r.packet == packet))
    chosen += [r for r in ROWS if r.decoder_blind and r not in chosen]
    return [(r, r.levels[i % len(r.levels)]) for i, r in enumerate(chosen)]


def test_a_broker_that_never_closes_fails_a_sample_of_rows() -> None:
    work = sample()
    assert len({row.packet for row, _ in work}) == 17
    assert {row.state for row, _ in work} == set(State)
    assert {row.expect for row, _ in work} == set(Expect)
    with never_closing_broker() as port:
        results = run_plan(Target(port=port, timeout=0.3), registered(work), jobs=16)
    wrong = [f"{r.case_id} [{r.version}]: {r.outcome} {r.observed}" for r in results
             if r.outcome is not Outcome.FAIL]
    assert not wrong, "\n".join(wrong)
