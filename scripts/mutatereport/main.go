// Command mutatereport reads the JSON results of gremlins runs (`gremlins unleash --output`) and prints
// the kill rate of each package as a Markdown table, then every mutant that lived or timed out, by
// position, so that each can be killed by a test or listed as equivalent in docs/testing.md. `make
// mutate` runs it on the results of the packages it mutated, and `make mutate-report` prints them again.
// Each argument is a package and a result file of it (gremlins names files relative to the package):
//
//	go run ./scripts/mutatereport gateway=.mutate/gateway.json txsign/verify=.mutate/txsign-verify.json
//
// Results of several runs of one package (a run stopped partway and a run of the files it did not
// reach) are merged: a mutant is identified by its package, file, line, column and mutator, and a later
// argument wins over an earlier one. A result file that does not exist is reported as not run. Efficacy is gremlins' own: killed over killed and lived
// (timed-out and not-covered mutants are counted apart). It exits 1 when a file cannot be read.
package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/signet-sca/signet/scripts/internal/gremlins"
)

// mutant is one mutation at its position: what identifies it across runs.
type mutant struct {
	file         string
	line, column int
	typ          string
}

type counts struct{ killed, lived, timedOut, notCovered, notViable int }

func (c counts) efficacy() string {
	if c.killed+c.lived == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f %%", 100*float64(c.killed)/float64(c.killed+c.lived))
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: mutatereport PACKAGE=RESULT.json...")
		os.Exit(2)
	}
	if err := run(os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mutatereport:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, args []string) error {
	status := map[mutant]string{}
	var notRun []string
	for _, arg := range args {
		pkg, f, ok := strings.Cut(arg, "=")
		if !ok || pkg == "" || f == "" {
			return fmt.Errorf("%q: want PACKAGE=RESULT.json", arg)
		}
		r, err := gremlins.Read(f)
		if errors.Is(err, fs.ErrNotExist) {
			notRun = append(notRun, pkg)
			continue
		}
		if err != nil {
			return err
		}
		for _, file := range r.Files {
			for _, m := range file.Mutations {
				status[mutant{path.Join(pkg, file.Name), m.Line, m.Column, m.Type}] = m.Status
			}
		}
	}
	report(w, status, notRun)
	return nil
}

func report(w io.Writer, status map[mutant]string, notRun []string) {
	byPkg := map[string]*counts{}
	var attention []mutant
	for m, s := range status {
		pkg := path.Dir(m.file)
		c := byPkg[pkg]
		if c == nil {
			c = &counts{}
			byPkg[pkg] = c
		}
		switch s {
		case gremlins.Killed:
			c.killed++
		case gremlins.Lived:
			c.lived++
			attention = append(attention, m)
		case gremlins.TimedOut:
			c.timedOut++
			attention = append(attention, m)
		case gremlins.NotCovered:
			c.notCovered++
		case gremlins.NotViable:
			c.notViable++
		}
	}
	pkgs := make([]string, 0, len(byPkg))
	for p := range byPkg {
		pkgs = append(pkgs, p)
	}
	slices.Sort(pkgs)
	fmt.Fprintln(w, "| package | killed | lived | timed out | not covered | not viable | efficacy |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- |")
	for _, p := range pkgs {
		c := byPkg[p]
		fmt.Fprintf(w, "| `%s` | %d | %d | %d | %d | %d | %s |\n", p, c.killed, c.lived, c.timedOut, c.notCovered,
			c.notViable, c.efficacy())
	}
	for _, p := range notRun {
		if byPkg[p] == nil {
			fmt.Fprintf(w, "| `%s` | not run | | | | | |\n", p)
		}
	}
	if len(attention) == 0 {
		fmt.Fprintln(w, "\nNo mutant lived or timed out.")
		return
	}
	slices.SortFunc(attention, func(a, b mutant) int {
		if c := strings.Compare(a.file, b.file); c != 0 {
			return c
		}
		if a.line != b.line {
			return a.line - b.line
		}
		if a.column != b.column {
			return a.column - b.column
		}
		return strings.Compare(a.typ, b.typ)
	})
	fmt.Fprintln(w, "\nTo kill with a test, or to list as equivalent in docs/testing.md:")
	for _, m := range attention {
		fmt.Fprintf(w, "  %-9s %s:%d:%d %s\n", status[m], m.file, m.line, m.column, m.typ)
	}
}
