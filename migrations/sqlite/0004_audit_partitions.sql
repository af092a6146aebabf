-- Audit retention: SQLite (the embedded mode, one small instance) does not partition audit_events;
-- `signet audit export` works on it as on PostgreSQL (docs/audit.md). Kept in step with
-- migrations/postgres/0004_audit_partitions.sql.
SELECT 1;
