-- Signet schema, SQLite dialect.
--
-- Conventions (kept identical to postgres/0001_init.sql, column for column):
--   * ids are caller-assigned strings (UUIDs, RFC 7638 thumbprints);
--   * times are UTC with microsecond precision, stored as fixed-width ISO 8601
--     TEXT ("2006-01-02T15:04:05.000000Z") so that text order is time order;
--   * byte strings are BLOB, NULL when empty;
--   * every mutable row carries a version for compare-and-swap updates.

CREATE TABLE users (
    id                TEXT    PRIMARY KEY,
    external_id       TEXT    NOT NULL,
    display_name      TEXT    NOT NULL DEFAULT '',
    webauthn_id       BLOB,
    passcode_verifier BLOB,
    passcode_failed   INTEGER NOT NULL DEFAULT 0,
    passcode_locked   INTEGER NOT NULL DEFAULT 0,
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL,
    version           INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX users_external_id_key ON users (external_id) WHERE external_id <> '';

-- All credential kinds (passkey, powerauth, device_key) share one table and one lifecycle.
CREATE TABLE credentials (
    id                  TEXT    PRIMARY KEY,
    user_id             TEXT    NOT NULL REFERENCES users (id),
    kind                TEXT    NOT NULL,
    status              TEXT    NOT NULL,
    block_reason        TEXT    NOT NULL DEFAULT '',
    failed_attempts     INTEGER NOT NULL DEFAULT 0,
    max_failed_attempts INTEGER NOT NULL DEFAULT 0,
    label               TEXT    NOT NULL DEFAULT '',
    lookup_key          TEXT    NOT NULL DEFAULT '',
    public_key          BLOB,
    counter             INTEGER NOT NULL DEFAULT 0,
    device              BLOB,
    data                BLOB,
    secret              BLOB,
    created_at          TEXT    NOT NULL,
    activated_at        TEXT,
    last_used_at        TEXT,
    removed_at          TEXT,
    expires_at          TEXT,
    version             INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX credentials_user_id_idx ON credentials (user_id, created_at);
CREATE UNIQUE INDEX credentials_kind_lookup_key_key ON credentials (kind, lookup_key) WHERE lookup_key <> '';

CREATE TABLE operations (
    id                     TEXT    PRIMARY KEY,
    user_id                TEXT    NOT NULL REFERENCES users (id),
    type                   TEXT    NOT NULL,
    payee_account          TEXT    NOT NULL DEFAULT '',
    payee_name             TEXT    NOT NULL DEFAULT '',
    amount                 TEXT    NOT NULL DEFAULT '',
    currency               TEXT    NOT NULL DEFAULT '',
    text                   TEXT    NOT NULL DEFAULT '',
    nonce                  TEXT    NOT NULL DEFAULT '',
    dl                     BLOB,
    status                 TEXT    NOT NULL,
    factors                TEXT    NOT NULL DEFAULT '',
    callback_url           TEXT    NOT NULL DEFAULT '',
    idempotency_key        TEXT    NOT NULL DEFAULT '',
    failed_attempts        INTEGER NOT NULL DEFAULT 0,
    max_failed_attempts    INTEGER NOT NULL DEFAULT 0,
    data                   BLOB,
    approved_credential_id TEXT    NOT NULL DEFAULT '',
    approved_at            TEXT,
    token_jti              TEXT    NOT NULL DEFAULT '',
    token                  TEXT    NOT NULL DEFAULT '',
    token_expires_at       TEXT,
    expires_at             TEXT    NOT NULL,
    created_at             TEXT    NOT NULL,
    updated_at             TEXT    NOT NULL,
    version                INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX operations_user_id_idx ON operations (user_id, created_at);
CREATE INDEX operations_status_expires_at_idx ON operations (status, expires_at);
CREATE INDEX operations_expires_at_idx ON operations (expires_at);
CREATE UNIQUE INDEX operations_idempotency_key_key ON operations (idempotency_key) WHERE idempotency_key <> '';

-- Append-only: seq orders events; the triggers below refuse UPDATE and DELETE.
CREATE TABLE audit_events (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT    NOT NULL UNIQUE,
    time          TEXT    NOT NULL,
    type          TEXT    NOT NULL,
    outcome       TEXT    NOT NULL DEFAULT '',
    reason        TEXT    NOT NULL DEFAULT '',
    actor         TEXT    NOT NULL DEFAULT '',
    user_id       TEXT    NOT NULL DEFAULT '',
    operation_id  TEXT    NOT NULL DEFAULT '',
    credential_id TEXT    NOT NULL DEFAULT '',
    evidence      BLOB
);
CREATE INDEX audit_events_user_id_idx ON audit_events (user_id, seq) WHERE user_id <> '';
CREATE INDEX audit_events_operation_id_idx ON audit_events (operation_id, seq) WHERE operation_id <> '';
CREATE INDEX audit_events_credential_id_idx ON audit_events (credential_id, seq) WHERE credential_id <> '';
CREATE INDEX audit_events_time_idx ON audit_events (time);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE TABLE signing_keys (
    id            TEXT    PRIMARY KEY,
    state         TEXT    NOT NULL,
    algorithm     TEXT    NOT NULL,
    public_key    BLOB,
    private_key   BLOB,
    created_at    TEXT    NOT NULL,
    activated_at  TEXT,
    retired_at    TEXT,
    publish_until TEXT,
    version       INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE ceremonies (
    id           TEXT    PRIMARY KEY,
    kind         TEXT    NOT NULL,
    lookup_key   TEXT    NOT NULL DEFAULT '',
    user_id      TEXT    NOT NULL DEFAULT '',
    operation_id TEXT    NOT NULL DEFAULT '',
    data         BLOB,
    attempts     INTEGER NOT NULL DEFAULT 0,
    expires_at   TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    consumed_at  TEXT,
    version      INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX ceremonies_kind_lookup_key_key ON ceremonies (kind, lookup_key) WHERE lookup_key <> '';
CREATE INDEX ceremonies_expires_at_idx ON ceremonies (expires_at);

CREATE TABLE outbox_events (
    id              TEXT    PRIMARY KEY,
    endpoint        TEXT    NOT NULL,
    type            TEXT    NOT NULL,
    payload         BLOB,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT    NOT NULL,
    delivered_at    TEXT,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      TEXT    NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX outbox_events_due_idx ON outbox_events (next_attempt_at) WHERE delivered_at IS NULL;
