"""Configuration: defaults, files, overrides, one-line errors; the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reference_broker.__main__ import main, parse_args
from reference_broker.config import BrokerConfig, ConfigError, load_config, parse_value
from tests.reference_broker.broker_process import broker_process


def test_defaults_are_loopback_and_os_port() -> None:
    config = BrokerConfig()
    assert (config.host, config.port, config.maximum_qos) == ("127.0.0.1", 0, 2)
    assert "maximum_qos = 2" in config.describe()
    assert "maximum_packet_size = none" in config.describe()


def test_toml_and_json_files_with_overrides(tmp_path: Path) -> None:
    toml = tmp_path / "b.toml"
    toml.write_text('maximum-qos = 1\nretain_available = false\nconnect_timeout = 2\n')
    config = load_config(toml, {"topic_alias_maximum": 0})
    assert (config.maximum_qos, config.retain_available, config.topic_alias_maximum) == (
        1, False, 0)
    assert config.connect_timeout == 2
    js = tmp_path / "b.json"
    js.write_text(json.dumps({"maximum_packet_size": 1024, "server_keep_alive": None}))
    assert load_config(js).maximum_packet_size == 1024


@pytest.mark.parametrize(("values", "message"), [
    ({"maximum_qos": 3}, "option maximum_qos: 3 is outside 0..2"),
    ({"maximum_qos": "2"}, "option maximum_qos: expected an integer, got '2'"),
    ({"retain_available": 1}, "option retain_available: expected true or false, got 1"),
    ({"port": None}, "option port: a value is required"),
    ({"no_such": 1}, "overrides: unknown option 'no_such'"),
])
def test_bad_values_give_one_line(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, values)
    assert str(info.value) == message


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("maximum_qos = = 1")
    with pytest.raises(ConfigError, match="is not valid"):
        load_config(bad)
    listing = tmp_path / "list.json"
    listing.write_text("[1]")
    with pytest.raises(ConfigError, match="table/object"):
        load_config(listing)


def test_parse_value() -> None:
    assert parse_value("retain_available", "no") is False
    assert parse_value("maximum_packet_size", "none") is None
    assert parse_value("maximum_packet_size", "0x100") == 256
    assert parse_value("connect_timeout", "1.5") == 1.5
    with pytest.raises(ConfigError, match="expected an integer"):
        parse_value("port", "http")


def test_command_line_overrides_file(tmp_path: Path) -> None:
    cfg = tmp_path / "b.toml"
    cfg.write_text("maximum_qos = 1\nport = 1883\n")
    config, trace = parse_args(["--config", str(cfg), "--port", "0", "--retain-available",
                                "false", "--trace", "t.json"])
    assert (config.maximum_qos, config.port, config.retain_available) == (1, 0, False)
    assert trace == "t.json"


def test_main_reports_bad_option_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--maximum-qos", "7"]) == 2
    err = capsys.readouterr().err
    assert err == "error: option maximum_qos: 7 is outside 0..2\n"


def test_module_runs_prints_port_and_stops_on_sigterm(tmp_path: Path) -> None:
    trace = tmp_path / "trace.json"
    with broker_process("--port", "0", "--trace", str(trace), max_lines=100) as (proc, lines):
        port = int(lines[-1].rsplit(":", 1)[1])
        assert port > 0
        assert any("maximum_qos = 2" in line for line in lines)
        proc.terminate()
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert json.loads(trace.read_text()) == {"3.1.1": {}, "5.0": {}}


def test_server_user_property_is_name_equals_value() -> None:
    assert BrokerConfig().user_properties == ()
    config = BrokerConfig(server_user_property="via=ref=1")
    assert config.user_properties == (("via", "ref=1"),)
    with pytest.raises(ConfigError, match="server_user_property: expected 'name=value'"):
        BrokerConfig(server_user_property="novalue")
