-- Analytics and the conversation browser. `answered` is set by the chat/voice writer from the
-- brain's ReplyDone.answered (NULL: not recorded; analytics then treat a reply without
-- citations as unanswered).
ALTER TABLE messages ADD COLUMN answered boolean;
CREATE INDEX turns_tenant_created_idx ON turns (tenant_id, created_at);
CREATE INDEX messages_tenant_role_created_idx ON messages (tenant_id, role, created_at);
CREATE INDEX conversations_tenant_started_id_idx ON conversations (tenant_id, started_at DESC, id DESC);
