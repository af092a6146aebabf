package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// run runs the built testreport with args in testdata/mod and returns its output and exit
// status, and the exit status of a plain go test with the same arguments.
func run(t *testing.T, bin string, args ...string) (out string, status, goStatus int) {
	t.Helper()
	exitCode := func(err error) int {
		var exit *exec.ExitError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &exit):
			return exit.ExitCode()
		}
		t.Fatal(err)
		return -1
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = filepath.Join("testdata", "mod")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	status = exitCode(cmd.Run())
	plain := exec.Command("go", append([]string{"test"}, args...)...)
	plain.Dir = cmd.Dir
	goStatus = exitCode(plain.Run())
	return stdout.String(), status, goStatus
}

// TestReport runs the real go test -json on a module whose packages pass, skip for each
// service, fail, panic and do not build.
func TestReport(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatal("go is not on the PATH")
	}
	bin := filepath.Join(t.TempDir(), "testreport")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	t.Run("exit status is go test's", func(t *testing.T) {
		for _, args := range [][]string{
			{"./pass"},             // 0
			{"./fail"},             // 1
			{"-count=x", "./pass"}, // 2: a usage error
			{"./pass", "./broken"}, // 1: a build failure
		} {
			_, status, goStatus := run(t, bin, args...)
			if status != goStatus {
				t.Errorf("%v: exit status %d, go test's %d", args, status, goStatus)
			}
		}
	})
	out, status, _ := run(t, bin, "-count=1", "./...")
	if status != 1 {
		t.Errorf("exit status %d, want 1", status)
	}
	for _, want := range []string{
		// What a plain go test prints: package lines, failures in full, build errors.
		"ok  \texample.com/mod/pass\t",
		"FAIL\texample.com/mod/fail\t",
		"fail_test.go:8: the reason it failed\n--- FAIL: TestFails/row",
		"panics_test.go:6: before the panic\n--- FAIL: TestPanics",
		"panic: assignment to entry in nil map",
		"broken.go:3:23: cannot use",
		"FAIL\texample.com/mod/broken [build failed]",
		// The summary.
		"FAILED:\n  example.com/mod/fail TestFails/row\n  example.com/mod/fail TestFails\n  example.com/mod/panics TestPanics\n" +
			"  example.com/mod/broken (build failure, panic or timeout: see above)\n",
		"SKIPPED: 5 tests did not run here. A green run here is NOT a green CI run.",
		"No PostgreSQL (SIGNET_TEST_POSTGRES_URL): 1 skipped\n    example.com/mod/pass: TestNeedsPostgres\n",
		"No Redis (SIGNET_TEST_REDIS_URL): 1 skipped\n    example.com/mod/fail: TestRedis\n",
		"No Chromium (SIGNET_TEST_CHROMIUM): 1 skipped\n    example.com/mod/pass: TestBrowser/enrol\n",
		"Fault runs (make faults; CI runs them): 1 skipped\n    example.com/mod/pass: TestFaults\n",
		"Other reasons: 1 skipped\n    example.com/mod/pass TestNeedsRoot: needs root to give a file away\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for _, unwanted := range []string{"=== RUN", "a passing test's log is not shown", "opening the database", "--- PASS"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("output has %q, which a plain go test does not print", unwanted)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
	t.Run("-v prints every line", func(t *testing.T) {
		out, _, _ := run(t, bin, "-count=1", "-v", "./pass")
		for _, want := range []string{"=== RUN   TestPasses", "a passing test's log is not shown", "--- PASS: TestPasses", "SKIPPED: 4 tests"} {
			if !strings.Contains(out, want) {
				t.Errorf("-v output lacks %q:\n%s", want, out)
			}
		}
	})
}

func TestSkipReason(t *testing.T) {
	for _, tt := range []struct {
		output []string
		want   string
	}{
		{nil, "(no reason given)"},
		{[]string{"=== RUN   TestX\n", "--- SKIP: TestX (0.00s)\n"}, "(no reason given)"},
		{[]string{"=== RUN   TestX\n", "    x_test.go:3: a log line\n", "    x_test.go:4: SIGNET_TEST_REDIS_URL not set\n", "--- SKIP: TestX (0.00s)\n"}, "SIGNET_TEST_REDIS_URL not set"},
		{[]string{"    continuation: of a multi-line reason\n", "--- SKIP: TestX (0.00s)\n"}, "continuation: of a multi-line reason"},
	} {
		if got := skipReason(tt.output); got != tt.want {
			t.Errorf("skipReason(%q) = %q, want %q", tt.output, got, tt.want)
		}
	}
}

func TestMain(m *testing.M) {
	// The module under testdata must not see the repository's go.work or flags.
	os.Setenv("GOWORK", "off")
	os.Unsetenv("GOFLAGS")
	os.Exit(m.Run())
}
