"""The case generators: deterministic from a seed, every class at every level behaving as it
promises, checked against mqttspec's own Decoder rather than the generators' word."""

from __future__ import annotations

from collections import Counter
from itertools import islice

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.case import Expect, FuzzCase
from fuzz.generators import (
    CLASS_LEVELS,
    CLASSES,
    DEFAULT_MIX,
    FAMILIES,
    case_seed,
    generate,
    judge,
    make_case,
)
from fuzz.generators.expect import must_close
from mqttspec import Auth, Connect, Decoder, Disconnect, ProtocolViolation, encode

SAMPLE = list(islice(generate(20240611), 5000))
MALFORMED = [n for n in CLASSES if n.startswith("malformed:")]
PER_CLASS = 25  # seeds per class and level
ENDING = (Connect, Auth, Disconnect)  # packets after which the judge's state check decides


def _cases(name: str) -> list[FuzzCase]:
    return [make_case(case_seed(7, i), level, name)
            for level in CLASS_LEVELS[name] for i in range(PER_CLASS)]


def test_same_seed_same_bytes() -> None:
    assert list(islice(generate(20240611), 5000)) == SAMPLE
    assert list(islice(generate(20240612), 50)) != SAMPLE[:50]


def test_a_case_is_remade_alone_from_its_fields() -> None:
    for case in SAMPLE[:400]:
        assert make_case(case.seed, case.level, case.generator) == case
        assert FuzzCase.from_json(case.to_json()) == case


def test_a_class_by_name_draws_what_its_family_drew() -> None:
    for case in SAMPLE[:200]:
        family = case.generator.split(":")[0]
        assert make_case(case.seed, case.level, family) == case


def test_every_class_and_level_appears_in_a_bounded_sample() -> None:
    seen = Counter(c.generator for c in SAMPLE)
    assert set(seen) == set(CLASSES)
    assert {c.level for c in SAMPLE} == {3, 4, 5}
    for name, levels in CLASS_LEVELS.items():
        assert {c.level for c in SAMPLE if c.generator == name} <= set(levels), name
    families = Counter(c.generator.split(":")[0] for c in SAMPLE)
    for family, weight in DEFAULT_MIX.items():
        assert abs(families[family] / len(SAMPLE) - weight) < 0.04, family


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_bytes_are_refused_with_the_recorded_statements(name: str) -> None:
    for case in _cases(name):
        assert case.malformation == name.split(":")[1]
        assert case.expect is must_close(case.level)
        decoder = Decoder(case.level, "client")
        prefix = sum(len(f) for f in case.frames[:-1])
        fed = 0
        with pytest.raises(ProtocolViolation) as refused:
            for frame in case.frames:
                decoder.feed(frame)
                fed += len(frame)
                list(decoder)
        assert fed > prefix, f"{name}: the valid prefix was refused"
        assert refused.value.statements == case.statements, name
        assert judge(case.level, case.frames).at >= prefix


def test_malformed_statement_ids_are_numbered_for_the_level() -> None:
    for name in MALFORMED:
        for case in _cases(name)[::5]:
            if case.level == 5:
                assert all(not s.startswith(("MQTT-2.2.2-", "MQTT-4.8.0-"))
                           for s in case.statements), case
            else:
                assert "MQTT-4.13.1-1" not in case.statements, case


def test_valid_cases_decode_cleanly_and_round_trip() -> None:
    for case in _cases("valid") * 2 + [c for c in SAMPLE if c.generator == "valid"]:
        decoder = Decoder(case.level, "client", keep_raw=True)
        decoder.feed(b"".join(case.frames))
        for packet in decoder:
            assert encode(packet) == decoder.last_raw  # strict, read back, same bytes
            topic = getattr(packet, "topic", "")
            assert not topic or topic.startswith(f"fuzz/{case.seed:x}/"), topic
        assert decoder.buffered == 0
        assert judge(case.level, case.frames).expect is case.expect
        assert case.expect in (Expect.ALIVE, Expect.ANY)
        if case.level < 5 and case.expect is Expect.ANY:  # only a DISCONNECT or a stray ack
            assert judge(case.level, case.frames).reason.startswith(
                ("DISCONNECT", "PUBACK", "PUBREC", "PUBCOMP")), case


@pytest.mark.parametrize("op", [n for n in CLASSES if n.startswith("mutate:")])
def test_mutant_expectations_agree_with_the_decoder(op: str) -> None:
    for case in _cases(op):
        decoder = Decoder(case.level, "client")
        decoder.feed(b"".join(case.frames))
        try:
            for packet in decoder:
                if isinstance(packet, ENDING):  # the state check decides from here on
                    break
            else:
                assert decoder.buffered == 0, "a mutant ends inside a packet"
                assert case.expect in (Expect.ALIVE, Expect.ANY)
        except ProtocolViolation as exc:
            assert case.expect is must_close(case.level), case
            assert case.statements == exc.statements
        assert all(case.frames), "no empty send"
        if op in ("mutate:resplit", "mutate:concat"):  # same bytes as valid traffic
            assert case.expect is not Expect.CLOSE


def test_sequences_expect_what_the_spec_says() -> None:
    expected = {"before_connect": {Expect.CLOSE}, "second_connect": {Expect.CLOSE},
                "auth_unasked": {Expect.CLOSE}, "alias_unmapped": {Expect.CLOSE},
                "unknown_pubrel": {Expect.ANY}, "unknown_ack": {Expect.ANY},
                "alias_high": {Expect.ANY}, "after_disconnect": {Expect.ANY},
                "qos2_resend": {Expect.ALIVE, Expect.ANY},
                "unsubscribe_unknown": {Expect.ALIVE}}
    assert {n.split(":")[1] for n in CLASSES if n.startswith("sequence:")} == set(expected)
    for short, outcomes in expected.items():
        for case in _cases(f"sequence:{short}"):
            want = {must_close(case.level) if e is Expect.CLOSE else e for e in outcomes}
            assert case.expect in want, case
            if short == "before_connect":
                assert not case.connect and case.statements == ("MQTT-3.1.0-1",)
            if short == "second_connect":
                assert case.statements == ("MQTT-3.1.0-2",)
            if short == "qos2_resend" and case.level < 5:
                assert case.expect is Expect.ALIVE


def test_classes_table_and_levels() -> None:
    assert set(CLASSES) == set(CLASS_LEVELS)
    assert {n.split(":")[0] for n in CLASSES} == set(FAMILIES)
    for name, (description, make) in CLASSES.items():
        assert description
        level = CLASS_LEVELS[name][-1]
        assert make(5, level) == make_case(5, level, name)
    with pytest.raises(ValueError):
        make_case(1, 4, "malformed:forbidden_property")  # MQTT 5 only
    with pytest.raises(ValueError):
        make_case(1, 6)
    with pytest.raises(ValueError):
        next(generate(1, mix={"nonsense": 1.0}))


def test_the_mix_chooses_families_and_classes() -> None:
    only = list(islice(generate(3, mix={"malformed": 1.0}), 200))
    assert all(c.generator.startswith("malformed:") for c in only)
    one = list(islice(generate(3, levels=(4,), mix={"mutate:bitflip": 1.0}), 50))
    assert {(c.generator, c.level) for c in one} == {("mutate:bitflip", 4)}
    v5 = list(islice(generate(3, levels=(5,)), 200))
    assert {c.level for c in v5} == {5}


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(-(2**70), 2**70), index=st.integers(0, len(CLASSES) - 1),
       pick=st.integers(0, 2))
def test_any_seed_gives_a_bounded_case(seed: int, index: int, pick: int) -> None:
    name = sorted(CLASSES)[index]
    level = CLASS_LEVELS[name][pick % len(CLASS_LEVELS[name])]
    case = make_case(seed, level, name)
    assert case == make_case(seed, level, name)
    assert case.frames and all(isinstance(f, bytes) and f for f in case.frames)
    assert case.size < 4096
    assert 0 <= case.seed < 2**64
