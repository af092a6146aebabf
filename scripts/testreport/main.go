// Command testreport runs `go test -json` with the arguments it is given, prints what a plain
// `go test` would (a line per package, the full output of failing tests and packages, build
// errors) and ends with a summary of the tests that were skipped, grouped by the service they
// lacked (PostgreSQL, Redis, Chromium, Node.js), so that a green local run is not mistaken for
// CI's. It exits with go test's exit status. `make test` runs it:
//
//	go build -o /tmp/x/testreport ./scripts/testreport && /tmp/x/testreport -race -count=1 ./...
//
// With -v among the arguments every line of output is printed as it comes, as `go test -v`
// would. The go command is $GO, or "go".
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
)

func main() {
	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	args := os.Args[1:]
	cmd := exec.Command(goCmd, append([]string{"test", "-json"}, args...)...)
	cmd.Stdin, cmd.Stderr = os.Stdin, os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	r := newReport(os.Stdout, verbose(args))
	if err := r.read(out); err != nil {
		fmt.Fprintln(os.Stderr, "testreport: reading go test -json:", err)
	}
	waitErr := cmd.Wait()
	r.summary()
	var exit *exec.ExitError
	switch {
	case errors.As(waitErr, &exit):
		os.Exit(exit.ExitCode())
	case waitErr != nil:
		fmt.Fprintln(os.Stderr, "testreport:", waitErr)
		os.Exit(2)
	}
}

// verbose reports whether the go test arguments ask for -v.
func verbose(args []string) bool {
	for _, a := range args {
		switch a {
		case "-v", "--v", "-v=true", "--v=true", "-test.v", "-test.v=true":
			return true
		}
	}
	return false
}

// event is one line of `go test -json` (cmd/test2json; build events since Go 1.24).
type event struct {
	Action     string
	Package    string
	ImportPath string // build-output, build-fail
	Test       string
	Output     string
}

type test struct {
	pkg, name string
	output    []string
	done      bool
}

type skip struct {
	pkg, test, reason string
}

type report struct {
	w       io.Writer
	verbose bool
	tests   map[string]*test    // by package + "\x00" + test name
	pkgOut  map[string][]string // package-level output
	skips   []skip
	failed  []string // "pkg TestName"
	pkgFail []string // packages that failed without a failing test (build, panic, timeout)
}

func newReport(w io.Writer, verbose bool) *report {
	return &report{w: w, verbose: verbose, tests: map[string]*test{}, pkgOut: map[string][]string{}}
}

func (r *report) read(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var ev event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			// Not an event (a toolchain message on stdout): print it as it is.
			fmt.Fprintln(r.w, sc.Text())
			continue
		}
		r.handle(ev)
	}
	return sc.Err()
}

func (r *report) handle(ev event) {
	if ev.Action == "build-output" {
		fmt.Fprint(r.w, ev.Output)
		return
	}
	if ev.Action == "output" && r.verbose {
		fmt.Fprint(r.w, ev.Output)
	}
	if ev.Test == "" {
		r.handlePackage(ev)
		return
	}
	key := ev.Package + "\x00" + ev.Test
	t := r.tests[key]
	if t == nil {
		t = &test{pkg: ev.Package, name: ev.Test}
		r.tests[key] = t
	}
	switch ev.Action {
	case "output":
		t.output = append(t.output, ev.Output)
	case "pass":
		t.done, t.output = true, nil
	case "skip":
		r.skips = append(r.skips, skip{pkg: ev.Package, test: ev.Test, reason: skipReason(t.output)})
		t.done, t.output = true, nil
	case "fail":
		t.done = true
		r.failed = append(r.failed, ev.Package+" "+ev.Test)
		if !r.verbose {
			r.printTest(t)
		}
		t.output = nil
	}
}

func (r *report) handlePackage(ev event) {
	switch ev.Action {
	case "output":
		r.pkgOut[ev.Package] = append(r.pkgOut[ev.Package], ev.Output)
	case "pass", "skip":
		if !r.verbose {
			for _, line := range r.pkgOut[ev.Package] {
				if strings.HasPrefix(line, "ok ") || strings.HasPrefix(line, "? ") {
					fmt.Fprint(r.w, line)
				}
			}
		}
		r.endPackage(ev.Package)
	case "fail":
		if !r.verbose {
			// Tests that never ended (a panic, a timeout) show what they printed, then
			// the package's own output (the panic, FAIL lines).
			for _, t := range r.unfinished(ev.Package) {
				r.printTest(t)
			}
			for _, line := range r.pkgOut[ev.Package] {
				fmt.Fprint(r.w, line)
			}
		}
		if !slices.ContainsFunc(r.failed, func(f string) bool { return strings.HasPrefix(f, ev.Package+" ") }) {
			r.pkgFail = append(r.pkgFail, ev.Package)
		}
		r.endPackage(ev.Package)
	}
}

func (r *report) unfinished(pkg string) []*test {
	var ts []*test
	for _, t := range r.tests {
		if t.pkg == pkg && !t.done {
			ts = append(ts, t)
		}
	}
	slices.SortFunc(ts, func(a, b *test) int { return strings.Compare(a.name, b.name) })
	return ts
}

func (r *report) endPackage(pkg string) {
	delete(r.pkgOut, pkg)
	for k, t := range r.tests {
		if t.pkg == pkg {
			delete(r.tests, k)
		}
	}
}

// printTest prints a test's output without the === RUN/PAUSE/CONT/NAME progress lines, as a
// plain go test shows a failure.
func (r *report) printTest(t *test) {
	for _, line := range t.output {
		if strings.HasPrefix(line, "=== ") {
			continue
		}
		fmt.Fprint(r.w, line)
	}
}

// skipReason is the message the test gave t.Skip: its last output line before "--- SKIP".
func skipReason(output []string) string {
	for i := len(output) - 1; i >= 0; i-- {
		line := strings.TrimSpace(output[i])
		if line == "" || strings.HasPrefix(line, "--- SKIP") || strings.HasPrefix(line, "=== ") {
			continue
		}
		// "file_test.go:12: message"
		if where, msg, ok := strings.Cut(line, ": "); ok && strings.Contains(where, ".go:") {
			return msg
		}
		return line
	}
	return "(no reason given)"
}

// services are what a skip can be for, in the order the summary lists them; the first whose
// word appears in the reason (case-insensitively) claims it.
var services = []struct{ word, heading string }{
	{"make faults", "Fault runs (make faults; CI runs them)"},
	{"postgres", "No PostgreSQL (SIGNET_TEST_POSTGRES_URL)"},
	{"redis", "No Redis (SIGNET_TEST_REDIS_URL)"},
	{"chromium", "No Chromium (SIGNET_TEST_CHROMIUM)"},
	{"node", "No Node.js (node on the PATH)"},
	{"caddy", "No Caddy (SIGNET_TEST_CADDY)"},
}

// maxNames bounds the test names listed per package and service.
const maxNames = 6

func (r *report) summary() {
	w := r.w
	bar := strings.Repeat("=", 78)
	if len(r.failed) > 0 || len(r.pkgFail) > 0 {
		fmt.Fprintf(w, "\n%s\nFAILED:\n", bar)
		for _, f := range r.failed {
			fmt.Fprintf(w, "  %s\n", f)
		}
		for _, p := range r.pkgFail {
			fmt.Fprintf(w, "  %s (build failure, panic or timeout: see above)\n", p)
		}
	}
	if len(r.skips) == 0 {
		fmt.Fprintf(w, "\n%s\nNo test was skipped.\n%s\n", bar, bar)
		return
	}
	groups := map[string][]skip{}
	var other []skip
	for _, s := range r.skips {
		name := ""
		for _, svc := range services {
			if strings.Contains(strings.ToLower(s.reason), svc.word) {
				name = svc.heading
				break
			}
		}
		if name == "" {
			other = append(other, s)
			continue
		}
		groups[name] = append(groups[name], s)
	}
	fmt.Fprintf(w, "\n%s\nSKIPPED: %d tests did not run here. A green run here is NOT a green CI run.\n", bar, len(r.skips))
	for _, svc := range services {
		if g := groups[svc.heading]; len(g) > 0 {
			fmt.Fprintf(w, "\n  %s: %d skipped\n", svc.heading, len(g))
			listByPackage(w, g, false)
		}
	}
	if len(other) > 0 {
		fmt.Fprintf(w, "\n  Other reasons: %d skipped\n", len(other))
		listByPackage(w, other, true)
	}
	fmt.Fprintf(w, "\n  `make test-services` runs the PostgreSQL and Redis tests; SIGNET_TEST_CHROMIUM=/usr/bin/chromium\n"+
		"  the browser tests; SIGNET_TEST_REQUIRE_SERVICES=1 makes a missing service fail, as in CI.\n%s\n", bar)
}

func listByPackage(w io.Writer, skips []skip, reasons bool) {
	byPkg := map[string][]skip{}
	var pkgs []string
	for _, s := range skips {
		if byPkg[s.pkg] == nil {
			pkgs = append(pkgs, s.pkg)
		}
		byPkg[s.pkg] = append(byPkg[s.pkg], s)
	}
	slices.Sort(pkgs)
	for _, p := range pkgs {
		ss := byPkg[p]
		if reasons {
			for _, s := range ss {
				fmt.Fprintf(w, "    %s %s: %s\n", p, s.test, s.reason)
			}
			continue
		}
		names := make([]string, 0, maxNames)
		for _, s := range ss[:min(len(ss), maxNames)] {
			names = append(names, s.test)
		}
		more := ""
		if len(ss) > maxNames {
			more = fmt.Sprintf(" and %d more", len(ss)-maxNames)
		}
		fmt.Fprintf(w, "    %s: %s%s\n", p, strings.Join(names, ", "), more)
	}
}
