-- Audit retention (docs/audit.md): audit_events becomes range-partitioned by month on "time", so that
-- months beyond SIGNET_AUDIT_RETENTION can be DETACHED (kept as plain tables, never dropped by Signet)
-- and archived, while appends and the audit API only ever touch the attached months.
--
-- No row is copied: the existing table becomes the partition audit_events_legacy, holding every time
-- before the first month boundary after its newest row (and after now), and new monthly partitions
-- follow it. Attaching scans the old table once to check the bound and builds one index on
-- (seq, time); the table is locked meanwhile, so appends (and approvals) wait for this migration.
--
-- A partitioned table's primary key must contain the partition key: it is (seq, time). seq keeps its
-- sequence and stays the order the audit API pages by. id is no longer unique across the table
-- (a unique index on a partitioned table must contain the partition key); a trigger keeps it unique
-- among the attached partitions through the index on id, so an event id is still never reused.
ALTER TABLE audit_events RENAME TO audit_events_legacy;
ALTER SEQUENCE audit_events_seq_seq OWNED BY NONE;
-- Its row trigger is cloned from the parent on ATTACH (same name); its TRUNCATE trigger stays its own.
DROP TRIGGER audit_events_no_update_delete ON audit_events_legacy;
ALTER TRIGGER audit_events_no_truncate ON audit_events_legacy RENAME TO audit_events_legacy_no_truncate;
ALTER INDEX audit_events_user_id_idx RENAME TO audit_events_legacy_user_id_idx;
ALTER INDEX audit_events_operation_id_idx RENAME TO audit_events_legacy_operation_id_idx;
ALTER INDEX audit_events_credential_id_idx RENAME TO audit_events_legacy_credential_id_idx;
ALTER INDEX audit_events_time_idx RENAME TO audit_events_legacy_time_idx;
-- The partition's primary key must match the parent's (seq, time).
ALTER TABLE audit_events_legacy DROP CONSTRAINT audit_events_pkey;
ALTER TABLE audit_events_legacy ADD CONSTRAINT audit_events_legacy_pkey PRIMARY KEY (seq, time);

CREATE TABLE audit_events (
    seq           BIGINT      NOT NULL DEFAULT nextval('audit_events_seq_seq'),
    id            TEXT        NOT NULL,
    time          TIMESTAMPTZ NOT NULL,
    type          TEXT        NOT NULL,
    outcome       TEXT        NOT NULL DEFAULT '',
    reason        TEXT        NOT NULL DEFAULT '',
    actor         TEXT        NOT NULL DEFAULT '',
    user_id       TEXT        NOT NULL DEFAULT '',
    operation_id  TEXT        NOT NULL DEFAULT '',
    credential_id TEXT        NOT NULL DEFAULT '',
    evidence      BYTEA,
    PRIMARY KEY (seq, time)
) PARTITION BY RANGE (time);
ALTER SEQUENCE audit_events_seq_seq OWNED BY audit_events.seq;
CREATE INDEX audit_events_user_id_idx ON audit_events (user_id, seq) WHERE user_id <> '';
CREATE INDEX audit_events_operation_id_idx ON audit_events (operation_id, seq) WHERE operation_id <> '';
CREATE INDEX audit_events_credential_id_idx ON audit_events (credential_id, seq) WHERE credential_id <> '';
CREATE INDEX audit_events_time_idx ON audit_events (time);
CREATE INDEX audit_events_id_idx ON audit_events (id);

CREATE FUNCTION audit_events_unique_id() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM audit_events WHERE id = NEW.id) THEN
        RAISE EXCEPTION 'duplicate audit event id' USING ERRCODE = 'unique_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER audit_events_unique_id BEFORE INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_unique_id();

-- Append-only on the parent (cloned to every partition) ...
CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- ... and on each partition itself, so that a partition stays append-only once DETACHED (cloned
-- triggers leave with the partition's attachment) and cannot be truncated directly.
CREATE FUNCTION signet_audit_partition(name TEXT, lower_bound TIMESTAMPTZ, upper_bound TIMESTAMPTZ) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF lower_bound IS NULL AND upper_bound IS NULL THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF audit_events DEFAULT', name);
    ELSIF lower_bound IS NULL THEN
        EXECUTE format('ALTER TABLE audit_events ATTACH PARTITION %I FOR VALUES FROM (MINVALUE) TO (%L)', name, upper_bound);
    ELSE
        EXECUTE format('CREATE TABLE %I PARTITION OF audit_events FOR VALUES FROM (%L) TO (%L)', name, lower_bound, upper_bound);
    END IF;
    EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()',
        name || '_append_only', name);
    IF lower_bound IS NOT NULL OR upper_bound IS NULL THEN
        EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()',
            name || '_no_truncate', name);
    END IF;
END;
$$;

DO $$
DECLARE
    boundary TIMESTAMPTZ;
    m        TIMESTAMPTZ;
BEGIN
    SET LOCAL TimeZone = 'UTC';
    SELECT date_trunc('month', greatest(coalesce(max(time), now()), now())) + interval '1 month'
        INTO boundary FROM audit_events_legacy;
    PERFORM signet_audit_partition('audit_events_legacy', NULL, boundary);
    -- Three months ahead; the maintenance job keeps it so (store.MaintainAudit).
    FOR i IN 0..2 LOOP
        m := boundary + make_interval(months => i);
        PERFORM signet_audit_partition('audit_events_p' || to_char(m, 'YYYYMM'), m, m + interval '1 month');
    END LOOP;
    -- Events dated outside every monthly partition (a wrong clock) land here rather than fail the
    -- approval they record. It should stay empty; docs/audit.md says what to do when it does not.
    PERFORM signet_audit_partition('audit_events_default', NULL, NULL);
END;
$$;
