-- signet:no-transaction
-- The webhook worker prunes finished outbox events by age (store.PruneOutbox).
-- Built CONCURRENTLY: an installation that upgrades to this version has kept every outbox event since
-- it was installed, and a plain CREATE INDEX would block the writes that add events (every approval)
-- for as long as the build takes. A concurrent build cut short leaves an INVALID index behind, so
-- any index of that name is dropped first; the migration can always be run again.
DROP INDEX CONCURRENTLY IF EXISTS outbox_events_created_at_idx;
CREATE INDEX CONCURRENTLY outbox_events_created_at_idx ON outbox_events (created_at);
