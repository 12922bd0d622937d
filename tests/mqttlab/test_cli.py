"""The `mqttlab` command: decode and statements subcommands, and its handling of mistakes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mqttlab.cli import main


def test_decode_prints_packets(capsys: pytest.CaptureFixture[str]) -> None:
    # 30 05 | 00 01 'a' | 'h' 'i'  : PUBLISH QoS 0, topic "a", payload "hi"
    assert main(["decode", "30 05 00 01 61 68 69"]) == 0
    assert "Publish(topic='a', payload=b'hi'" in capsys.readouterr().out


def test_decode_learns_level_from_connect(capsys: pytest.CaptureFixture[str]) -> None:
    # CONNECT: 10 0d | 00 04 MQTT | 05 | 02 | 00 00 | 00 (no properties) | 00 00 (client id "")
    # then PUBLISH v5: 30 04 | 00 01 'a' | 00 (property length 0)
    assert main(["decode", "100d00044d5154540502000000" "0000", "3004000161" "00"]) == 0
    out = capsys.readouterr().out
    assert "protocol_level=5" in out.splitlines()[1]


def test_decode_reports_violation(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "36 03 00 01 61"]) == 1  # QoS 3
    assert "MQTT-3.3.1-4" in capsys.readouterr().out


def test_decode_incomplete(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "30 05 00"]) == 0
    assert "incomplete: 3 bytes" in capsys.readouterr().out


def test_bad_hex_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "zz"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not hexadecimal" in err


def test_statements(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["statements", "--version", "5.0", "--server"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 202 and "202 statements" in captured.err
    assert main(["statements", "MQTT-3.3.1-4"]) == 0
    out = capsys.readouterr().out
    assert "MQTT 3.1.1" in out and "MQTT 5.0" in out and "docs.oasis-open.org" in out
    assert main(["statements", "MQTT-99.9-9"]) == 2


def test_console_entry_point_runs() -> None:
    result = subprocess.run([sys.executable, "-m", "mqttlab", "decode", "c000"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "Pingreq" in result.stdout
    result = subprocess.run([sys.executable, "-m", "mqttlab", "nonsense"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2 and "invalid choice" in result.stderr
