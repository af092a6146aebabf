package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore"
)

// TestAuditExport: the events of [from, to) and no others, one JSON object a line in seq order,
// evidence kept as JSON, with the count and the SHA-256 of the output on stderr.
func TestAuditExport(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, filepath.Join(dir, "signet.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	for _, e := range []store.AuditEvent{
		{Type: "operation.approve", Time: at("2025-12-31T23:59:59Z")}, // before
		{Type: "operation.approve", Time: at("2026-01-01T00:00:00Z"), Outcome: "success", OperationID: "op-1", Evidence: []byte(`{"alg":"ES256"}`)},
		{Type: "device.register", Time: at("2026-01-20T10:00:00Z"), Outcome: "failure", Reason: "registration code expired, used or burned"},
		{Type: "operation.approve", Time: at("2026-02-01T00:00:00Z")}, // after: --to is exclusive
	} {
		if err := st.AppendAudit(ctx, &e); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	out := filepath.Join(dir, "jan.jsonl")
	var stderr bytes.Buffer
	cmd := newRootCmd([]string{"SIGNET_DATA_DIR=" + dir, "SIGNET_KEK=q0wLxGSEGpW1G1tx2d0k1m3vP9V0hP4a0bB5l3P6yS8="})
	cmd.SetArgs([]string{"audit", "export", "--from", "2026-01-01", "--to", "2026-02-01", "--out", out})
	cmd.SetErr(&stderr)
	if err := cmd.Execute(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var lines []exportedEvent
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		var e exportedEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, e)
	}
	if len(lines) != 2 || lines[0].OperationID != "op-1" || string(lines[0].Evidence) != `{"alg":"ES256"}` ||
		lines[1].Type != "device.register" || lines[0].Seq >= lines[1].Seq {
		t.Fatalf("exported %s", raw)
	}
	sum := sha256.Sum256(raw)
	if !strings.Contains(stderr.String(), "exported 2 audit events") || !strings.Contains(stderr.String(), hex.EncodeToString(sum[:])) {
		t.Errorf("stderr %q; want the count and the SHA-256 of the file", stderr.String())
	}
	// The output is never overwritten.
	cmd = newRootCmd([]string{"SIGNET_DATA_DIR=" + dir})
	cmd.SetArgs([]string{"audit", "export", "--from", "2026-01-01", "--to", "2026-02-01", "--out", out})
	cmd.SetErr(&stderr)
	if err := cmd.Execute(); err == nil {
		t.Error("export over an existing file succeeded")
	}
}
