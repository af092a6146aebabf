-- PowerAuth applications: the key, secret and master key pair of each mobile app
-- (kept identical to postgres/0002_applications.sql, column for column).
CREATE TABLE applications (
    id                 TEXT    PRIMARY KEY,
    name               TEXT    NOT NULL DEFAULT '',
    app_key            TEXT    NOT NULL,
    app_secret         TEXT    NOT NULL,
    master_private_key BLOB,
    master_public_key  BLOB,
    status             TEXT    NOT NULL,
    created_at         TEXT    NOT NULL,
    version            INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX applications_app_key_key ON applications (app_key);
