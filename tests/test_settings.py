"""Settings from the environment over an optional TOML file; bad values name the setting."""

from __future__ import annotations

import pytest

from plugin.kernel.settings import SettingsError, load_settings


def test_defaults(monkeypatch):
    for var in ("FIXPILOT_DATABASE_URL", "FIXPILOT_PORT", "FIXPILOT_HOST"):
        monkeypatch.delenv(var, raising=False)
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///./fixpilot.db"
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)


def test_toml_file_and_environment_wins(tmp_path, monkeypatch):
    config = tmp_path / "fixpilot.toml"
    config.write_text(
        'port = 9000\nhost = "0.0.0.0"\ndatabase_url = "postgresql://u@db/fixpilot"\n'
    )
    monkeypatch.delenv("FIXPILOT_DATABASE_URL", raising=False)
    monkeypatch.delenv("FIXPILOT_HOST", raising=False)
    monkeypatch.setenv("FIXPILOT_PORT", "9100")
    settings = load_settings(config)
    assert settings.port == 9100
    assert settings.host == "0.0.0.0"
    assert settings.database_url == "postgresql+asyncpg://u@db/fixpilot"


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("FIXPILOT_DATABASE_URL", "mysql://x@y/z"),
        ("FIXPILOT_CW_URL", "ftp://cw.example.com"),
        ("FIXPILOT_LOG_FORMAT", "xml"),
        ("FIXPILOT_PORT", "70000"),
    ],
)
def test_bad_values_name_the_setting(monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert var in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_secrets_are_not_in_the_repr(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-supersecret")
    monkeypatch.setenv("FIXPILOT_CW_PRIVATE_KEY", "cwprivatekey123")
    text = repr(load_settings())
    assert "supersecret" not in text and "cwprivatekey123" not in text
