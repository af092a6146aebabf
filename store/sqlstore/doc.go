// Package sqlstore implements store.Store on SQL databases through gorm:
// SQLite (pure Go, the embedded default) and PostgreSQL (production).
// The schema comes from the hand-written migrations package; gorm types and
// errors never leave this package.
package sqlstore
