// Command seedhistory bulk-loads a migrated, empty Signet PostgreSQL database
// with a history: users with device keys (and every other one a passkey),
// operations in their final states (approved, rejected, expired, canceled)
// spread over the past months, and the audit events each of them left, for
// `make loadbench-history` (scripts/loadbench-history.sh). It writes through
// PostgreSQL COPY (pgx CopyFrom), one stream per table, operations and audit
// events at once on two connections.
//
// The audit partitions are laid out as a server first migrated in the oldest
// seeded month would have them (migration 0004 and store.MaintainAudit): the
// (empty) audit_events_legacy partition ends where the history starts and
// every seeded month gets its own audit_events_pYYYYMM partition, made with
// the migration's own signet_audit_partition function. So events land in
// the partition of their month, never in audit_events_default.
//
// Not production data: the credentials' keys are real P-256 keys whose private
// halves are thrown away, the tokens are not kept (their ids are), and the
// events carry no evidence.
package main

import (
	"context"
	"crypto/ecdh"
	crand "crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/signet-sca/signet/txsign"
)

// Options say how much history to seed.
type Options struct {
	Users      int
	Operations int
	Months     int       // the history spans the last Months calendar months, the current one included
	Now        time.Time // the history ends an hour before Now (every operation long final)
	Seed       uint64    // math/rand seed of the amounts, states and times
	Progress   io.Writer // progress lines; nil for none
}

// Result counts what was written.
type Result struct {
	Users, Credentials, Operations, AuditEvents int
	Partitions                                  []string // partitions created for the seeded months
	Start, End                                  time.Time
}

// Shares of the final states, out of 100 (the rest are approved).
const (
	pctRejected = 5
	pctExpired  = 10
	pctCanceled = 5
)

// Seed fills the database behind conn (and conn2, a second connection to the same
// database, for the concurrent audit stream). The schema must be migrated and hold
// no operations or audit events.
func Seed(ctx context.Context, conn, conn2 *pgx.Conn, o Options) (Result, error) {
	var res Result
	if o.Users < 1 || o.Operations < 0 || o.Months < 1 {
		return res, fmt.Errorf("need at least one user and one month, got %d users, %d months", o.Users, o.Months)
	}
	var n int
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM operations) + (SELECT count(*) FROM audit_events)`).Scan(&n); err != nil {
		return res, fmt.Errorf("is the database migrated? %w", err)
	}
	if n != 0 {
		return res, fmt.Errorf("the database already holds %d operations and audit events: seed a fresh one", n)
	}
	now := o.Now.UTC()
	if now.IsZero() {
		now = time.Now().UTC()
	}
	cur := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	res.Start = cur.AddDate(0, -(o.Months - 1), 0)
	res.End = now.Add(-time.Hour)
	if !res.End.After(res.Start) {
		res.End = now // the first hour of a month with Months=1
	}
	parts, err := partitionHistory(ctx, conn, res.Start)
	if err != nil {
		return res, fmt.Errorf("audit partitions: %w", err)
	}
	res.Partitions = parts

	// The bulk load skips triggers (session_replication_role, as pg_restore --disable-triggers does; the
	// role must be a superuser): the per-row audit id check and the foreign-key checks would otherwise
	// cost more than the load. Both hold by construction: fresh UUIDs, users written above.
	for _, c := range []*pgx.Conn{conn, conn2} {
		if _, err := c.Exec(ctx, `SET session_replication_role = replica`); err != nil {
			return res, fmt.Errorf("skipping triggers for the bulk load (needs a superuser): %w", err)
		}
	}
	p := progress{w: o.Progress}
	t0 := time.Now()
	users, err := seedUsers(ctx, conn, o, res.Start, &res)
	if err != nil {
		return res, err
	}
	p.printf("%d users, %d credentials in %s\n", res.Users, res.Credentials, time.Since(t0).Round(time.Millisecond))

	// Operations and their events come from the same generator, so that both streams agree; each
	// stream regenerates the sequence from the same seed rather than sharing memory for 1M rows.
	t0 = time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		gen := newHistory(o, users, res.Start, res.End)
		n, err := conn.CopyFrom(gctx, pgx.Identifier{"operations"}, operationColumns, &opSource{h: gen, p: &p, total: o.Operations})
		res.Operations = int(n)
		if err != nil {
			return fmt.Errorf("copy operations: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		gen := newHistory(o, users, res.Start, res.End)
		n, err := conn2.CopyFrom(gctx, pgx.Identifier{"audit_events"}, auditColumns, &auditSource{h: gen})
		res.AuditEvents = int(n)
		if err != nil {
			return fmt.Errorf("copy audit events: %w", err)
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return res, err
	}
	p.printf("%d operations, %d audit events in %s\n", res.Operations, res.AuditEvents, time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	if _, err := conn.Exec(ctx, `ANALYZE users; ANALYZE credentials; ANALYZE operations; ANALYZE audit_events`); err != nil {
		return res, fmt.Errorf("analyze: %w", err)
	}
	p.printf("analyzed in %s\n", time.Since(t0).Round(time.Millisecond))
	for _, c := range []*pgx.Conn{conn, conn2} {
		if _, err := c.Exec(ctx, `RESET session_replication_role`); err != nil {
			return res, err
		}
	}
	return res, nil
}

// partitionHistory gives every month from start on its own partition: the fresh database's
// audit_events_legacy (empty, bounded at next month by migration 0004) is re-attached to end at
// start, and the months between get partitions as MaintainAudit names them.
func partitionHistory(ctx context.Context, conn *pgx.Conn, start time.Time) ([]string, error) {
	var legacyEnd time.Time
	err := conn.QueryRow(ctx, `SELECT (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz
		FROM pg_class c WHERE c.oid = 'audit_events_legacy'::regclass`).Scan(&legacyEnd)
	if err != nil {
		return nil, err
	}
	legacyEnd = legacyEnd.UTC()
	if !start.Before(legacyEnd) {
		return nil, nil
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	var rows int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM audit_events_legacy`).Scan(&rows); err != nil {
		return nil, err
	}
	if rows != 0 {
		return nil, fmt.Errorf("audit_events_legacy holds %d events: seed a fresh database", rows)
	}
	// signet_audit_partition adds the partition's own append-only trigger: drop the old one first.
	for _, q := range []string{
		`ALTER TABLE audit_events DETACH PARTITION audit_events_legacy`,
		`DROP TRIGGER audit_events_legacy_append_only ON audit_events_legacy`,
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("%s: %w", q, err)
		}
	}
	if _, err := tx.Exec(ctx, `SELECT signet_audit_partition('audit_events_legacy', NULL, $1)`, start); err != nil {
		return nil, err
	}
	var made []string
	for m := start; m.Before(legacyEnd); m = m.AddDate(0, 1, 0) {
		name := "audit_events_p" + m.Format("200601")
		if _, err := tx.Exec(ctx, `SELECT signet_audit_partition($1, $2, $3)`, name, m, m.AddDate(0, 1, 0)); err != nil {
			return nil, fmt.Errorf("partition %s: %w", name, err)
		}
		made = append(made, name)
	}
	return made, tx.Commit(ctx)
}

type user struct {
	id, deviceKey, passkey string // credential ids; passkey "" when the user has none
}

// seedUsers writes the users and their credentials, all created at start.
func seedUsers(ctx context.Context, conn *pgx.Conn, o Options, start time.Time, res *Result) ([]user, error) {
	users := make([]user, o.Users)
	for i := range users {
		users[i] = user{id: uuid.NewString(), deviceKey: uuid.NewString()}
		if i%2 == 0 {
			users[i].passkey = uuid.NewString()
		}
	}
	n, err := conn.CopyFrom(ctx, pgx.Identifier{"users"},
		[]string{"id", "external_id", "display_name", "webauthn_id", "created_at", "updated_at"},
		pgx.CopyFromSlice(len(users), func(i int) ([]any, error) {
			return []any{users[i].id, fmt.Sprintf("history-%d", i), fmt.Sprintf("Customer %d", i), []byte(users[i].id), start, start}, nil
		}))
	res.Users = int(n)
	if err != nil {
		return nil, fmt.Errorf("copy users: %w", err)
	}
	device, _ := json.Marshal(map[string]string{"platform": "android", "model": "Pixel 8", "os_version": "15", "app_version": "3.2.0"})
	passkeyData, _ := json.Marshal(map[string]any{"aaguid": "00000000-0000-0000-0000-000000000000", "alg": "ES256",
		"attestation_type": "none", "attestation_format": "none", "transports": []string{"internal", "hybrid"},
		"attachment": "platform", "backup_eligible": true, "backup_state": true, "uv_at_registration": true})
	type cred struct {
		id, user, kind, label, lookup string
		pub, device, data             []byte
	}
	creds := make([]cred, 0, len(users)*3/2)
	for _, u := range users {
		k, err := ecdh.P256().GenerateKey(crand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKIXPublicKey(k.PublicKey())
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(der) // devicekey.keyID
		creds = append(creds, cred{u.deviceKey, u.id, "device_key", "android Pixel 8", base64.RawURLEncoding.EncodeToString(sum[:]), der, device, nil})
		if u.passkey != "" {
			credID := make([]byte, 16)
			_, _ = crand.Read(credID)
			creds = append(creds, cred{u.passkey, u.id, "passkey", "Passkey " + start.Format("2006-01-02"),
				base64.RawURLEncoding.EncodeToString(credID), coseP256(k.PublicKey().Bytes()), nil, passkeyData})
		}
	}
	n, err = conn.CopyFrom(ctx, pgx.Identifier{"credentials"},
		[]string{"id", "user_id", "kind", "status", "max_failed_attempts", "label", "lookup_key", "public_key", "device", "data", "created_at", "activated_at", "last_used_at"},
		pgx.CopyFromSlice(len(creds), func(i int) ([]any, error) {
			c := creds[i]
			return []any{c.id, c.user, c.kind, "ACTIVE", 5, c.label, c.lookup, c.pub, c.device, c.data, start, start, start}, nil
		}))
	res.Credentials = int(n)
	if err != nil {
		return nil, fmt.Errorf("copy credentials: %w", err)
	}
	return users, nil
}

// coseP256 is the COSE_Key (RFC 9053 §7.1.1, RFC 8152 §13.1.1) of an uncompressed P-256 point
// 0x04‖x‖y, as a WebAuthn authenticator reports it: {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}.
func coseP256(point []byte) []byte {
	b := []byte{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20}
	b = append(b, point[1:33]...)
	b = append(b, 0x22, 0x58, 0x20)
	return append(b, point[33:65]...)
}

// history generates the operations in creation order, evenly spread over [start, end) with
// jitter, and the events of each.
type history struct {
	rng        *rand.Rand
	users      []user
	start      time.Time
	step       time.Duration
	n, i       int
	op         op
	events     [2]event
	nev, evIdx int
}

type op struct {
	id, user, status, payeeAccount, payeeName, amount, currency, nonce, approvedCred, jti string
	dl                                                                                    []byte
	created, expires, decided                                                             time.Time
}

type event struct {
	typ, actor, cred string
	at               time.Time
}

func newHistory(o Options, users []user, start, end time.Time) *history {
	step := time.Duration(0)
	if o.Operations > 0 {
		step = end.Sub(start) / time.Duration(o.Operations)
	}
	return &history{rng: rand.New(rand.NewPCG(o.Seed, 0x5eed)), users: users, start: start, step: step, n: o.Operations}
}

// next makes operation h.i and its events; false when all are made.
func (h *history) next() bool {
	if h.i >= h.n {
		return false
	}
	r := h.rng
	u := h.users[r.IntN(len(h.users))]
	created := h.start.Add(time.Duration(h.i)*h.step + time.Duration(r.Int64N(int64(h.step)+1))).Truncate(time.Microsecond)
	nonce := make([]byte, 16)
	for j := range nonce {
		nonce[j] = byte(r.Uint32())
	}
	var idb [16]byte
	for j := range idb {
		idb[j] = byte(r.Uint32())
	}
	id, _ := uuid.FromBytes(idb[:])
	id[6] = id[6]&0x0f | 0x40 // version 4
	id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
	o := op{id: id.String(), user: u.id, currency: "EUR", created: created,
		payeeAccount: fmt.Sprintf("ACCT%08d", r.IntN(50_000)), payeeName: fmt.Sprintf("Merchant %d", r.IntN(5_000)),
		amount: fmt.Sprintf("%d.%02d", 1+r.IntN(2_000), r.IntN(100)), nonce: base64.RawURLEncoding.EncodeToString(nonce),
		expires: created.Add(5 * time.Minute).Truncate(time.Second)}
	dl := txsign.ComputeDL(txsign.DLInput{ID: o.id, Type: "payment", PayeeAccount: o.payeeAccount, PayeeName: o.payeeName,
		Amount: o.amount, Currency: o.currency, Nonce: o.nonce, ExpiresAt: o.expires})
	o.dl = dl[:]
	h.events[0] = event{typ: "operation.create", actor: "bank", at: created}
	h.nev = 2
	cred, actor := u.deviceKey, "mobile"
	if u.passkey != "" && r.IntN(2) == 0 {
		cred, actor = u.passkey, "browser"
	}
	switch pct := r.IntN(100); {
	case pct < pctRejected:
		o.status, o.decided = "REJECTED", created.Add(time.Duration(2+r.IntN(60))*time.Second)
		h.events[1] = event{typ: "operation.reject", actor: actor, cred: cred, at: o.decided}
	case pct < pctRejected+pctExpired:
		o.status, o.decided = "EXPIRED", o.expires
		h.events[1] = event{typ: "operation.expire", actor: "system", at: o.expires}
	case pct < pctRejected+pctExpired+pctCanceled:
		o.status, o.decided = "CANCELED", created.Add(time.Duration(5+r.IntN(120))*time.Second)
		h.events[1] = event{typ: "operation.cancel", actor: "bank", at: o.decided}
	default:
		o.status, o.decided = "APPROVED", created.Add(time.Duration(2+r.IntN(40))*time.Second)
		o.approvedCred, o.jti = cred, uuid.NewString()
		h.events[1] = event{typ: "operation.approve", actor: actor, cred: cred, at: o.decided}
	}
	o.decided = o.decided.Truncate(time.Microsecond)
	h.events[1].at = o.decided
	h.op = o
	h.evIdx = 0
	h.i++
	return true
}

var operationColumns = []string{"id", "user_id", "type", "payee_account", "payee_name", "amount", "currency", "nonce", "dl",
	"status", "max_failed_attempts", "approved_credential_id", "approved_at", "token_jti", "token_expires_at",
	"expires_at", "created_at", "updated_at"}

type opSource struct {
	h     *history
	p     *progress
	total int
}

func (s *opSource) Next() bool {
	if !s.h.next() {
		return false
	}
	if s.h.i%100_000 == 0 {
		s.p.printf("%d/%d operations (and their audit events, on the other connection)\n", s.h.i, s.total)
	}
	return true
}

func (s *opSource) Values() ([]any, error) {
	o := s.h.op
	var approvedAt, tokenExp any
	if o.status == "APPROVED" {
		approvedAt, tokenExp = o.decided, o.decided.Add(5*time.Minute)
	}
	return []any{o.id, o.user, "payment", o.payeeAccount, o.payeeName, o.amount, o.currency, o.nonce, o.dl,
		o.status, 5, o.approvedCred, approvedAt, o.jti, tokenExp, o.expires, o.created, o.decided}, nil
}

func (s *opSource) Err() error { return nil }

var auditColumns = []string{"id", "time", "type", "outcome", "actor", "user_id", "operation_id", "credential_id"}

type auditSource struct {
	h  *history
	ev event
}

func (s *auditSource) Next() bool {
	if s.h.evIdx >= s.h.nev {
		if !s.h.next() {
			return false
		}
	}
	s.ev = s.h.events[s.h.evIdx]
	s.h.evIdx++
	return true
}

func (s *auditSource) Values() ([]any, error) {
	o := s.h.op
	return []any{uuid.NewString(), s.ev.at, s.ev.typ, "success", s.ev.actor, o.user, o.id, s.ev.cred}, nil
}

func (s *auditSource) Err() error { return nil }

type progress struct{ w io.Writer }

func (p *progress) printf(format string, args ...any) {
	if p.w != nil {
		fmt.Fprintf(p.w, format, args...)
	}
}
