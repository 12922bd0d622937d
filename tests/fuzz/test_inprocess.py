"""The in-process harness: finds nothing on the current code, and does find a planted bug,
with the input that triggers it (shrunk)."""

from __future__ import annotations

from typing import Any

import pytest

from fuzz import inprocess as ip
from mqttspec import Decoder, decoder_packets
from mqttspec.types import PacketType
from reference_broker import flows

SECONDS = 1.5


@pytest.mark.parametrize("target", ip.TARGETS)
def test_current_code_survives(target: str) -> None:
    report = ip.run_inprocess(target, SECONDS, seed=11)
    assert report.engine == "hypothesis"
    assert report.inputs > 50
    assert report.findings == [], [f.to_json() for f in report.findings]
    assert report.seconds < SECONDS + 3


def test_a_planted_decoder_bug_is_reported_with_its_input(
        monkeypatch: pytest.MonkeyPatch) -> None:
    parse = decoder_packets.PARSERS[PacketType.PINGREQ]

    def planted(r: Any, flags: int, peer: str | None) -> Any:
        if r.level == 5:
            raise IndexError("planted")
        return parse(r, flags, peer)

    monkeypatch.setitem(decoder_packets.PARSERS, PacketType.PINGREQ, planted)
    report = ip.run_inprocess("decoder", 1.0, seed=3)
    assert len(report.findings) == 1
    found = report.findings[0]
    assert found.signature.startswith("IndexError at test_inprocess.py:")
    assert found.signature.endswith(" in planted")
    assert "planted" in found.error and "IndexError" in found.traceback
    assert ip.replay("decoder", found.input) == found.signature
    assert len(found.input.data) <= 8  # shrunk to little more than a PINGREQ


def test_a_planted_engine_bug_is_reported_with_its_input(
        monkeypatch: pytest.MonkeyPatch) -> None:
    dispatch = flows.dispatch

    def planted(conn: Any, session: Any, packet: Any, now: float) -> None:
        if type(packet).__name__ == "Unsubscribe":
            raise KeyError("planted")
        dispatch(conn, session, packet, now)

    monkeypatch.setattr(flows, "dispatch", planted)
    report = ip.run_inprocess("session", 1.0, seed=5)
    assert len(report.findings) == 1
    found = report.findings[0]
    assert found.signature.startswith("KeyError at test_inprocess.py")
    assert ip.replay("session", found.input) == found.signature


def test_the_invariants_have_teeth(monkeypatch: pytest.MonkeyPatch) -> None:
    feed = Decoder.feed

    def lossy(self: Decoder, data: bytes) -> None:  # loses a byte fed on its own
        feed(self, b"" if data == b"\x00" else data)

    monkeypatch.setattr(Decoder, "feed", lossy)
    with pytest.raises(ip.InvariantBroken) as broken:
        ip.check_decoder(ip.Input(b"\xc0\x00", level=4))
    assert broken.value.kind == "chunking"


def test_minimise_keeps_the_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    feed = Decoder.feed

    def planted(self: Decoder, data: bytes) -> None:
        if b"\xde\xad" in bytes(self._buf) + data:
            raise ZeroDivisionError("planted")
        feed(self, data)

    monkeypatch.setattr(Decoder, "feed", planted)
    inp = ip.Input(b"\x01" * 40 + b"\xde\xad" + b"\x02" * 40, level=5, cuts=(3, 50))
    sig = ip.replay("decoder", inp)
    assert sig is not None and sig.startswith("ZeroDivisionError")
    small = ip.minimise("decoder", ip.Found(sig, "", "", inp), budget=2.0)
    assert small.input.data == b"\xde\xad" and small.input.cuts == ()


def test_libfuzzer_bytes_map_to_inputs() -> None:
    inp = ip.input_from_bytes("decoder", bytes((0b01_01_11, 2, 5, 9)) + b"\xc0\x00")
    assert (inp.level, inp.peer, inp.limit, inp.cuts, inp.data) == (5, "client", 64, (5, 9),
                                                                    b"\xc0\x00")
    session = ip.input_from_bytes("session", b"\x06\x00\xe0\x00")
    assert (session.level, session.limit, session.data) == (5, 1, b"\xe0\x00")
    assert ip.input_from_bytes("session", b"").level == 3


def test_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert ip.main(["--target", "decoder", "--seconds", "0.3", "--seed", "2"]) == 0
    assert "0 finding(s)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as bad:
        ip.main(["--target", "nothing", "--seconds", "1"])
    assert bad.value.code == 2


@pytest.mark.skipif(not ip.atheris_available(), reason="atheris is not installed")
def test_atheris_runs_and_stops() -> None:
    report = ip.run_inprocess("decoder", 1.0, seed=1, atheris=True)
    assert report.engine == "atheris" and report.inputs > 0
    assert report.findings == []
