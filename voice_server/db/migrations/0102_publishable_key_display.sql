-- Publishable widget keys are public by design (they end up in page source; the Origin check
-- protects them), so the embed-code endpoint may show them again. Secret keys stay hash-only.
ALTER TABLE api_keys ADD COLUMN display_key text;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_display_key_publishable
    CHECK (display_key IS NULL OR kind = 'publishable');
CREATE INDEX api_keys_bot_idx ON api_keys (tenant_id, bot_id) WHERE bot_id IS NOT NULL;
