package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The testdata results have the shape gremlins v0.6.0 writes (internal/report/internal.OutputResult):
// file names relative to the mutated package, one entry per mutant with its status.
func TestReport(t *testing.T) {
	var out bytes.Buffer
	err := run(&out, []string{
		"pkg/one=testdata/first.json",
		"pkg/one=testdata/second.json", // the rest of a run stopped partway: its verdicts win
		"two=testdata/other.json",
		"three=testdata/missing.json",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"| package | killed | lived | timed out | not covered | not viable | efficacy |",
		"| --- | --- | --- | --- | --- | --- | --- |",
		"| `pkg/one` | 4 | 0 | 0 | 1 | 0 | 100.0 % |",
		"| `two` | 1 | 1 | 1 | 0 | 1 | 50.0 % |",
		"| `three` | not run | | | | | |",
		"",
		"To kill with a test, or to list as equivalent in docs/testing.md:",
		"  LIVED     two/c.go:3:5 INVERT_NEGATIVES",
		"  TIMED OUT two/c.go:30:1 INVERT_NEGATIVES",
		"",
	}, "\n")
	if got := out.String(); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestReportNothingLived(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out, []string{"pkg/one=testdata/second.json"}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out.String(), "| `pkg/one` | 2 | 0 | 0 | 0 | 0 | 100.0 % |\n\nNo mutant lived or timed out.\n") {
		t.Fatalf("got:\n%s", out.String())
	}
}

func TestReportRefuses(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"testdata/first.json"}, {"=testdata/first.json"}, {"pkg="}, {"pkg=" + bad}} {
		if err := run(&bytes.Buffer{}, args); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}
