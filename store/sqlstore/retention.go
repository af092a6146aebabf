package sqlstore

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"gorm.io/gorm"
)

// AuditPartitionsAhead is how many months beyond the current one MaintainAudit keeps partitioned
// on PostgreSQL, so an append never finds no partition for its time.
const AuditPartitionsAhead = 3

// AuditMaintenance reports one MaintainAudit run.
type AuditMaintenance struct {
	Skipped  bool     // another replica holds the maintenance lock
	Created  []string // partitions created
	Detached []string // partitions detached (kept as plain tables; see docs/audit.md)
	// Blocked: months that could not get a partition because audit_events_default already holds
	// events of theirs (docs/audit.md).
	Blocked []string
}

// covered reports whether month m falls in one of parts.
func covered(parts []auditPartition, m time.Time) bool {
	for _, p := range parts {
		if !p.end.IsZero() && !m.Before(p.start) && m.Before(p.end) {
			return true
		}
	}
	return false
}

// auditMaintenanceLock serialises maintenance runs across replicas (per schema).
const auditMaintenanceLock = `hashtext('signet.audit.maintenance.' || coalesce(current_schema(), ''))`

// MaintainAudit keeps the monthly partitions of audit_events (PostgreSQL, migration 0004): it
// creates every month from the newest partition's end through AuditPartitionsAhead months past
// now, and DETACHES — never drops — every partition whose whole range ends at or before the
// start of now's month less retentionMonths. A detached partition stays in the database as a
// plain, still append-only table for the operator to export and archive (docs/audit.md).
// Several replicas may run it at once: a transaction-scoped advisory lock, taken without
// waiting, lets one of them work and the others skip. SQLite does not partition: a no-op.
func (s *Store) MaintainAudit(ctx context.Context, now time.Time, retentionMonths int) (AuditMaintenance, error) {
	var out AuditMaintenance
	if s.dialect != DialectPostgres {
		return out, nil
	}
	if retentionMonths < 1 {
		return out, fmt.Errorf("sqlstore: audit retention must be at least one month, got %d", retentionMonths)
	}
	month := time.Date(now.UTC().Year(), now.UTC().Month(), 1, 0, 0, 0, 0, time.UTC)
	cutoff := month.AddDate(0, -retentionMonths, 0)
	last := month.AddDate(0, AuditPartitionsAhead+1, 0) // exclusive end of the months to cover
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var locked bool
		if err := tx.Raw(`SELECT pg_try_advisory_xact_lock(` + auditMaintenanceLock + `)`).Scan(&locked).Error; err != nil {
			return err
		}
		if !locked {
			out.Skipped = true
			return nil
		}
		// Before migration 0004 (SIGNET_AUTO_MIGRATE=false, not yet migrated) there is nothing to keep.
		var partitioned bool
		if err := tx.Raw(`SELECT relkind = 'p' FROM pg_class WHERE oid = 'audit_events'::regclass`).Scan(&partitioned).Error; err != nil {
			return err
		}
		if !partitioned {
			return nil
		}
		// Bounds print in UTC, the form partitionEnd parses.
		if err := tx.Exec(`SET LOCAL TimeZone = 'UTC'`).Error; err != nil {
			return err
		}
		parts, err := auditPartitions(tx)
		if err != nil {
			return err
		}
		for m := month; m.Before(last); m = m.AddDate(0, 1, 0) {
			if covered(parts, m) {
				continue
			}
			name := "audit_events_p" + m.Format("200601")
			// A month that already has events in the default partition (dated by a wrong clock)
			// cannot get its own partition without moving them; it is left to the default
			// partition and reported (docs/audit.md).
			var stray bool
			if err := tx.Raw(`SELECT EXISTS (SELECT 1 FROM audit_events_default WHERE time >= ? AND time < ?)`,
				m, m.AddDate(0, 1, 0)).Scan(&stray).Error; err != nil {
				return err
			}
			if stray {
				out.Blocked = append(out.Blocked, name)
				continue
			}
			if err := tx.Exec(`SELECT signet_audit_partition(?, ?, ?)`, name, m, m.AddDate(0, 1, 0)).Error; err != nil {
				return fmt.Errorf("create partition %s: %w", name, err)
			}
			out.Created = append(out.Created, name)
		}
		for _, p := range parts {
			if p.end.IsZero() || p.end.After(cutoff) { // never the default partition
				continue
			}
			// Signet's own partition names only (audit_events_legacy, audit_events_pYYYYMM).
			if !partitionName.MatchString(p.name) {
				continue
			}
			if err := tx.Exec(`ALTER TABLE audit_events DETACH PARTITION "` + p.name + `"`).Error; err != nil {
				return fmt.Errorf("detach partition %s: %w", p.name, err)
			}
			out.Detached = append(out.Detached, p.name)
		}
		return nil
	})
	if err != nil {
		return AuditMaintenance{}, s.fail(ctx, "maintain audit partitions", err)
	}
	return out, nil
}

var (
	partitionName  = regexp.MustCompile(`^audit_events_(legacy|p[0-9]{6})$`)
	partitionBound = regexp.MustCompile(`FROM \((?:MINVALUE|'([^']+)')\) TO \('([^']+)'\)`)
)

type auditPartition struct {
	name       string
	start, end time.Time // end exclusive; zero for the default partition, start zero for MINVALUE
}

// auditPartitions lists the attached partitions of audit_events with their upper bounds.
func auditPartitions(tx *gorm.DB) ([]auditPartition, error) {
	var rows []struct {
		Name  string
		Bound string
	}
	err := tx.Raw(`SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
		FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'audit_events'::regclass ORDER BY c.relname`).Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	var out []auditPartition
	const layout = "2006-01-02 15:04:05-07"
	for _, r := range rows {
		if r.Bound == "DEFAULT" {
			out = append(out, auditPartition{name: r.Name})
			continue
		}
		m := partitionBound.FindStringSubmatch(r.Bound)
		if m == nil {
			return nil, fmt.Errorf("partition %s: unexpected bound %q", r.Name, r.Bound)
		}
		p := auditPartition{name: r.Name}
		var err error
		if m[1] != "" {
			if p.start, err = time.Parse(layout, m[1]); err != nil {
				return nil, fmt.Errorf("partition %s: bound %q: %w", r.Name, r.Bound, err)
			}
		}
		if p.end, err = time.Parse(layout, m[2]); err != nil {
			return nil, fmt.Errorf("partition %s: bound %q: %w", r.Name, r.Bound, err)
		}
		p.start, p.end = p.start.UTC(), p.end.UTC()
		out = append(out, p)
	}
	return out, nil
}

// AuditPartitions lists the attached partitions of audit_events and the exclusive end of each
// (PostgreSQL; nil on SQLite).
func (s *Store) AuditPartitions(ctx context.Context) (map[string]time.Time, error) {
	if s.dialect != DialectPostgres {
		return nil, nil
	}
	out := map[string]time.Time{}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`SET LOCAL TimeZone = 'UTC'`).Error; err != nil {
			return err
		}
		parts, err := auditPartitions(tx)
		for _, p := range parts {
			out[p.name] = p.end
		}
		return err
	})
	if err != nil {
		return nil, s.fail(ctx, "list audit partitions", err)
	}
	return out, nil
}
