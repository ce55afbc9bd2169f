-- Parley's first schema. Every row belongs to a tenant; child tables reference their parent by
-- (tenant_id, id), so a row can never point at another tenant's parent even if a query forgets
-- to scope. Later issues add columns and tables in new numbered migrations.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE tenants (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    plan        text NOT NULL DEFAULT 'free',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email            text NOT NULL CHECK (email = lower(email) AND position('@' IN email) > 1),
    display_name     text,
    password_hash    text,                      -- argon2id; NULL for external-identity users
    role             text NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member')),
    external_issuer  text,
    external_subject text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_login_at    timestamptz,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, email),
    UNIQUE (external_issuer, external_subject)
);

CREATE TABLE bots (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    system_prompt  text NOT NULL DEFAULT '',
    greeting       text NOT NULL DEFAULT '',
    language       text NOT NULL DEFAULT 'en',
    -- llm, voice, turn-taking, knowledge scope and widget appearance, validated by the API layer
    config         jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id)
);
CREATE INDEX bots_tenant_idx ON bots (tenant_id, created_at DESC);

CREATE TABLE api_keys (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind             text NOT NULL CHECK (kind IN ('secret', 'publishable')),
    name             text NOT NULL DEFAULT '',
    prefix           text NOT NULL UNIQUE,        -- shown to owners, used to find the key
    key_hash         bytea NOT NULL,              -- only the hash is kept; the key is shown once
    scopes           text[] NOT NULL DEFAULT '{}',
    bot_id           uuid,                        -- publishable keys are bound to one bot
    allowed_origins  text[] NOT NULL DEFAULT '{}',
    created_by       uuid,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_used_at     timestamptz,
    revoked_at       timestamptz,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, bot_id) REFERENCES bots (tenant_id, id) ON DELETE CASCADE,
    CHECK (kind = 'secret' OR bot_id IS NOT NULL)
);

CREATE TABLE documents (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    bot_id        uuid,                           -- NULL: shared by every bot of the tenant
    source_kind   text NOT NULL CHECK (source_kind IN ('upload', 'url', 'drive', 'text')),
    source_uri    text,
    title         text NOT NULL DEFAULT '',
    mime_type     text,
    content_hash  bytea,
    size_bytes    bigint NOT NULL DEFAULT 0 CHECK (size_bytes >= 0),
    page_count    integer,
    status        text NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'processing', 'ready', 'failed')),
    error         text,
    metadata      jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, bot_id) REFERENCES bots (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX documents_tenant_idx ON documents (tenant_id, created_at DESC);
CREATE INDEX documents_status_idx ON documents (status) WHERE status IN ('queued', 'processing');
CREATE INDEX documents_hash_idx ON documents (tenant_id, content_hash);

-- Embeddings of any model share one untyped `vector` column; model and dimension are recorded
-- per row. HNSW needs a fixed dimension, so each common dimension has a partial expression
-- index; a query uses it with `embedding::vector(N) <=> $1 ... WHERE embedding_dim = N`.
CREATE TABLE chunks (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        uuid NOT NULL,
    document_id      uuid NOT NULL,
    ordinal          integer NOT NULL CHECK (ordinal >= 0),
    content          text NOT NULL,
    token_count      integer NOT NULL DEFAULT 0,
    metadata         jsonb NOT NULL DEFAULT '{}'::jsonb,  -- title, page, heading path, url
    ts_config        regconfig NOT NULL DEFAULT 'english',
    tsv              tsvector GENERATED ALWAYS AS (to_tsvector(ts_config, content)) STORED,
    embedding        vector,
    embedding_model  text,
    embedding_dim    integer GENERATED ALWAYS AS (vector_dims(embedding)) STORED,
    created_at       timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, document_id) REFERENCES documents (tenant_id, id) ON DELETE CASCADE,
    UNIQUE (document_id, ordinal)
);
CREATE INDEX chunks_tenant_doc_idx ON chunks (tenant_id, document_id);
CREATE INDEX chunks_tsv_idx ON chunks USING gin (tsv);
CREATE INDEX chunks_hnsw_384_idx ON chunks
    USING hnsw ((embedding::vector(384)) vector_cosine_ops) WHERE embedding_dim = 384;
CREATE INDEX chunks_hnsw_768_idx ON chunks
    USING hnsw ((embedding::vector(768)) vector_cosine_ops) WHERE embedding_dim = 768;
CREATE INDEX chunks_hnsw_1024_idx ON chunks
    USING hnsw ((embedding::vector(1024)) vector_cosine_ops) WHERE embedding_dim = 1024;
CREATE INDEX chunks_hnsw_1536_idx ON chunks
    USING hnsw ((embedding::vector(1536)) vector_cosine_ops) WHERE embedding_dim = 1536;

CREATE TABLE conversations (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id    uuid NOT NULL,
    bot_id       uuid NOT NULL,
    channel      text NOT NULL CHECK (channel IN ('text', 'voice')),
    visitor_id   text,
    title        text,
    metadata     jsonb NOT NULL DEFAULT '{}'::jsonb,
    started_at   timestamptz NOT NULL DEFAULT now(),
    ended_at     timestamptz,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, bot_id) REFERENCES bots (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX conversations_tenant_idx ON conversations (tenant_id, started_at DESC);
CREATE INDEX conversations_bot_idx ON conversations (tenant_id, bot_id, started_at DESC);

CREATE TABLE messages (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        uuid NOT NULL,
    conversation_id  uuid NOT NULL,
    role             text NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    content          text NOT NULL,
    interrupted      boolean NOT NULL DEFAULT false,
    citations        jsonb NOT NULL DEFAULT '[]'::jsonb,
    tokens_in        integer,
    tokens_out       integer,
    feedback         smallint CHECK (feedback IN (-1, 1)),
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, conversation_id)
        REFERENCES conversations (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX messages_conversation_idx ON messages (conversation_id, created_at);
CREATE INDEX messages_tenant_idx ON messages (tenant_id, created_at DESC);

CREATE TABLE voice_sessions (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id           uuid NOT NULL,
    bot_id              uuid NOT NULL,
    conversation_id     uuid NOT NULL,
    transport           text NOT NULL CHECK (transport IN ('websocket', 'webrtc', 'rest')),
    input_sample_rate   integer,
    output_sample_rate  integer,
    audio_in_seconds    double precision NOT NULL DEFAULT 0,
    audio_out_seconds   double precision NOT NULL DEFAULT 0,
    started_at          timestamptz NOT NULL DEFAULT now(),
    ended_at            timestamptz,
    end_reason          text,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, bot_id) REFERENCES bots (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, conversation_id)
        REFERENCES conversations (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX voice_sessions_tenant_idx ON voice_sessions (tenant_id, started_at DESC);

-- One row per user turn of a voice session, with its latency waterfall in milliseconds measured
-- from the end of the user's speech.
CREATE TABLE turns (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id             uuid NOT NULL,
    voice_session_id      uuid NOT NULL,
    ordinal               integer NOT NULL CHECK (ordinal >= 0),
    user_message_id       uuid,
    assistant_message_id  uuid,
    speech_started_at     timestamptz,
    speech_ended_at       timestamptz,
    stt_final_ms          double precision,
    llm_first_token_ms    double precision,
    first_clause_ms       double precision,
    tts_first_byte_ms     double precision,
    first_audio_ms        double precision,
    total_ms              double precision,
    interrupted           boolean NOT NULL DEFAULT false,
    created_at            timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    UNIQUE (voice_session_id, ordinal),
    FOREIGN KEY (tenant_id, voice_session_id)
        REFERENCES voice_sessions (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_message_id) REFERENCES messages (tenant_id, id) ON DELETE SET NULL (user_message_id),
    FOREIGN KEY (tenant_id, assistant_message_id) REFERENCES messages (tenant_id, id) ON DELETE SET NULL (assistant_message_id)
);

-- The local usage ledger: the source of truth for quota enforcement, and the outbox from which
-- metered usage is reported to Stripe (reported_at stays NULL until Stripe acknowledged it).
CREATE TABLE usage_events (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind             text NOT NULL CHECK (kind IN ('message', 'voice_seconds', 'storage_bytes', 'document')),
    quantity         numeric NOT NULL CHECK (quantity >= 0),
    idempotency_key  text NOT NULL,
    bot_id           uuid,
    occurred_at      timestamptz NOT NULL DEFAULT now(),
    reported_at      timestamptz,
    report_attempts  integer NOT NULL DEFAULT 0,
    UNIQUE (tenant_id, idempotency_key)
);
CREATE INDEX usage_events_period_idx ON usage_events (tenant_id, kind, occurred_at);
CREATE INDEX usage_events_outbox_idx ON usage_events (id) WHERE reported_at IS NULL;

CREATE TABLE subscriptions (
    tenant_id               uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    plan                    text NOT NULL,
    status                  text NOT NULL,
    stripe_customer_id      text UNIQUE,
    stripe_subscription_id  text UNIQUE,
    current_period_start    timestamptz,
    current_period_end      timestamptz,
    cancel_at_period_end    boolean NOT NULL DEFAULT false,
    grace_until             timestamptz,
    -- `created` of the newest Stripe event applied, so that older events never regress the row
    last_event_created      bigint,
    updated_at              timestamptz NOT NULL DEFAULT now()
);

-- Every Stripe webhook event, written before it is acknowledged; the primary key makes replays
-- no-ops.
CREATE TABLE stripe_events (
    id            text PRIMARY KEY,
    type          text NOT NULL,
    created       bigint NOT NULL,
    tenant_id     uuid REFERENCES tenants (id) ON DELETE SET NULL,
    payload       jsonb NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    processed_at  timestamptz,
    error         text
);
