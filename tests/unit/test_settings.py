from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import AliasChoices

from voice_server.settings import Settings, SettingsError, env_name, load_settings, mask_password

README = Path(__file__).resolve().parents[2] / "docs" / "settings.md"  # the settings reference


def test_defaults_need_no_environment() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.database_url is None
    assert settings.pgdata_dir == Path(".parley/pgdata")
    assert settings.database_url_for_logs() == "embedded (.parley/pgdata)"


def test_reads_prefixed_environment_and_plain_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_PORT", "9100")
    monkeypatch.setenv("PARLEY_LOG_JSON", "false")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:s3cret@db.internal:5432/parley")
    settings = load_settings(_env_file=None)
    assert settings.port == 9100
    assert settings.log_json is False
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value().endswith("/parley")


def test_reads_dotenv_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PARLEY_PORT=9200\nPARLEY_LOG_LEVEL=DEBUG\n")
    settings = load_settings(_env_file=env_file)
    assert (settings.port, settings.log_level) == (9200, "DEBUG")


@pytest.mark.parametrize(
    ("variable", "value", "complaint"),
    [
        ("PARLEY_PORT", "eighty", "PARLEY_PORT"),
        ("PARLEY_PORT", "70000", "PARLEY_PORT"),
        ("PARLEY_LOG_LEVEL", "LOUD", "PARLEY_LOG_LEVEL"),
        ("DATABASE_URL", "mysql://root@localhost/db", "DATABASE_URL"),
        ("PARLEY_DB_POOL_MAX", "0", "PARLEY_DB_POOL_MAX"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, complaint: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None)
    assert complaint in str(caught.value)


def test_pool_max_below_min_is_refused() -> None:
    with pytest.raises(SettingsError, match="PARLEY_DB_POOL_MAX: .*PARLEY_DB_POOL_MIN"):
        load_settings(_env_file=None, db_pool_min=5, db_pool_max=2)


def test_empty_database_url_means_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "")
    assert load_settings(_env_file=None).database_url is None


def test_secrets_do_not_print() -> None:
    settings = Settings(_env_file=None, database_url="postgresql://u:hunter2@h/db")  # type: ignore[call-arg]
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.model_dump())
    assert settings.database_url_for_logs() == "postgresql://u:***@h/db"


def test_mask_password_leaves_passwordless_urls_alone() -> None:
    assert mask_password("postgresql://u@h/db") == "postgresql://u@h/db"


def test_every_setting_is_documented_in_the_reference() -> None:
    # A row names a setting and its other names: | `GROQ_API_KEY` or `PARLEY_GROQ_API_KEY` |
    cells = re.findall(r"^\| (`[A-Z_]+`(?: or `[A-Z_]+`)*) \|", README.read_text(), flags=re.M)
    documented = {name for cell in cells for name in re.findall(r"`([A-Z_]+)`", cell)}
    expected = {env_name(name) for name in Settings.model_fields}
    assert expected - documented == set(), "settings missing from the README table"
    aliases = {
        str(choice).upper()
        for field in Settings.model_fields.values()
        if isinstance(field.validation_alias, AliasChoices)
        for choice in field.validation_alias.choices
    }
    assert documented - expected - aliases == set(), "README documents settings that do not exist"
