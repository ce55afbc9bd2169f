-- Resuming a voice conversation after a network blip (docs/voice-protocol.md, "Resuming").
-- Each session hands its caller a random resume secret; only its SHA-256 is kept. A later
-- session.start may continue the conversation by presenting the secret of any earlier session
-- of it, so one visitor can never continue another's conversation by guessing its id.
ALTER TABLE voice_sessions ADD COLUMN resume_hash bytea;
CREATE INDEX voice_sessions_resume_idx ON voice_sessions (conversation_id)
    WHERE resume_hash IS NOT NULL;
