-- Push tokens of PowerAuth activations (mobile-token /api/push/device/register/token) and the user inbox
-- (mobile-token /api/inbox/*, messages the bank posts through POST /v1/users/{id}/inbox).
-- Kept identical to sqlite/0006_push_inbox.sql, column for column.
CREATE TABLE push_tokens (
    credential_id TEXT        PRIMARY KEY REFERENCES credentials (id),
    user_id       TEXT        NOT NULL REFERENCES users (id),
    platform      TEXT        NOT NULL,
    environment   TEXT        NOT NULL DEFAULT '',
    token         TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX push_tokens_user_id_idx ON push_tokens (user_id);

CREATE TABLE inbox_messages (
    id         TEXT        PRIMARY KEY,
    user_id    TEXT        NOT NULL REFERENCES users (id),
    type       TEXT        NOT NULL,
    subject    TEXT        NOT NULL,
    summary    TEXT        NOT NULL DEFAULT '',
    body       TEXT        NOT NULL DEFAULT '',
    read_at    TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX inbox_messages_user_id_idx ON inbox_messages (user_id, created_at);
CREATE INDEX inbox_messages_unread_idx ON inbox_messages (user_id) WHERE read_at IS NULL;
