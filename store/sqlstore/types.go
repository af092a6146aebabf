package sqlstore

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// sqliteTimeLayout is fixed width (always six fractional digits, always Z),
// so that SQLite's text comparison and ORDER BY agree with time order.
const sqliteTimeLayout = "2006-01-02T15:04:05.000000Z"

// utc is the one normal form of a stored time: UTC, truncated to the µs.
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// dbTime is a time column: TIMESTAMPTZ on PostgreSQL, sqliteTimeLayout TEXT
// on SQLite. The zero dbTime (Valid false) is NULL. It deliberately does not
// implement driver.Valuer: every value reaches the driver through GormValue,
// which knows the dialect, and anything else fails loudly instead of writing
// the driver's own time format.
type dbTime struct {
	T     time.Time
	Valid bool
}

func newTime(t time.Time) dbTime { return dbTime{T: utc(t), Valid: true} }

func newTimePtr(t *time.Time) dbTime {
	if t == nil {
		return dbTime{}
	}
	return newTime(*t)
}

func (d dbTime) time() time.Time {
	if !d.Valid {
		return time.Time{}
	}
	return d.T
}

func (d dbTime) ptr() *time.Time {
	if !d.Valid {
		return nil
	}
	t := d.T
	return &t
}

// GormDataType keeps gorm from mistaking the struct for a relation.
func (dbTime) GormDataType() string { return "dbtime" }

// GormValue implements gorm.Valuer.
func (d dbTime) GormValue(_ context.Context, db *gorm.DB) clause.Expr {
	if !d.Valid {
		return clause.Expr{SQL: "?", Vars: []any{nil}}
	}
	t := utc(d.T)
	if db.Dialector.Name() == DialectSQLite {
		return clause.Expr{SQL: "?", Vars: []any{t.Format(sqliteTimeLayout)}}
	}
	return clause.Expr{SQL: "?", Vars: []any{t}}
}

// Scan implements sql.Scanner.
func (d *dbTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d = dbTime{}
		return nil
	case time.Time:
		*d = newTime(v)
		return nil
	case string:
		return d.parse(v)
	case []byte:
		return d.parse(string(v))
	}
	return fmt.Errorf("sqlstore: cannot scan %T into a time", src)
}

func (d *dbTime) parse(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("sqlstore: bad stored time %q: %w", s, err)
	}
	*d = newTime(t)
	return nil
}

// blob normalises byte strings: empty and nil are both stored as NULL and
// read back as nil, on every dialect.
func blob(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
