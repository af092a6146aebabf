// Package gremlins reads and writes the JSON results of gremlins v0.6.0 (`gremlins unleash --output`;
// internal/report/internal.OutputResult there): the fields scripts/mutatereport and scripts/mutatecases
// use. File names are relative to the mutated package.
package gremlins

import (
	"encoding/json"
	"fmt"
	"os"
)

// Result is a run's result.
type Result struct {
	GoModule string `json:"go_module,omitempty"`
	Files    []File `json:"files"`
}

// File is one source file's mutants.
type File struct {
	Name      string     `json:"file_name"`
	Mutations []Mutation `json:"mutations"`
}

// Mutation is one mutant: its mutator, its verdict and where it is.
type Mutation struct {
	Type   string `json:"type"`
	Status string `json:"status"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
}

// Statuses as gremlins writes them (internal/mutator.Status.String).
const (
	Killed     = "KILLED"
	Lived      = "LIVED"
	TimedOut   = "TIMED OUT"
	NotCovered = "NOT COVERED"
	NotViable  = "NOT VIABLE"
)

// Read reads the result at path; a missing file is an error that wraps fs.ErrNotExist.
func Read(path string) (Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Result{}, err
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return Result{}, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}
