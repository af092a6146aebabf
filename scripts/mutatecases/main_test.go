package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const src = `package p

func f(n int) int {
	switch {
	case n >= -1:
		return n - 1
	}
	return 0
}
`

func TestMutate(t *testing.T) {
	for _, tt := range []struct {
		line, col int
		typ       string
		want      string // the mutated line; "" for an error
		wantErr   error
	}{
		{5, 9, "CONDITIONALS_BOUNDARY", "\tcase n > -1:", nil},
		{5, 9, "CONDITIONALS_NEGATION", "\tcase n < -1:", nil},
		{5, 12, "INVERT_NEGATIVES", "\tcase n >= +1:", nil},
		{6, 12, "ARITHMETIC_BASE", "", errNotInCase}, // a return statement: coverage sees it
		{3, 1, "ARITHMETIC_BASE", "", errNotInCase},
		{5, 9, "ARITHMETIC_BASE", "", nil}, // no such mutation of >=
	} {
		got, err := mutate([]byte(src), tt.line, tt.col, tt.typ, true)
		switch {
		case tt.wantErr != nil:
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("%d:%d %s: error %v, want %v", tt.line, tt.col, tt.typ, err, tt.wantErr)
			}
		case tt.want == "":
			if err == nil {
				t.Errorf("%d:%d %s: no error", tt.line, tt.col, tt.typ)
			}
		case err != nil:
			t.Errorf("%d:%d %s: %v", tt.line, tt.col, tt.typ, err)
		default:
			lines := strings.Split(string(got), "\n")
			if lines[tt.line-1] != tt.want {
				t.Errorf("%d:%d %s: %q, want %q", tt.line, tt.col, tt.typ, lines[tt.line-1], tt.want)
			}
			if strings.Join(append(lines[:tt.line-1:tt.line-1], lines[tt.line:]...), "\n") !=
				strings.Join(append(strings.Split(src, "\n")[:tt.line-1:tt.line-1], strings.Split(src, "\n")[tt.line:]...), "\n") {
				t.Errorf("%d:%d %s: other lines changed:\n%s", tt.line, tt.col, tt.typ, got)
			}
		}
	}
}

// TestRun runs the case mutants of a fixture module's gremlins result against its tests: the untested
// boundary at 100 lives, the negations are killed, the mutant in a return statement and the comparison
// already run are left alone; of the two KILLED + mutants, the one on strings does not build.
func TestRun(t *testing.T) {
	var log bytes.Buffer
	res, err := run(context.Background(), &log, "testdata/mod/sign", "testdata/result.json", 0)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if len(res.Files) != 1 || res.Files[0].Name != "sign.go" {
		t.Fatalf("files %+v", res.Files)
	}
	want := []mutation{
		{Type: "CONDITIONALS_BOUNDARY", Status: "LIVED", Line: 10, Column: 9},
		{Type: "CONDITIONALS_NEGATION", Status: "KILLED", Line: 10, Column: 9},
		{Type: "CONDITIONALS_NEGATION", Status: "KILLED", Line: 12, Column: 9},
		{Type: "ARITHMETIC_BASE", Status: "NOT VIABLE", Line: 22, Column: 16},
		{Type: "ARITHMETIC_BASE", Status: "KILLED", Line: 22, Column: 32},
	}
	got := res.Files[0].Mutations
	if len(got) != len(want) {
		t.Fatalf("mutations %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("mutation %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if !strings.Contains(log.String(), "   1/5 LIVED       CONDITIONALS_BOUNDARY at sign.go:10:9\n") {
		t.Errorf("progress:\n%s", log.String())
	}
}

func TestGoTestStatuses(t *testing.T) {
	if s, out := goTest(context.Background(), "testdata/mod/sign", "", 0); s != "LIVED" {
		t.Fatalf("unmutated: %s\n%s", s, out)
	}
	if s, _ := goTest(context.Background(), "testdata/mod/sign", "", time.Nanosecond); s != "TIMED OUT" {
		t.Fatalf("past its timeout: %s", s)
	}
	dir := t.TempDir()
	abs, err := filepath.Abs("testdata/mod/sign/sign.go")
	if err != nil {
		t.Fatal(err)
	}
	broken, overlay := filepath.Join(dir, "broken.go"), filepath.Join(dir, "overlay.json")
	ov, _ := json.Marshal(map[string]any{"Replace": map[string]string{abs: broken}})
	if err := os.WriteFile(broken, []byte("package sign\n\nfunc Of(n int) int { return \"n\" }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(overlay, ov, 0o600); err != nil {
		t.Fatal(err)
	}
	if s, out := goTest(context.Background(), "testdata/mod/sign", overlay, 0); s != "NOT VIABLE" {
		t.Fatalf("a mutant that does not build: %s\n%s", s, out)
	}
}
