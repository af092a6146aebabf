package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// asSignet makes this test binary the signet command for the documentation's shell blocks: a wrapper script
// named signet runs it with this variable set.
const asSignet = "SIGNET_DOCTEST_AS_SIGNET"

func TestMain(m *testing.M) {
	if os.Getenv(asSignet) == "1" {
		os.Exit(runMain(os.Args[1:], os.Environ()))
	}
	os.Exit(m.Run())
}

// runMain is main without the process: the exit code of one signet invocation.
func runMain(args, environ []string) int {
	cmd := newRootCmd(environ)
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "signet:", err)
		return 1
	}
	return 0
}

// docBlock is one fenced shell block of a document.
type docBlock struct {
	doc, text string
	line      int
	skip      string // the reason given in <!-- doc-test: skip: reason --> above the block
	// runBy names the test that runs the block, from <!-- doc-test: run by TestX (package) -->.
	runBy, runByPkg string
}

// TestEveryJavaScriptBlockIsRunOrExcused: a JavaScript block of the documentation is either run by a named test
// (which must exist in the named package) or carries the reason it cannot run outside a bank's page.
func TestEveryJavaScriptBlockIsRunOrExcused(t *testing.T) {
	docs, err := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	docs = append(docs, filepath.Join("..", "..", "README.md"))
	seen := 0
	for _, doc := range docs {
		for _, b := range fencedBlocks(t, doc, "js") {
			seen++
			switch {
			case b.runBy != "":
				tests, _ := filepath.Glob(filepath.Join("..", "..", b.runByPkg, "*_test.go"))
				found := false
				for _, f := range tests {
					raw, _ := os.ReadFile(f)
					found = found || strings.Contains(string(raw), "func "+b.runBy+"(t *testing.T)")
				}
				if !found {
					t.Errorf("%s:%d says it is run by %s in %s, which does not exist", filepath.Base(doc), b.line, b.runBy, b.runByPkg)
				}
			case b.skip == "":
				t.Errorf("%s:%d: a JavaScript block neither run by a test nor marked with why it cannot run", filepath.Base(doc), b.line)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no JavaScript block found: the extraction is broken")
	}
}

var (
	skipMarker  = regexp.MustCompile(`^<!-- doc-test: skip: (.+) -->$`)
	runByMarker = regexp.MustCompile(`^<!-- doc-test: run by (Test\w+) \((\S+)\) -->$`)
)

// shellBlocks returns the ```sh blocks of a Markdown file, in order.
func shellBlocks(t *testing.T, path string) []docBlock { return fencedBlocks(t, path, "sh") }

// fencedBlocks returns the ```lang blocks of a Markdown file, in order, with the skip reason or the name of the
// test that runs them ("TestX (package)") from the marker line above each.
func fencedBlocks(t *testing.T, path, lang string) []docBlock {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []docBlock
	lines := strings.Split(string(raw), "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```"+lang {
			continue
		}
		b := docBlock{doc: path, line: i + 1}
		for j := i - 1; j >= 0 && j >= i-2; j-- {
			if m := skipMarker.FindStringSubmatch(strings.TrimSpace(lines[j])); m != nil {
				b.skip = m[1]
			}
			if m := runByMarker.FindStringSubmatch(strings.TrimSpace(lines[j])); m != nil {
				b.runBy, b.runByPkg = m[1], m[2]
			}
		}
		var body []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			body = append(body, lines[i])
		}
		b.text = strings.Join(body, "\n") + "\n"
		blocks = append(blocks, b)
	}
	return blocks
}

// TestDocumentedCommandsWork runs every shell block of README.md and docs/*.md, as printed, against a real
// signet serve in embedded mode started the way `make run` starts it, with the signet command on PATH. The
// blocks of one document run in order in one shell (later blocks use what earlier ones set); curl fails on an
// HTTP error. A block that cannot run here says why in a <!-- doc-test: skip: reason --> line above it.
// The only change made to the text is the server's address: localhost:8080 becomes the test server's.
func TestDocumentedCommandsWork(t *testing.T) {
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found", tool)
		}
	}
	docs, err := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	// README first, then the PowerAuth quick start, whose phone (phone.json) later recipes use; the rest in order.
	first := []string{filepath.Join("..", "..", "README.md"), filepath.Join("..", "..", "docs", "powerauth.md")}
	docs = append(first, slices.DeleteFunc(docs, func(d string) bool { return slices.Contains(first, d) })...)

	work := t.TempDir()
	bin := filepath.Join(work, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	wrapper := fmt.Sprintf("#!/bin/sh\n%s=1 exec %q \"$@\"\n", asSignet, self)
	if err := os.WriteFile(filepath.Join(bin, "signet"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}

	// A port of its own, known before the start, so that the embedded defaults (issuer, origins) follow it as
	// they follow SIGNET_HTTP_ADDR for a user who moves make run's port.
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := probe.Addr().String()
	probe.Close()
	cfg, err := loadConfig([]string{"SIGNET_DATA_DIR=" + filepath.Join(work, "data"), "SIGNET_HTTP_ADDR=" + listen,
		"SIGNET_ADMIN_ADDR=127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ensureEmbeddedSecrets(&cfg, io.Discard); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- serve(ctx, cfg, newLogger(io.Discard, cfg), ready, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}
	if resp, err := http.Get("http://" + addr + "/readyz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("server not ready: %v %v", resp, err)
	}

	// localhost:<port>, not 127.0.0.1:<port>: the embedded issuer follows the listen port under the name
	// localhost (config), and the gateway recipe checks the issuer.
	_, port, _ := net.SplitHostPort(addr)
	local := "localhost:" + port
	ran := 0
	for _, doc := range docs {
		var script strings.Builder
		for _, b := range shellBlocks(t, doc) {
			if b.skip != "" {
				t.Logf("%s:%d skipped: %s", filepath.Base(doc), b.line, b.skip)
				continue
			}
			fmt.Fprintf(&script, "# %s:%d\n%s", filepath.Base(doc), b.line, strings.ReplaceAll(b.text, "localhost:8080", local))
			ran++
		}
		if script.Len() == 0 {
			continue
		}
		t.Run(filepath.Base(doc), func(t *testing.T) {
			// curl fails on an HTTP error, except where the block prints the status itself (-w) to check it.
			prelude := `set -euo pipefail
curl() {
  case " $* " in *" -w "*|*" --write-out "*) command curl --max-time 30 "$@" ;; *) command curl --fail-with-body --max-time 30 "$@" ;; esac
}
`
			cmd := exec.Command("bash", "-c", prelude+script.String())
			cmd.Dir = work
			cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
				"SIGNET_DATA_DIR="+filepath.Join(work, "data"))
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				t.Fatalf("the shell blocks of %s fail: %v\nscript:\n%s\noutput:\n%s", doc, err, script.String(), out.String())
			}
		})
	}
	if ran == 0 {
		t.Fatal("no shell block found: the extraction is broken")
	}
}
