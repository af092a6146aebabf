-- Signet schema, PostgreSQL dialect.
--
-- Conventions (kept identical to sqlite/0001_init.sql, column for column):
--   * ids are caller-assigned strings (UUIDs, RFC 7638 thumbprints);
--   * times are TIMESTAMPTZ, written as UTC with microsecond precision;
--   * byte strings are BYTEA, NULL when empty;
--   * every mutable row carries a version for compare-and-swap updates.
-- Objects are created unqualified, in the first schema of search_path.

CREATE TABLE users (
    id                TEXT        PRIMARY KEY,
    external_id       TEXT        NOT NULL,
    display_name      TEXT        NOT NULL DEFAULT '',
    webauthn_id       BYTEA,
    passcode_verifier BYTEA,
    passcode_failed   INTEGER     NOT NULL DEFAULT 0,
    passcode_locked   BOOLEAN     NOT NULL DEFAULT FALSE,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    version           BIGINT      NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX users_external_id_key ON users (external_id) WHERE external_id <> '';

-- All credential kinds (passkey, powerauth, device_key) share one table and one lifecycle.
CREATE TABLE credentials (
    id                  TEXT        PRIMARY KEY,
    user_id             TEXT        NOT NULL REFERENCES users (id),
    kind                TEXT        NOT NULL,
    status              TEXT        NOT NULL,
    block_reason        TEXT        NOT NULL DEFAULT '',
    failed_attempts     INTEGER     NOT NULL DEFAULT 0,
    max_failed_attempts INTEGER     NOT NULL DEFAULT 0,
    label               TEXT        NOT NULL DEFAULT '',
    lookup_key          TEXT        NOT NULL DEFAULT '',
    public_key          BYTEA,
    counter             BIGINT      NOT NULL DEFAULT 0,
    device              BYTEA,
    data                BYTEA,
    secret              BYTEA,
    created_at          TIMESTAMPTZ NOT NULL,
    activated_at        TIMESTAMPTZ,
    last_used_at        TIMESTAMPTZ,
    removed_at          TIMESTAMPTZ,
    expires_at          TIMESTAMPTZ,
    version             BIGINT      NOT NULL DEFAULT 1
);
CREATE INDEX credentials_user_id_idx ON credentials (user_id, created_at);
CREATE UNIQUE INDEX credentials_kind_lookup_key_key ON credentials (kind, lookup_key) WHERE lookup_key <> '';

CREATE TABLE operations (
    id                     TEXT        PRIMARY KEY,
    user_id                TEXT        NOT NULL REFERENCES users (id),
    type                   TEXT        NOT NULL,
    payee_account          TEXT        NOT NULL DEFAULT '',
    payee_name             TEXT        NOT NULL DEFAULT '',
    amount                 TEXT        NOT NULL DEFAULT '',
    currency               TEXT        NOT NULL DEFAULT '',
    text                   TEXT        NOT NULL DEFAULT '',
    nonce                  TEXT        NOT NULL DEFAULT '',
    dl                     BYTEA,
    status                 TEXT        NOT NULL,
    factors                TEXT        NOT NULL DEFAULT '',
    callback_url           TEXT        NOT NULL DEFAULT '',
    idempotency_key        TEXT        NOT NULL DEFAULT '',
    failed_attempts        INTEGER     NOT NULL DEFAULT 0,
    max_failed_attempts    INTEGER     NOT NULL DEFAULT 0,
    data                   BYTEA,
    approved_credential_id TEXT        NOT NULL DEFAULT '',
    approved_at            TIMESTAMPTZ,
    token_jti              TEXT        NOT NULL DEFAULT '',
    token                  TEXT        NOT NULL DEFAULT '',
    token_expires_at       TIMESTAMPTZ,
    expires_at             TIMESTAMPTZ NOT NULL,
    created_at             TIMESTAMPTZ NOT NULL,
    updated_at             TIMESTAMPTZ NOT NULL,
    version                BIGINT      NOT NULL DEFAULT 1
);
CREATE INDEX operations_user_id_idx ON operations (user_id, created_at);
CREATE INDEX operations_status_expires_at_idx ON operations (status, expires_at);
CREATE INDEX operations_expires_at_idx ON operations (expires_at);
CREATE UNIQUE INDEX operations_idempotency_key_key ON operations (idempotency_key) WHERE idempotency_key <> '';

-- Append-only: seq orders events; the trigger below refuses UPDATE, DELETE and TRUNCATE.
CREATE TABLE audit_events (
    seq           BIGSERIAL   PRIMARY KEY,
    id            TEXT        NOT NULL UNIQUE,
    time          TIMESTAMPTZ NOT NULL,
    type          TEXT        NOT NULL,
    outcome       TEXT        NOT NULL DEFAULT '',
    reason        TEXT        NOT NULL DEFAULT '',
    actor         TEXT        NOT NULL DEFAULT '',
    user_id       TEXT        NOT NULL DEFAULT '',
    operation_id  TEXT        NOT NULL DEFAULT '',
    credential_id TEXT        NOT NULL DEFAULT '',
    evidence      BYTEA
);
CREATE INDEX audit_events_user_id_idx ON audit_events (user_id, seq) WHERE user_id <> '';
CREATE INDEX audit_events_operation_id_idx ON audit_events (operation_id, seq) WHERE operation_id <> '';
CREATE INDEX audit_events_credential_id_idx ON audit_events (credential_id, seq) WHERE credential_id <> '';
CREATE INDEX audit_events_time_idx ON audit_events (time);

CREATE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

CREATE TABLE signing_keys (
    id            TEXT        PRIMARY KEY,
    state         TEXT        NOT NULL,
    algorithm     TEXT        NOT NULL,
    public_key    BYTEA,
    private_key   BYTEA,
    created_at    TIMESTAMPTZ NOT NULL,
    activated_at  TIMESTAMPTZ,
    retired_at    TIMESTAMPTZ,
    publish_until TIMESTAMPTZ,
    version       BIGINT      NOT NULL DEFAULT 1
);

CREATE TABLE ceremonies (
    id           TEXT        PRIMARY KEY,
    kind         TEXT        NOT NULL,
    lookup_key   TEXT        NOT NULL DEFAULT '',
    user_id      TEXT        NOT NULL DEFAULT '',
    operation_id TEXT        NOT NULL DEFAULT '',
    data         BYTEA,
    attempts     INTEGER     NOT NULL DEFAULT 0,
    expires_at   TIMESTAMPTZ NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    consumed_at  TIMESTAMPTZ,
    version      BIGINT      NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX ceremonies_kind_lookup_key_key ON ceremonies (kind, lookup_key) WHERE lookup_key <> '';
CREATE INDEX ceremonies_expires_at_idx ON ceremonies (expires_at);

CREATE TABLE outbox_events (
    id              TEXT        PRIMARY KEY,
    endpoint        TEXT        NOT NULL,
    type            TEXT        NOT NULL,
    payload         BYTEA,
    attempts        INTEGER     NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    delivered_at    TIMESTAMPTZ,
    last_error      TEXT        NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    version         BIGINT      NOT NULL DEFAULT 1
);
CREATE INDEX outbox_events_due_idx ON outbox_events (next_attempt_at) WHERE delivered_at IS NULL;
