package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-sca/signet/config"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore"
)

// newAuditCmd is `signet audit export` and `signet audit maintain` (docs/audit.md).
func newAuditCmd(environ []string) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Export the audit log and keep its partitions (docs/audit.md)"}
	var from, to, outPath string
	export := &cobra.Command{
		Use:   "export --from <date> --to <date> [--out file]",
		Short: "Write the audit events of [from, to) as JSON lines, in seq order, for archive",
		Long: `Writes every audit event whose time is in [from, to) — dates (2026-01-01) or RFC 3339 times — one JSON
object per line, in the audit API's form and seq order, to --out (default stdout). Progress and, at the end, the
number of events and the SHA-256 of the output go to stderr: record them with the archive. Works on PostgreSQL and
SQLite; on PostgreSQL it reads the attached partitions only, so export a month before it is detached.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			since, err := parseWhen(from)
			if err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			until, err := parseWhen(to)
			if err != nil {
				return fmt.Errorf("--to: %w", err)
			}
			if !since.Before(until) {
				return errors.New("--from must be before --to")
			}
			st, _, err := openInstanceStore(cmd, environ)
			if err != nil {
				return err
			}
			defer st.Close()
			out := cmd.OutOrStdout()
			if outPath != "" {
				f, err := os.OpenFile(outPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
				if err != nil {
					return err
				}
				defer f.Close()
				out = f
			}
			n, sum, err := exportAudit(cmd.Context(), st, since, until, out, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "exported %d audit events from %s to %s; sha256 %s\n",
				n, since.Format(time.RFC3339), until.Format(time.RFC3339), sum)
			return nil
		},
	}
	export.Flags().StringVar(&from, "from", "", "first day or time, inclusive (required)")
	export.Flags().StringVar(&to, "to", "", "last day or time, exclusive (required)")
	export.Flags().StringVar(&outPath, "out", "", "output file, created (never overwritten); default stdout")
	_ = export.MarkFlagRequired("from")
	_ = export.MarkFlagRequired("to")

	maintain := &cobra.Command{
		Use:   "maintain",
		Short: "Create the coming months' audit partitions and detach those past SIGNET_AUDIT_RETENTION (PostgreSQL)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, cfg, err := openInstanceStore(cmd, environ)
			if err != nil {
				return err
			}
			defer st.Close()
			res, err := st.MaintainAudit(cmd.Context(), time.Now(), int(cfg.AuditRetention))
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "skipped (another replica holds the lock): %v\ncreated: %v\ndetached: %v\nblocked: %v\n",
				res.Skipped, res.Created, res.Detached, res.Blocked)
			return nil
		},
	}
	cmd.AddCommand(export, maintain)
	return cmd
}

func parseWhen(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a date (2026-01-31) nor an RFC 3339 time", s)
	}
	return t.UTC(), nil
}

// exportedEvent is one line: the audit API's form of an event.
type exportedEvent struct {
	Seq          int64           `json:"seq"`
	ID           string          `json:"id"`
	Time         time.Time       `json:"time"`
	Type         string          `json:"type"`
	Outcome      string          `json:"outcome,omitempty"`
	Reason       string          `json:"reason,omitempty"`
	Actor        string          `json:"actor,omitempty"`
	UserID       string          `json:"user_id,omitempty"`
	OperationID  string          `json:"operation_id,omitempty"`
	CredentialID string          `json:"credential_id,omitempty"`
	Evidence     json.RawMessage `json:"evidence,omitempty"`
}

// auditReader is what exportAudit reads.
type auditReader interface {
	ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, string, error)
}

// exportAudit writes the events of [since, until) to w as JSON lines, pages of 1000 in seq order,
// reporting progress to progress every 10,000 events. It returns the count and the SHA-256 of
// what it wrote.
func exportAudit(ctx context.Context, st auditReader, since, until time.Time, w io.Writer, progress io.Writer) (int, string, error) {
	h := sha256.New()
	bw := bufio.NewWriter(io.MultiWriter(w, h))
	enc := json.NewEncoder(bw)
	n, cursor := 0, ""
	for {
		evs, next, err := st.ListAudit(ctx, store.AuditFilter{Since: since, Until: until, Cursor: cursor, Limit: 1000})
		if err != nil {
			return n, "", err
		}
		for _, e := range evs {
			line := exportedEvent{Seq: e.Seq, ID: e.ID, Time: e.Time, Type: e.Type, Outcome: e.Outcome, Reason: e.Reason,
				Actor: e.Actor, UserID: e.UserID, OperationID: e.OperationID, CredentialID: e.CredentialID}
			if len(e.Evidence) > 0 && json.Valid(e.Evidence) {
				line.Evidence = e.Evidence
			}
			if err := enc.Encode(line); err != nil {
				return n, "", err
			}
			n++
			if n%10_000 == 0 {
				fmt.Fprintf(progress, "… %d events, up to %s\n", n, e.Time.Format(time.RFC3339))
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if err := bw.Flush(); err != nil {
		return n, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// auditMaintenance is the serve background job: partitions ahead, months past the retention
// detached. It also runs once at start, so a replica that starts after a long outage creates
// the current month before it appends.
func auditMaintenance(st *sqlstore.Store, retention int, logger *slog.Logger) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		res, err := st.MaintainAudit(ctx, time.Now(), retention)
		if err != nil {
			return err
		}
		if len(res.Created) > 0 || len(res.Detached) > 0 {
			logger.Info("audit partitions maintained", "created", res.Created, "detached", res.Detached)
		}
		if len(res.Blocked) > 0 {
			logger.Error("audit events with stray times sit in audit_events_default; their months have no partition (docs/audit.md)",
				"months", res.Blocked)
		}
		return nil
	}
}

// openInstanceStore opens the database of an existing instance: in embedded mode it creates none (a command
// run outside a data directory says where it looked, findEmbeddedInstance).
func openInstanceStore(cmd *cobra.Command, environ []string) (*sqlstore.Store, config.Config, error) {
	cfg, err := loadConfig(environ)
	if err != nil {
		return nil, cfg, err
	}
	if err := findEmbeddedInstance(&cfg); err != nil {
		return nil, cfg, err
	}
	st, err := sqlstore.Open(cmd.Context(), cfg.DatabaseURL)
	if err != nil {
		return nil, cfg, fmt.Errorf("database: %w", err)
	}
	return st, cfg, nil
}
