// Command mutatecases runs the mutants gremlins cannot: those in the expressions of a switch's case
// clauses. Go's coverage profile gives a case expression no block of its own (a block starts after the
// clause's colon), so gremlins v0.6.0 reports every mutant there as NOT COVERED and never runs it, even
// when the package's tests depend on it. This command takes a gremlins result of a package (a full run or
// a --dry-run, written with --output), applies each NOT COVERED mutant that lies in a case expression the
// way gremlins would (the same token replacements), runs the package's tests against it through
// `go test -overlay` (the source files are never written), and writes the verdicts as a gremlins result:
//
//	go run ./scripts/mutatecases -o .mutate/gateway-cases.json ./gateway .mutate/gateway.json
//	go run ./scripts/mutatereport gateway=.mutate/gateway.json gateway=.mutate/gateway-cases.json
//
// A mutant is KILLED when the tests fail, LIVED when they pass, NOT VIABLE when it does not build and
// TIMED OUT past -timeout (default: ten times the unmutated run, as make mutate's coefficient). It prints
// a line per mutant as it goes. Other NOT COVERED mutants are left to tests that reach their lines.
//
// It also corrects gremlins' other blind spot: `go test` exits 1 when the package does not build as when a
// test fails, and gremlins v0.6.0 reads both as KILLED. The one mutation that can fail to build is `+` →
// `-` (ARITHMETIC_BASE) on strings, so each KILLED mutant of a `+` is built again (`go build -overlay`, the
// package alone) and written as NOT VIABLE when it does not build.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/signet-sca/signet/scripts/internal/gremlins"
)

// The gremlins result types, by their short names here.
type (
	result   = gremlins.Result
	file     = gremlins.File
	mutation = gremlins.Mutation
)

// replacements are gremlins' token mutations (internal/engine/mappings.go, tokenMutations) for the
// mutator types it enables by default.
var replacements = map[string]map[token.Token]token.Token{
	"ARITHMETIC_BASE": {token.ADD: token.SUB, token.MUL: token.QUO, token.QUO: token.MUL, token.REM: token.MUL,
		token.SUB: token.ADD},
	"CONDITIONALS_BOUNDARY": {token.GEQ: token.GTR, token.GTR: token.GEQ, token.LEQ: token.LSS, token.LSS: token.LEQ},
	"CONDITIONALS_NEGATION": {token.EQL: token.NEQ, token.GEQ: token.LSS, token.GTR: token.LEQ, token.LEQ: token.GTR,
		token.LSS: token.GEQ, token.NEQ: token.EQL},
	"INCREMENT_DECREMENT": {token.DEC: token.INC, token.INC: token.DEC},
	"INVERT_NEGATIVES":    {token.SUB: token.ADD},
}

var errNotInCase = errors.New("not in a case expression")

// mutate returns src with the mutation of type typ applied to the token at line:col, or, when caseOnly is
// set, errNotInCase when that position is not inside an expression of a case clause.
func mutate(src []byte, line, col int, typ string, caseOnly bool) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "x.go", src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	tf := fset.File(f.Pos())
	if line < 1 || line > tf.LineCount() {
		return nil, fmt.Errorf("line %d is outside the file", line)
	}
	pos := tf.LineStart(line) + token.Pos(col-1)
	inCase := false
	ast.Inspect(f, func(n ast.Node) bool {
		if cc, ok := n.(*ast.CaseClause); ok {
			for _, e := range cc.List {
				if e.Pos() <= pos && pos < e.End() {
					inCase = true
				}
			}
		}
		return !inCase
	})
	if caseOnly && !inCase {
		return nil, errNotInCase
	}
	var s scanner.Scanner
	s.Init(tf, src, nil, 0)
	for {
		p, tok, lit := s.Scan()
		if tok == token.EOF {
			return nil, fmt.Errorf("no token at %d:%d", line, col)
		}
		if p != pos {
			continue
		}
		to, ok := replacements[typ][tok]
		if !ok {
			return nil, fmt.Errorf("%d:%d: %s does not apply to %q", line, col, typ, tok.String()+lit)
		}
		off := tf.Offset(p)
		out := append([]byte{}, src[:off]...)
		out = append(out, to.String()...)
		return append(out, src[off+len(tok.String()):]...), nil
	}
}

func main() {
	out := flag.String("o", "", "write the verdicts here as a gremlins result (default: standard output)")
	timeout := flag.Duration("timeout", 0, "a mutant's test run is TIMED OUT past this (default: 10x the unmutated run)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: mutatecases [-o OUT.json] [-timeout D] ./PACKAGE RESULT.json")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 2 {
		flag.Usage()
		os.Exit(2)
	}
	res, err := run(context.Background(), os.Stderr, flag.Arg(0), flag.Arg(1), *timeout)
	if err == nil {
		err = write(*out, res)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutatecases:", err)
		os.Exit(1)
	}
}

func write(path string, res result) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "" {
		_, err = os.Stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// run runs the case-expression mutants of the NOT COVERED ones in the result at resultPath, of the
// package in dir, printing progress to log.
func run(ctx context.Context, log io.Writer, dir, resultPath string, timeout time.Duration) (result, error) {
	in, err := gremlins.Read(resultPath)
	if err != nil {
		return result{}, err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return result{}, err
	}
	type job struct {
		file      string
		m         mutation
		src       []byte
		buildOnly bool // a KILLED mutant whose build is checked
	}
	var jobs []job
	for _, f := range in.Files {
		src, err := os.ReadFile(filepath.Join(dir, f.Name))
		if err != nil {
			return result{}, err
		}
		for _, m := range f.Mutations {
			buildOnly := m.Status == gremlins.Killed && m.Type == "ARITHMETIC_BASE" && tokenAt(src, m.Line, m.Column) == token.ADD
			if m.Status != gremlins.NotCovered && !buildOnly {
				continue
			}
			mutated, err := mutate(src, m.Line, m.Column, m.Type, !buildOnly)
			if errors.Is(err, errNotInCase) {
				continue
			}
			if err != nil {
				return result{}, fmt.Errorf("%s: %w", f.Name, err)
			}
			jobs = append(jobs, job{f.Name, m, mutated, buildOnly})
		}
	}
	out := result{GoModule: in.GoModule}
	if len(jobs) == 0 {
		fmt.Fprintln(log, "no NOT COVERED mutant is in a case expression, and no KILLED one is a +")
		return out, nil
	}
	if timeout == 0 {
		start := time.Now()
		if status, output := goTest(ctx, dir, "", 0); status != gremlins.Lived {
			return result{}, fmt.Errorf("the unmutated package's tests do not pass:\n%s", output)
		}
		timeout = 10 * time.Since(start)
	}
	tmp, err := os.MkdirTemp("", "mutatecases")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(tmp)
	byFile := map[string]int{}
	for i, j := range jobs {
		mutated := filepath.Join(tmp, "mutant.go")
		overlay := filepath.Join(tmp, "overlay.json")
		ov, _ := json.Marshal(map[string]any{"Replace": map[string]string{filepath.Join(dir, j.file): mutated}})
		if err := os.WriteFile(mutated, j.src, 0o600); err != nil {
			return result{}, err
		}
		if err := os.WriteFile(overlay, ov, 0o600); err != nil {
			return result{}, err
		}
		var status string
		if j.buildOnly {
			if status = goBuild(ctx, dir, overlay); status != gremlins.NotViable {
				status = j.m.Status
			}
		} else {
			status, _ = goTest(ctx, dir, overlay, timeout)
		}
		j.m.Status = status
		fmt.Fprintf(log, "%4d/%d %-11s %s at %s:%d:%d\n", i+1, len(jobs), status, j.m.Type, j.file, j.m.Line, j.m.Column)
		k, ok := byFile[j.file]
		if !ok {
			k = len(out.Files)
			byFile[j.file] = k
			out.Files = append(out.Files, file{Name: j.file})
		}
		out.Files[k].Mutations = append(out.Files[k].Mutations, j.m)
	}
	return out, nil
}

// tokenAt returns the token at line:col of src (token.ILLEGAL when none starts there).
func tokenAt(src []byte, line, col int) token.Token {
	fset := token.NewFileSet()
	tf := fset.AddFile("x.go", -1, len(src))
	var s scanner.Scanner
	s.Init(tf, src, nil, 0)
	for {
		p, tok, _ := s.Scan()
		if tok == token.EOF {
			return token.ILLEGAL
		}
		if pos := tf.Position(p); pos.Line == line && pos.Column == col {
			return tok
		}
	}
}

// goBuild builds the package in dir with the overlay: NOT VIABLE when it does not build.
func goBuild(ctx context.Context, dir, overlay string) string {
	cmd := exec.CommandContext(ctx, "go", "build", "-overlay", overlay, "-o", os.DevNull, ".")
	cmd.Dir = dir
	if err := cmd.Run(); err != nil {
		return gremlins.NotViable
	}
	return "BUILDS"
}

// goTest runs the tests of the package in dir (with the overlay, when not empty) and returns the
// mutant's status: LIVED when they pass, KILLED when they fail, NOT VIABLE when the package does not
// build and TIMED OUT past timeout (none when 0).
func goTest(ctx context.Context, dir, overlay string, timeout time.Duration) (status, output string) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	args := []string{"test", "-count=1", "-vet=off"} // the tests kill a mutant, not vet
	if overlay != "" {
		args = append(args, "-overlay", overlay)
	}
	cmd := exec.CommandContext(ctx, "go", append(args, ".")...)
	cmd.Dir = dir
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	switch {
	case err == nil:
		return gremlins.Lived, buf.String()
	case ctx.Err() != nil:
		return gremlins.TimedOut, buf.String()
	case strings.Contains(buf.String(), "[build failed]") || strings.Contains(buf.String(), "[setup failed]"):
		return gremlins.NotViable, buf.String()
	default:
		return gremlins.Killed, buf.String()
	}
}
