"""Settings that cannot run are refused at start with a message naming the setting, not a
traceback, and not a server that half works."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dalgu.cli.app import app as cli
from dalgu.settings import InvalidSettings, Settings


def test_several_workers_with_the_embedded_broker_are_refused() -> None:
    # each worker would start a broker on the one port: only the first would bind it
    with pytest.raises(InvalidSettings, match="DALGU_MQTT_BROKER=external"):
        Settings.load(workers=2)
    assert Settings.load(workers=2, mqtt_broker="external").workers == 2
    assert Settings.load(workers=2, mqtt_broker="off").workers == 2
    assert Settings.load(workers=1).mqtt_broker == "embedded"


def test_mqtt_port_zero_turns_the_mqtt_southbound_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """As 0 does every other gateway port (README, Configuration): it had started the embedded
    broker on its default port, 1884, where a second Dalgu moved off the defaults collided."""
    monkeypatch.setenv("DALGU_MQTT_PORT", "0")
    settings = Settings.load()
    assert settings.mqtt_broker == "off"
    assert Settings.load(workers=2).workers == 2  # no embedded broker to refuse
    monkeypatch.delenv("DALGU_MQTT_PORT")
    assert Settings.load(mqtt_port=0).mqtt_broker == "off"
    assert Settings.load(mqtt_port=1999).mqtt_broker == "embedded"


def test_a_file_and_the_environment_are_judged_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "dalgu.toml"
    config.write_text('[dalgu]\nmqtt_broker = "external"\n')
    monkeypatch.setenv("DALGU_WORKERS", "3")
    settings = Settings.load(config)
    assert (settings.workers, settings.mqtt_broker) == (3, "external")
    broken = tmp_path / "broken.toml"
    broken.write_text("[dalgu\n")
    with pytest.raises(InvalidSettings, match=r"broken\.toml"):
        Settings.load(broken)
    with pytest.raises(InvalidSettings, match=r"missing\.toml"):
        Settings.load(tmp_path / "missing.toml")


def test_settings_outside_the_dalgu_table_are_refused_not_ignored(tmp_path: Path) -> None:
    """`port = 1027` at the top of the file (no `[dalgu]` line) was silently ignored: Dalgu
    ran on its defaults, another port than the one the file asked for."""
    config = tmp_path / "dalgu.toml"
    config.write_text("port = 1027\n[other]\nx = 1\n")
    with pytest.raises(InvalidSettings, match=r"other, port outside the \[dalgu\] table"):
        Settings.load(config)
    config.write_text('dalgu = "port=1027"\n')
    with pytest.raises(InvalidSettings, match=r"`dalgu` must be a table"):
        Settings.load(config)


def test_a_bad_key_of_the_file_is_named_as_the_file_has_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "dalgu.toml"
    config.write_text("[dalgu]\nbogus_setting = 1\nworkers = 0\n")
    with pytest.raises(InvalidSettings) as refused:
        Settings.load(config)
    lines = str(refused.value).splitlines()
    assert any(line.startswith(f"bogus_setting in {config}: ") for line in lines), lines
    assert any(line.startswith(f"workers in {config}: ") for line in lines), lines
    monkeypatch.setenv("DALGU_WORKERS", "0")  # the environment's own are named as variables
    with pytest.raises(InvalidSettings, match="DALGU_WORKERS"):
        Settings.load(config)


def test_the_command_line_names_the_bad_setting_and_exits_2(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"DALGU_SQLITE_PATH": str(tmp_path / "d.db")}
    bad = runner.invoke(cli, ["serve"], env={**env, "DALGU_WORKERS": "0"})
    assert bad.exit_code == 2
    assert "DALGU_WORKERS" in bad.output and "greater than or equal to 1" in bad.output
    assert "Traceback" not in bad.output
    clash = runner.invoke(cli, ["migrate"], env={**env, "DALGU_WORKERS": "2"})
    assert clash.exit_code == 2 and "embedded MQTT broker" in clash.output
    unknown = runner.invoke(cli, ["migrate"], env={**env, "DALGU_STORE": "oracle"})
    assert unknown.exit_code == 2 and "DALGU_STORE" in unknown.output
    assert not (tmp_path / "d.db").exists()  # nothing was started


@pytest.mark.parametrize(
    ("name", "value"),
    [("nats_stream", "DALGU.CHANGES"), ("nats_subject", "city.>"), ("nats_subject", "a..b")],
)
def test_change_feed_names_nats_would_refuse_are_refused_at_start(name: str, value: str) -> None:
    with pytest.raises(InvalidSettings, match=name.upper()):
        Settings.load(**{name: value})


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("DALGU_MQTT_PORT", "70000", "less than or equal to 65535"),  # bound 4464 (70000-65536)
        ("DALGU_PORT", "70000", "less than or equal to 65535"),  # a traceback at bind()
        ("DALGU_PORT", "-5", "greater than or equal to 0"),
        ("DALGU_IOT_SOUTH_PORT", "99999", "less than or equal to 65535"),
        ("DALGU_DEFAULT_PAGE_SIZE", "5000", "above DALGU_MAX_PAGE_SIZE (1000)"),
        ("DALGU_POSTGRES_DSN", "notadsn", "not a PostgreSQL URL"),
    ],
)
def test_values_that_cannot_run_are_refused_at_start_by_name(
    tmp_path: Path, variable: str, value: str, said: str
) -> None:
    """An outside test of operations (round 6): these started, bound another port than asked,
    refused every query without a `limit`, or ended in a traceback."""
    env = {"DALGU_SQLITE_PATH": str(tmp_path / "d.db"), variable: value, "COLUMNS": "200"}
    result = CliRunner().invoke(cli, ["migrate"], env=env)
    text = " ".join(result.output.split())
    assert result.exit_code == 2, text
    assert variable in text and said in text and "Traceback" not in text


def test_the_file_is_checked_even_where_a_variable_overrides_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "dalgu.toml"
    config.write_text('[dalgu]\nport = "abc"\nsqlite_synchronous = "full"\n')
    monkeypatch.setenv("DALGU_PORT", "1030")
    with pytest.raises(InvalidSettings, match=f"port in {config}"):
        Settings.load(config)
    config.write_text('[dalgu]\nsqlite_synchronous = "full"\n')  # as SQLite's PRAGMA takes it
    assert Settings.load(config).sqlite_synchronous == "FULL"


def test_a_message_naming_the_dalgu_table_shows_it(tmp_path: Path) -> None:
    config = tmp_path / "dalgu.toml"
    config.write_text("port = 21470\n[dalgu]\n")
    result = CliRunner().invoke(cli, ["migrate", "--config", str(config)], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "outside the [dalgu] table (every setting goes under a [dalgu] line)" in result.output
