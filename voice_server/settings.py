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

    # --- accounts and auth (issue 5): add dashboard_api settings below this line ---
    jwt_secret: SecretStr | None = Field(
        None,
        description="HS256 secret signing user access tokens. Unset: one is generated once and "
        "kept in the database, so restarts and replicas keep sessions valid.",
    )
    access_token_ttl_s: int = Field(
        900, ge=30, le=86400, description="Lifetime of a user access token, in seconds."
    )
    session_ttl_s: int = Field(
        30 * 86400,
        ge=300,
        le=365 * 86400,
        description="How long a log-in (and its refresh tokens) lasts, in seconds.",
    )
    allow_localhost_origins: bool = Field(
        False,
        description="Development only: publishable keys also accept any http(s)://localhost, "
        "127.0.0.1 or [::1] Origin.",
    )
    key_last_used_interval_s: float = Field(
        60.0,
        ge=0,
        le=86400,
        description="A key's last_used_at is written at most once per this many seconds.",
    )

    public_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="Base URL browsers reach this server at, used in embed codes. Unset: the "
        "URL the dashboard request came in on.",
    )

    rate_limit_key_per_minute: int = Field(
        600, ge=0, description="Requests per minute per API key or user (0: no limit)."
    )
    rate_limit_ip_per_minute: int = Field(
        120, ge=0, description="Requests per minute per visitor IP on widget keys (0: no limit)."
    )
    rate_limit_tenant_per_minute: int = Field(
        3000, ge=0, description="Requests per minute per tenant, all credentials (0: no limit)."
    )
    rate_limit_auth_per_minute: int = Field(
        20, ge=0, description="Sign-up, log-in and refresh attempts per minute per IP."
    )
    trusted_proxies: str = Field(
        "",
        description="Comma-separated IPs/CIDRs of reverse proxies whose X-Forwarded-For is "
        "believed when finding a visitor's IP.",
    )
    redis_url: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("PARLEY_REDIS_URL", "REDIS_URL"),
        description="redis:// URL of a Redis shared by replicas for rate limits. Unset: "
        "in-memory limits per server.",
    )

    external_jwt_issuer: str | None = Field(
        None,
        description="`iss` of an external identity provider whose JWTs are accepted (e.g. "
        "https://<project>.supabase.co/auth/v1).",
    )
    external_jwt_audience: str = Field(
        "authenticated", description="`aud` required in external JWTs (Supabase: authenticated)."
    )
    external_jwt_secret: SecretStr | None = Field(
        None, description="HS256 shared secret of the external provider (Supabase JWT secret)."
    )
    external_jwks_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="JWKS URL of the external provider, for RS256/ES256 tokens.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        import ipaddress

        for part in value.split(","):
            if part.strip():
                try:
                    ipaddress.ip_network(part.strip(), strict=False)
                except ValueError:
                    raise ValueError(f"{part.strip()!r} is not an IP address or CIDR") from None
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _jwt_secret_length(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if len(value.get_secret_value().encode()) < 32:
            raise ValueError("must be at least 32 bytes (e.g. `openssl rand -hex 32`)")
        return value

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
