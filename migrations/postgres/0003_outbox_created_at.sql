-- The webhook worker prunes finished outbox events by age (store.PruneOutbox).
CREATE INDEX outbox_events_created_at_idx ON outbox_events (created_at);
