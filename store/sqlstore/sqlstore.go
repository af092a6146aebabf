package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	gosqlite "github.com/glebarez/go-sqlite"
	"github.com/glebarez/sqlite"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/signet-sca/signet/internal/privfile"
	"github.com/signet-sca/signet/store"
)

// Dialect names, as reported by Store.Dialect.
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
)

const (
	// defaultUpdateAttempts bounds the compare-and-swap loop of Update*.
	defaultUpdateAttempts = 64
	// Backoff between attempts: uniformly random in [0, min(base<<attempt, max)).
	backoffBase = 100 * time.Microsecond
	backoffMax  = 10 * time.Millisecond

	defaultListLimit = 100
	maxListLimit     = 1000

	defaultPostgresMaxOpenConns = 20
)

// Store is a store.Store on SQLite or PostgreSQL.
type Store struct {
	db       *gorm.DB
	sql      *sql.DB
	queries  queries
	dialect  string
	now      func() time.Time
	attempts int
	keysMu   sync.Mutex // WithSigningKeysLock within this process
}

var _ store.Store = (*Store)(nil)

type options struct {
	logger       *slog.Logger
	schema       string
	now          func() time.Time
	maxOpenConns int
	attempts     int
}

// Option configures Open.
type Option func(*options)

// WithSchema makes a PostgreSQL store live in schema name: Open creates the
// schema if it does not exist and puts it first in every pooled connection's
// search_path. It is an error on SQLite. (A search_path parameter in the URL
// works too, without the CREATE SCHEMA.)
func WithSchema(name string) Option { return func(o *options) { o.schema = name } }

// WithLogger receives what Open does to the SQLite files' modes (default: discarded).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithClock sets the clock used to stamp CreatedAt and UpdatedAt when the
// caller leaves them unset. Default time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithMaxOpenConns caps the PostgreSQL connection pool (default 20). SQLite
// always uses a single connection: SQLite has one writer anyway, and queueing
// in the pool is cheaper than SQLITE_BUSY back-off.
func WithMaxOpenConns(n int) Option { return func(o *options) { o.maxOpenConns = n } }

// WithUpdateAttempts bounds the compare-and-swap loop of the Update* methods
// (default 64) before they give up with store.ErrConflict.
func WithUpdateAttempts(n int) Option { return func(o *options) { o.attempts = n } }

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// IsPostgresURL reports whether databaseURL selects PostgreSQL.
func IsPostgresURL(databaseURL string) bool {
	return strings.HasPrefix(databaseURL, "postgres://") || strings.HasPrefix(databaseURL, "postgresql://")
}

// Open connects to databaseURL: a postgres:// or postgresql:// URL selects
// PostgreSQL; anything else is SQLite, given as a file path, a file: URI or a
// sqlite:// URL (the file's parent directory is created). Open does not
// migrate; call Migrate.
func Open(ctx context.Context, databaseURL string, opts ...Option) (*Store, error) {
	o := options{now: time.Now, maxOpenConns: defaultPostgresMaxOpenConns, attempts: defaultUpdateAttempts,
		logger: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	if o.attempts < 1 {
		return nil, errors.New("sqlstore: update attempts must be at least 1")
	}
	if o.schema != "" && !schemaName.MatchString(o.schema) {
		return nil, fmt.Errorf("sqlstore: invalid schema name %q", o.schema)
	}

	var (
		dialector gorm.Dialector
		dialect   string
	)
	if IsPostgresURL(databaseURL) {
		dsn, err := postgresDSN(databaseURL, o.schema)
		if err != nil {
			return nil, err
		}
		dialect, dialector = DialectPostgres, postgres.New(postgres.Config{DSN: dsn})
	} else {
		if o.schema != "" {
			return nil, errors.New("sqlstore: WithSchema needs PostgreSQL")
		}
		dsn, path, err := sqliteDSN(databaseURL)
		if err != nil {
			return nil, err
		}
		if path != "" {
			if err := privateSQLiteFiles(path, o.logger); err != nil {
				return nil, err
			}
		}
		dialect, dialector = DialectSQLite, sqlite.Open(dsn)
	}

	db, err := gorm.Open(dialector, &gorm.Config{
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		DisableAutomaticPing:   true,
		QueryFields:            true,
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %v", dialect, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %v", dialect, err)
	}
	if dialect == DialectSQLite {
		sqlDB.SetMaxOpenConns(1)
	} else {
		// Every open connection may stay idle: with fewer idle slots than open
		// connections, a burst beyond them closes connections on release and
		// dials new ones (a process fork on the server) a moment later. Under
		// load that churn cost more CPU than the queries (docs/performance.md).
		sqlDB.SetMaxOpenConns(o.maxOpenConns)
		sqlDB.SetMaxIdleConns(o.maxOpenConns)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	}
	s := &Store{db: db, sql: sqlDB, queries: newQueries(dialect), dialect: dialect, now: o.now, attempts: o.attempts}
	if err := s.Ping(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	if dialect == DialectSQLite {
		// SQLite made -wal and -shm when it opened the database in WAL mode, with the database
		// file's mode; check them all the same (a mode it could not set, a file left by another
		// build of SQLite).
		if _, path, _ := sqliteDSN(databaseURL); path != "" {
			if err := tightenSQLiteFiles(path, o.logger); err != nil {
				_ = sqlDB.Close()
				return nil, err
			}
		}
	}
	if o.schema != "" {
		if err := db.WithContext(ctx).Exec(`CREATE SCHEMA IF NOT EXISTS "` + o.schema + `"`).Error; err != nil {
			_ = sqlDB.Close()
			return nil, s.fail(ctx, "create schema", err)
		}
	}
	return s, nil
}

// privateSQLiteFiles prepares an SQLite database at path so that no other user can read it:
// a missing directory is created 0700, a missing database file is created 0600 before SQLite
// opens it (SQLite would create it 0644 less the umask, and give -wal and -shm the same mode),
// and existing files looser than 0600 are tightened, with a log line. A file another user owns
// is refused. An existing directory is left as it is: it may be shared (/var/lib, /tmp); the
// data directory's own mode is cmd/signet's business.
func privateSQLiteFiles(path string, logger *slog.Logger) error {
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if _, err := privfile.MkdirAll(dir); err != nil {
			return fmt.Errorf("sqlstore: create database directory: %w", err)
		}
	}
	if err := tightenSQLiteFiles(path, logger); err != nil {
		return err
	}
	f, err := privfile.Create(path)
	switch {
	case errors.Is(err, fs.ErrExist):
		return nil
	case err != nil:
		return fmt.Errorf("sqlstore: create database file: %w", err)
	}
	return f.Close()
}

// tightenSQLiteFiles makes the database file and its -wal and -shm files 0600 (or stricter).
func tightenSQLiteFiles(path string, logger *slog.Logger) error {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		t, err := privfile.Tighten(p)
		if err != nil {
			return fmt.Errorf("sqlstore: database file %w", err)
		}
		if t != nil {
			logger.Warn("database file was readable by other users; made private", "path", t.Path,
				"old_mode", t.Old.String(), "new_mode", t.New.String())
		}
	}
	return nil
}

// postgresDSN returns the URL with search_path set to schema, when given.
// pgx passes unknown URL parameters (search_path included) to the server as
// run-time parameters of every connection it opens.
func postgresDSN(raw, schema string) (string, error) {
	if schema == "" {
		return raw, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("sqlstore: invalid PostgreSQL URL") // the error would echo the password
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// sqliteDSN turns a path, file: URI or sqlite:// URL into a DSN for the
// glebarez driver with WAL, a busy timeout, foreign keys and immediate
// transactions, and returns the file's path ("" for in-memory databases).
func sqliteDSN(raw string) (dsn, path string, err error) {
	rest, uri := raw, false
	switch {
	case strings.HasPrefix(rest, "sqlite://"):
		rest = strings.TrimPrefix(rest, "sqlite://")
	case strings.HasPrefix(rest, "sqlite:"):
		rest = strings.TrimPrefix(rest, "sqlite:")
	case strings.HasPrefix(rest, "file:"):
		rest, uri = strings.TrimPrefix(rest, "file:"), true
	}
	rawPath, query, _ := strings.Cut(rest, "?")
	p := rawPath
	if uri && strings.HasPrefix(p, "//") {
		// file://host/path: only an empty host or localhost is meaningful.
		host, abs, _ := strings.Cut(p[2:], "/")
		if host != "" && host != "localhost" {
			return "", "", fmt.Errorf("sqlstore: unsupported SQLite URI host %q", host)
		}
		p = "/" + abs
	}
	if p == "" {
		return "", "", errors.New("sqlstore: empty SQLite database path")
	}
	if uri {
		if p, err = url.PathUnescape(p); err != nil {
			return "", "", fmt.Errorf("sqlstore: invalid SQLite URI: %w", err)
		}
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", "", fmt.Errorf("sqlstore: invalid SQLite parameters: %w", err)
	}
	// The driver runs each _pragma on every new connection.
	pragmas := q["_pragma"]
	has := func(name string) bool {
		for _, v := range pragmas {
			if strings.HasPrefix(strings.ToLower(v), name) {
				return true
			}
		}
		return false
	}
	for _, d := range []struct{ name, pragma string }{
		{"busy_timeout", "busy_timeout(10000)"},
		{"journal_mode", "journal_mode(WAL)"},
		{"foreign_keys", "foreign_keys(1)"},
		{"synchronous", "synchronous(NORMAL)"},
	} {
		if !has(d.name) {
			pragmas = append(pragmas, d.pragma)
		}
	}
	q["_pragma"] = pragmas
	// BEGIN IMMEDIATE: a transaction takes the write lock up front (waiting
	// busy_timeout), instead of failing to upgrade a read lock later.
	if q.Get("_txlock") == "" {
		q.Set("_txlock", "immediate")
	}
	memory := p == ":memory:" || q.Get("mode") == "memory"
	if uri {
		dsn = "file:" + rawPath + "?" + q.Encode()
	} else {
		dsn = p + "?" + q.Encode()
	}
	if memory {
		return dsn, "", nil
	}
	return dsn, p, nil
}

// Dialect reports "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect }

// Ping checks the database is reachable.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return s.fail(ctx, "ping", err)
	}
	return s.fail(ctx, "ping", sqlDB.PingContext(ctx))
}

// PoolStats reports the connection pool's counters.
func (s *Store) PoolStats() sql.DBStats {
	sqlDB, err := s.db.DB()
	if err != nil {
		return sql.DBStats{}
	}
	return sqlDB.Stats()
}

// Close closes the connection pool.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return s.fail(context.Background(), "close", err)
	}
	return s.fail(context.Background(), "close", sqlDB.Close())
}

// fail maps a driver or gorm error to the store's vocabulary: the sentinels
// for not found and uniqueness, the context's error when it ended, and plain
// text otherwise, so that no driver or gorm type escapes this package.
func (s *Store) fail(ctx context.Context, op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrAlreadyExists), errors.Is(err, store.ErrConflict):
		return err
	case errors.Is(err, gorm.ErrRecordNotFound):
		return fmt.Errorf("sqlstore: %s: %w", op, store.ErrNotFound)
	case isUniqueViolation(err):
		return fmt.Errorf("sqlstore: %s: %w", op, store.ErrAlreadyExists)
	case isForeignKeyViolation(err):
		// The record refers to a user (or other parent) that does not exist.
		return fmt.Errorf("sqlstore: %s: referenced record: %w", op, store.ErrNotFound)
	case ctx.Err() != nil:
		return fmt.Errorf("sqlstore: %s: %w", op, ctx.Err())
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("sqlstore: %s: %w", op, context.Canceled)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("sqlstore: %s: %w", op, context.DeadlineExceeded)
	case isUnavailable(err):
		return fmt.Errorf("sqlstore: %s: %w: %v", op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("sqlstore: %s: %v", op, err)
}

// isUnavailable reports errors that mean the database is unreachable or not
// serving, rather than that the statement was wrong: lost or refused
// connections, PostgreSQL class 08 (connection exception) and 57P01–57P03
// (shutdown, crash, cannot connect now), SQLite busy or locked.
func isUnavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	if errors.As(err, &connectErr) || errors.As(err, &netErr) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
		return true
	}
	var sqlErr *gosqlite.Error
	if errors.As(err, &sqlErr) {
		switch sqlErr.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
	}
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "connection refused") ||
		strings.Contains(msg, "failed to connect") || strings.Contains(msg, "broken pipe") ||
		strings.Contains(msg, "connection reset")
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505" // unique_violation
	}
	var sqlErr *gosqlite.Error
	if errors.As(err, &sqlErr) {
		switch sqlErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return true
		}
	}
	return errors.Is(err, gorm.ErrDuplicatedKey) || strings.Contains(err.Error(), "UNIQUE constraint failed")
}

func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23503" // foreign_key_violation
	}
	var sqlErr *gosqlite.Error
	if errors.As(err, &sqlErr) {
		return sqlErr.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return errors.Is(err, gorm.ErrForeignKeyViolated) || strings.Contains(err.Error(), "FOREIGN KEY constraint failed")
}

// newID returns a random UUIDv4 for records created without an id.
func newID() string { return uuid.NewString() }

// stamp returns t, or the store's clock when t is zero, in UTC to the µs.
func (s *Store) stamp(t time.Time) time.Time {
	if t.IsZero() {
		t = s.now()
	}
	return utc(t)
}

// fresh assigns what every insert assigns: the ID when empty (a UUIDv4), the
// creation time (stamp: now when zero, in UTC) and Version 1.
func (s *Store) fresh(id *string, created *time.Time, version *int64) {
	if *id == "" {
		*id = newID()
	}
	*created = s.stamp(*created)
	*version = 1
}

// casLoop is the read-modify-write loop behind every Update* method. read
// loads the current record (the first time only when first is nil: the
// Update*From methods start from the caller's copy); fn mutates a copy; write
// stores it with UPDATE ... WHERE id = ? AND version = ? and reports the rows
// it touched. Zero rows means a concurrent writer won (or the caller's copy
// was stale): back off, re-read, re-apply. No transaction is open while fn
// runs.
func casLoop[T any](ctx context.Context, s *Store, op string, first *T, fn func(*T) error,
	read func(ctx context.Context) (T, error),
	write func(ctx context.Context, old T, next *T) (int64, error),
) (T, error) {
	var zero T
	for attempt := 0; ; attempt++ {
		var cur T
		if attempt == 0 && first != nil {
			cur = *first
		} else {
			var err error
			if cur, err = read(ctx); err != nil {
				return zero, err
			}
		}
		old := cur
		if err := fn(&cur); err != nil {
			return zero, err
		}
		n, err := write(ctx, old, &cur)
		if err != nil {
			return zero, err
		}
		if n == 1 {
			return cur, nil
		}
		if attempt+1 >= s.attempts {
			return zero, fmt.Errorf("sqlstore: %s: %d attempts: %w", op, s.attempts, store.ErrConflict)
		}
		if err := backoff(ctx, attempt); err != nil {
			return zero, fmt.Errorf("sqlstore: %s: %w", op, err)
		}
	}
}

// backoff sleeps a random duration below min(backoffBase<<attempt,
// backoffMax), so that losers of a race do not collide again in lock step.
func backoff(ctx context.Context, attempt int) error {
	ceiling := backoffMax
	if attempt < 16 && backoffBase<<attempt < backoffMax {
		ceiling = backoffBase << attempt
	}
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	d := time.Duration(binary.LittleEndian.Uint64(b[:]) % uint64(ceiling))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// clampLimit applies the default (100) and maximum (1000) page sizes.
func clampLimit(n int) int {
	switch {
	case n <= 0:
		return defaultListLimit
	case n > maxListLimit:
		return maxListLimit
	}
	return n
}
