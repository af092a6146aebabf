package loadbench

import "testing"

// The deltas are per completed operation, less the bench's own reading of
// the counters (one or two autocommitted queries).
func TestPerOp(t *testing.T) {
	before := pgCounters{commits: 100, inserted: 10, updated: 5, deleted: 1, statements: 50, own: 2}
	after := pgCounters{commits: 132, rollbacks: 1, inserted: 30, updated: 25, deleted: 1, statements: 152, own: 2}
	got := perOp(before, after, 10)
	if got.Commits != 3 || got.Rollbacks != 0.1 || got.RowsWrite != 4 || got.Statements != 10 {
		t.Fatalf("perOp = %+v, want 3 commits, 0.1 rollbacks, 4 rows, 10 statements", *got)
	}
	if perOp(before, after, 0) != nil {
		t.Fatal("no completed operation: want nil, not a division by zero")
	}
	before.statements = -1 // pg_stat_statements missing
	if got := perOp(before, after, 10); got.Statements != 0 {
		t.Fatalf("statements without pg_stat_statements: %v", got.Statements)
	}
}
