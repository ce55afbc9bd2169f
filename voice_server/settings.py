"""The one settings object, read from the environment and `.env`, then passed down.

No other module reads ``os.environ``: tests build ``Settings(...)`` directly. Every field is
documented in the README settings table (``tests/unit/test_settings.py`` keeps the two in step).
Secrets are ``SecretStr`` so that they print as ``**********`` in logs and reprs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PARLEY_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    host: str = Field("127.0.0.1", description="Interface the HTTP server binds to.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port of the HTTP server.")
    log_level: LogLevel = Field("INFO", description="DEBUG, INFO, WARNING or ERROR.")
    log_json: bool = Field(True, description="JSON log lines (true) or plain text (false).")
    data_dir: Path = Field(
        Path(".parley"),
        description="Where Parley keeps local state; the embedded database lives in its pgdata/.",
    )
    database_url: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("DATABASE_URL", "PARLEY_DATABASE_URL"),
        description="PostgreSQL URL with pgvector. Unset: an embedded server under data_dir.",
    )
    db_pool_min: int = Field(1, ge=0, le=100, description="Minimum pooled connections.")
    db_pool_max: int = Field(10, ge=1, le=500, description="Maximum pooled connections.")
    db_connect_timeout_s: float = Field(
        10.0, gt=0, le=300, description="Seconds to wait for the database at start-up."
    )
    migrate_on_start: bool = Field(
        True, description="Apply pending migrations when `parley serve` starts."
    )
    shutdown_timeout_s: float = Field(
        10.0, gt=0, le=600, description="Grace period for open connections on SIGTERM."
    )

    # --- voice pipeline (issue 3): add voice settings below this line ---

    # speech providers: STT and TTS engines, vendor keys and endpoints
    stt_provider: Literal["auto", "pocketsphinx", "groq"] = Field(
        "auto",
        description="Speech-to-text engine. auto: groq when a Groq key is set, else the offline "
        "pocketsphinx.",
    )
    stt_model: str = Field(
        "whisper-large-v3-turbo",
        description="Groq speech-to-text model (pocketsphinx uses its bundled en-US model).",
    )
    stt_language: str = Field(
        "en", min_length=2, description="ISO-639-1 language of the callers' speech."
    )
    stt_timeout_s: float = Field(
        15.0, gt=0, le=300, description="Longest wait for one transcription (s)."
    )
    stt_offline_workers: int = Field(
        2, ge=1, le=32, description="pocketsphinx decoders that may run in parallel (threads)."
    )
    tts_provider: Literal["auto", "espeak", "deepgram"] = Field(
        "auto",
        description="Text-to-speech engine. auto: deepgram when a Deepgram key is set, else the "
        "offline eSpeak NG.",
    )
    tts_voice: str | None = Field(
        None,
        description="Default voice: an eSpeak NG voice (en-us+klatt when unset) or a Deepgram "
        "Aura model (aura-2-thalia-en when unset). Bots may override it.",
    )
    tts_timeout_s: float = Field(
        15.0, gt=0, le=300, description="Longest wait for the first or the next audio bytes (s)."
    )
    groq_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("GROQ_API_KEY", "PARLEY_GROQ_API_KEY"),
        description="Groq API key; switches speech-to-text to Groq Whisper.",
    )
    groq_base_url: str = Field(
        "https://api.groq.com", description="Groq API base URL (the SDK adds /openai/v1/...)."
    )
    deepgram_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("DEEPGRAM_API_KEY", "PARLEY_DEEPGRAM_API_KEY"),
        description="Deepgram API key; switches text-to-speech to Deepgram Aura.",
    )
    deepgram_base_url: str = Field(
        "https://api.deepgram.com", description="Deepgram API base URL (the SDK adds /v1/...)."
    )

    @field_validator("groq_api_key", "deepgram_api_key")
    @classmethod
    def _blank_key_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        return value

    # --- knowledge and chat (issue 4): add rag settings below this line ---

    # --- accounts and auth (issue 5): add dashboard_api settings below this line ---

    # --- billing (issue 6): add billing settings below this line ---

    # --- end of package settings ---

    @field_validator("database_url")
    @classmethod
    def _postgres_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        scheme = urlsplit(value.get_secret_value()).scheme
        if scheme not in ("postgres", "postgresql"):
            raise ValueError(f"must start with postgresql:// (got scheme {scheme or 'none'!r})")
        return value

    @field_validator("db_pool_max")
    @classmethod
    def _pool_bounds(cls, value: int, info: object) -> int:
        data = getattr(info, "data", {})
        if value < data.get("db_pool_min", 0):
            raise ValueError("must be at least PARLEY_DB_POOL_MIN")
        return value

    @property
    def pgdata_dir(self) -> Path:
        return self.data_dir / "pgdata"

    def database_url_for_logs(self) -> str:
        """The database URL with its password masked, or a note that the embedded one is used."""
        if self.database_url is None:
            return f"embedded ({self.pgdata_dir})"
        return mask_password(self.database_url.get_secret_value())


def mask_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class SettingsError(Exception):
    """Settings that cannot be used; the message names each bad variable and why."""


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning pydantic's validation error into one readable message."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            lines.append(f"  {env_name(field)}: {error['msg']}")
        raise SettingsError("invalid settings:\n" + "\n".join(lines)) from None


def env_name(field: str) -> str:
    if field in ("database_url", "DATABASE_URL"):
        return "DATABASE_URL"
    return f"PARLEY_{field.upper()}"
