-- PowerAuth applications: the key, secret and master key pair of each mobile app
-- (kept identical to sqlite/0002_applications.sql, column for column).
CREATE TABLE applications (
    id                 TEXT        PRIMARY KEY,
    name               TEXT        NOT NULL DEFAULT '',
    app_key            TEXT        NOT NULL,
    app_secret         TEXT        NOT NULL,
    master_private_key BYTEA,
    master_public_key  BYTEA,
    status             TEXT        NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    version            BIGINT      NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX applications_app_key_key ON applications (app_key);
