"""The package's long-lived parts, built once in the lifespan and injected with ``Provide``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from litestar import Litestar

from dashboard_api.client_ip import TrustedProxies, parse_networks
from dashboard_api.external_identity import ExternalTokens
from dashboard_api.key_usage import KeyUsage
from dashboard_api.passwords import Passwords
from dashboard_api.ratelimit import MemoryStore, RateLimiter, RateLimitStore, Rule
from dashboard_api.repositories import signing_secrets
from dashboard_api.session_tokens import VisitorSessions, VoiceTokens
from dashboard_api.signup import SignupInvites
from dashboard_api.tokens import AccessTokens
from voice_server.db.types import Connection
from voice_server.plugin import Lifespan
from voice_server.runtime import DATABASE, Slot, runtime_of
from voice_server.settings import Settings, SettingsError

_log = logging.getLogger("parley.dashboard")
DASHBOARD: Slot[DashboardServices] = Slot("dashboard")


@dataclass
class DashboardServices:
    passwords: Passwords
    tokens: AccessTokens
    key_usage: KeyUsage
    session_ttl_s: int = 30 * 86400
    allow_localhost_origins: bool = False
    public_url: str | None = None
    limiter: RateLimiter = field(default_factory=lambda: RateLimiter(MemoryStore(), {}))
    trusted_proxies: TrustedProxies = field(default_factory=TrustedProxies)
    external: ExternalTokens | None = None
    voice_tokens: VoiceTokens = field(default_factory=VoiceTokens)
    visitor_sessions: VisitorSessions = field(default_factory=lambda: VisitorSessions(0))
    visitor_voice_seconds_per_hour: int = 0
    signup: str = "open"
    signup_invites: SignupInvites = field(default_factory=lambda: SignupInvites(b""))


def rate_limit_rules(settings: Settings) -> dict[str, Rule]:
    return {
        "key": Rule("key", settings.rate_limit_key_per_minute, 60),
        "ip": Rule("ip", settings.rate_limit_ip_per_minute, 60),
        "tenant": Rule("tenant", settings.rate_limit_tenant_per_minute, 60),
        "auth": Rule("auth", settings.rate_limit_auth_per_minute, 60),
        # Voice session starts: counted apart from requests, since each one starts paid work.
        "voice_ip": Rule("voice_ip", settings.voice_starts_ip_per_minute, 60),
        "voice_key": Rule("voice_key", settings.voice_starts_key_per_minute, 60),
        "voice_tenant": Rule("voice_tenant", settings.voice_starts_tenant_per_minute, 60),
        "visitor_messages": Rule("visitor_messages", settings.visitor_messages_per_hour, 3600),
    }


def rate_limit_store(settings: Settings) -> RateLimitStore:
    if settings.redis_url is None:
        return MemoryStore()
    from dashboard_api.ratelimit_redis import RedisStore

    return RedisStore(settings.redis_url.get_secret_value())


def external_tokens(settings: Settings) -> ExternalTokens | None:
    secret = settings.external_jwt_secret
    if secret is None and settings.external_jwks_url is None:
        return None
    if not settings.external_jwt_issuer:
        raise SettingsError(
            "invalid settings:\n  PARLEY_EXTERNAL_JWT_ISSUER: required with an external JWT "
            "secret or JWKS URL"
        )
    return ExternalTokens(
        issuer=settings.external_jwt_issuer,
        audience=settings.external_jwt_audience,
        hs256_secret=secret.get_secret_value().encode() if secret else None,
        jwks_url=settings.external_jwks_url,
    )


def build_services(
    secret: bytes,
    *,
    access_token_ttl_s: int = 900,
    access_token_leeway_s: int = 30,
    session_ttl_s: int = 30 * 86400,
    key_last_used_interval_s: float = 60.0,
    allow_localhost_origins: bool = False,
    public_url: str | None = None,
    passwords: Passwords | None = None,
    limiter: RateLimiter | None = None,
    trusted_proxies: TrustedProxies | None = None,
    external: ExternalTokens | None = None,
    voice_tokens: VoiceTokens | None = None,
    visitor_sessions: VisitorSessions | None = None,
    visitor_voice_seconds_per_hour: int = 0,
    signup: str = "open",
) -> DashboardServices:
    return DashboardServices(
        passwords=passwords or Passwords(),
        tokens=AccessTokens(secret, ttl_s=access_token_ttl_s, leeway_s=access_token_leeway_s),
        key_usage=KeyUsage(key_last_used_interval_s),
        session_ttl_s=session_ttl_s,
        allow_localhost_origins=allow_localhost_origins,
        public_url=public_url,
        limiter=limiter or RateLimiter(MemoryStore(), {}),
        trusted_proxies=trusted_proxies or TrustedProxies(),
        external=external,
        voice_tokens=voice_tokens or VoiceTokens(),
        visitor_sessions=visitor_sessions or VisitorSessions(0),
        visitor_voice_seconds_per_hour=visitor_voice_seconds_per_hour,
        signup=signup,
        signup_invites=SignupInvites(secret),
    )


async def signing_secret(settings: Settings, conn: Connection) -> bytes:
    """PARLEY_JWT_SECRET, or the generated one kept in the database (created on first start)."""
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value().encode()
    secret, created = await signing_secrets.get_or_create(conn)
    if created:
        _log.info(
            "generated a token-signing secret and stored it in the database; "
            "set PARLEY_JWT_SECRET to manage it yourself"
        )
    return secret


def lifespan(settings: Settings) -> Lifespan:
    @asynccontextmanager
    async def dashboard_lifespan(app: Litestar) -> AsyncIterator[None]:
        runtime = runtime_of(app)
        async with runtime.get(DATABASE).pool.acquire() as conn:
            secret = await signing_secret(settings, conn)
        limiter = RateLimiter(rate_limit_store(settings), rate_limit_rules(settings))
        services = build_services(
            secret,
            access_token_ttl_s=settings.access_token_ttl_s,
            access_token_leeway_s=settings.access_token_leeway_s,
            session_ttl_s=settings.session_ttl_s,
            key_last_used_interval_s=settings.key_last_used_interval_s,
            allow_localhost_origins=settings.allow_localhost_origins,
            public_url=settings.public_url,
            limiter=limiter,
            trusted_proxies=parse_networks(settings.trusted_proxies),
            external=external_tokens(settings),
            voice_tokens=VoiceTokens(settings.voice_token_ttl_s),
            visitor_sessions=VisitorSessions(settings.voice_sessions_per_visitor),
            visitor_voice_seconds_per_hour=settings.visitor_voice_seconds_per_hour,
            signup=settings.signup,
        )
        try:
            with runtime.holding(DASHBOARD, services):
                yield
        finally:
            await limiter.store.close()

    return dashboard_lifespan
