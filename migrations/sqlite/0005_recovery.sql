-- PowerAuth activation recovery (Activation-via-Recovery-Code.md, Recovery-Postcard.md), kept identical to
-- postgres/0005_recovery.sql column for column.
-- Per application: whether activations get a recovery code and PUK, and the postcard keys (the server's
-- postcard key pair, its private key sealed under the KEK, and the printing service's public key).
ALTER TABLE applications ADD COLUMN recovery_enabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE applications ADD COLUMN postcard_private_key BLOB;
ALTER TABLE applications ADD COLUMN postcard_public_key BLOB;
ALTER TABLE applications ADD COLUMN printer_public_key BLOB;
-- Recovery codes: lookup_key is SHA-256 of the code (the code itself is not stored); puks is the public
-- state of each PUK (index, status); secret holds the PUKs' Argon2id hashes, sealed under the KEK.
CREATE TABLE recovery_codes (
    id                  TEXT    PRIMARY KEY,
    application_id      TEXT    NOT NULL REFERENCES applications (id),
    user_id             TEXT    NOT NULL,
    activation_id       TEXT    NOT NULL DEFAULT '',
    lookup_key          TEXT    NOT NULL,
    code_masked         TEXT    NOT NULL,
    status              TEXT    NOT NULL,
    failed_attempts     INTEGER NOT NULL DEFAULT 0,
    max_failed_attempts INTEGER NOT NULL,
    puks                BLOB,
    secret              BLOB,
    created_at          TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL,
    version             INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX recovery_codes_lookup_key ON recovery_codes (application_id, lookup_key);
CREATE INDEX recovery_codes_user_id ON recovery_codes (user_id);
CREATE INDEX recovery_codes_activation_id ON recovery_codes (activation_id);
