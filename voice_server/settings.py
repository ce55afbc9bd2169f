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

    # --- knowledge and chat (issue 4): add rag settings below this line ---
    rag_embedder: Literal["offline", "openai"] = Field(
        "offline",
        description="offline: feature hashing of words and character n-grams (lexical, no "
        "download); openai: an OpenAI-compatible /v1/embeddings endpoint (OpenAI, Ollama, vLLM, "
        "TEI) at rag_embedding_base_url.",
    )
    rag_embedding_model: str = Field(
        "text-embedding-3-small", description="Model name sent to the embeddings endpoint."
    )
    rag_embedding_base_url: str | None = Field(
        None, description="Base URL of the OpenAI-compatible embeddings API, e.g. .../v1."
    )
    rag_embedding_api_key: SecretStr | None = Field(
        None, description="Bearer key of the embeddings endpoint (optional for local servers)."
    )
    rag_chunk_tokens: int = Field(
        500, ge=50, le=8000, description="Target chunk size in tokens (about 4 characters each)."
    )
    rag_chunk_overlap: float = Field(
        0.1, ge=0, le=0.5, description="Share of a chunk repeated at the start of the next one."
    )
    rag_top_k: int = Field(5, ge=1, le=50, description="Passages returned by a knowledge search.")
    rag_candidates: int = Field(
        40, ge=1, le=1000, description="Candidates taken from each of vector and full-text search."
    )
    rag_min_score: float = Field(
        0.15,
        ge=0,
        le=1,
        description="Minimum cosine similarity for a vector-only hit; full-text matches always "
        "count.",
    )
    rag_max_file_bytes: int = Field(
        20_000_000, ge=1, description="Largest accepted upload or fetched page, in bytes."
    )
    rag_max_pages: int = Field(1000, ge=1, description="Most pages accepted in one PDF.")
    rag_tenant_storage_bytes: int = Field(
        500_000_000, ge=0, description="Total document bytes one tenant may store."
    )
    rag_url_timeout_s: float = Field(
        15.0, gt=0, le=300, description="Time limit for fetching a web page or a Drive file."
    )
    rag_allow_private_urls: bool = Field(
        False,
        description="Allow web-page sources on private, loopback and link-local addresses "
        "(tests and intranet installs only).",
    )
    rag_drive_base_url: str = Field(
        "https://www.googleapis.com", description="Google Drive API root (a fake in tests)."
    )
    rag_drive_token_url: str = Field(
        "https://oauth2.googleapis.com/token",
        description="OAuth token endpoint for service-account credentials.",
    )
    rag_ingest_workers: int = Field(
        2, ge=1, le=32, description="Documents processed at the same time by this server."
    )
    llm_provider: Literal["offline", "groq", "openai"] = Field(
        "offline",
        description="offline: no language model, the answerer reads back the best passage; "
        "groq: Groq chat completions; openai: any OpenAI-compatible endpoint at llm_base_url.",
    )
    llm_model: str = Field(
        "llama-3.3-70b-versatile", description="Chat model name sent to the provider."
    )
    llm_api_key: SecretStr | None = Field(None, description="API key of the chat model provider.")
    llm_base_url: str | None = Field(
        None, description="Base URL of the chat model API (unset: the provider's default)."
    )
    llm_timeout_s: float = Field(30.0, gt=0, le=600, description="Time limit for one model call.")
    llm_temperature: float = Field(0.2, ge=0, le=2, description="Sampling temperature.")
    chat_history_turns: int = Field(
        10, ge=0, le=200, description="Most earlier turns (user + assistant) fed back to the model."
    )
    chat_history_tokens: int = Field(
        2000, ge=0, le=100_000, description="Token budget for the history fed back to the model."
    )
    chat_max_message_chars: int = Field(
        4000, ge=1, le=100_000, description="Longest accepted chat message, in characters."
    )

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
