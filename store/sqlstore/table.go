package sqlstore

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"gorm.io/gorm/schema"
)

// A table is declared once, by its row struct (rows.go): the struct's fields,
// with their gorm:"column:..." tags, are the table's columns in field order,
// and the struct is the gorm model every gorm read and write uses. declare
// parses the struct once, at package initialisation, with gorm's own schema
// parser, and the statements written by hand that name every column take them
// from the result: the column lists and scan destinations of the by-id reads
// (reads.go), the INSERT and compare-and-swap UPDATE of the PostgreSQL
// one-statement writes and their values (alongside.go), the audit insert
// (events.go) and the columns no swap writes (crud.go).
//
// Adding a column therefore touches the store record, the row struct's field,
// the record<->row conversion and a new migration on each dialect:
// TestTablesMatchMigrations fails when the migration and the row struct
// disagree, and the conformance suite's round trip (storetest) when the
// conversion drops the field.
type table[R any] struct {
	name    string
	columns []string // every column, in field order
	fields  []int    // the struct field of each column
	// zero is the SQL literal of each column's Go zero value where the column
	// is NOT NULL ('' for text, 0 for numbers, FALSE for booleans), and "" for
	// bytes and times, whose zero value is NULL.
	zero []string
	// inserted are the columns an INSERT writes (all but the one the database
	// assigns, audit_events.seq), swapped those a compare-and-swap writes
	// (inserted less insertOnly), as indexes into columns.
	inserted, swapped []int
}

// insertOnly are the columns written once, by the insert: no swap changes them.
var insertOnly = []string{"id", "created_at"}

// declare describes the table of row struct R. A field of a type the store
// does not bind panics, at package initialisation.
func declare[R any]() table[R] {
	sch, err := schema.Parse(new(R), &sync.Map{}, schema.NamingStrategy{})
	if err != nil {
		panic(fmt.Sprintf("sqlstore: declare %T: %v", *new(R), err))
	}
	t := table[R]{name: sch.Table}
	for _, f := range sch.Fields {
		if f.DBName == "" || len(f.StructField.Index) != 1 {
			panic(fmt.Sprintf("sqlstore: declare %s: field %s is not a column of its own", sch.Table, f.Name))
		}
		zero, ok := zeroLiteral[f.FieldType]
		if !ok {
			panic(fmt.Sprintf("sqlstore: declare %s: column %s has type %s, which values and dests do not bind", sch.Table, f.DBName, f.FieldType))
		}
		i := len(t.columns)
		t.columns = append(t.columns, f.DBName)
		t.fields = append(t.fields, f.StructField.Index[0])
		t.zero = append(t.zero, zero)
		if f.AutoIncrement {
			continue
		}
		t.inserted = append(t.inserted, i)
		if !slices.Contains(insertOnly, f.DBName) {
			t.swapped = append(t.swapped, i)
		}
	}
	return t
}

// zeroLiteral holds the field types a row struct may have, and the SQL form of
// their zero value (see table.zero).
var zeroLiteral = map[reflect.Type]string{
	reflect.TypeFor[string](): "''",
	reflect.TypeFor[int]():    "0",
	reflect.TypeFor[int64]():  "0",
	reflect.TypeFor[bool]():   "FALSE",
	reflect.TypeFor[[]byte](): "",
	reflect.TypeFor[dbTime](): "",
}

// list is the comma-separated names of cols (indexes into t.columns), each
// prefixed with prefix (a table alias and a dot, or "").
func (t *table[R]) list(prefix string, cols []int) string {
	var b strings.Builder
	for n, i := range cols {
		if n > 0 {
			b.WriteString(", ")
		}
		b.WriteString(prefix + t.columns[i])
	}
	return b.String()
}

// all is every column's index, for list.
func (t *table[R]) all() []int {
	out := make([]int, len(t.columns))
	for i := range out {
		out[i] = i
	}
	return out
}

// appendDests appends a scan destination for each column of t, in order: the
// address of r's field.
func (t *table[R]) appendDests(dst []any, r *R) []any {
	v := reflect.ValueOf(r).Elem()
	for _, f := range t.fields {
		dst = append(dst, v.Field(f).Addr().Interface())
	}
	return dst
}

// appendValues appends r's value of each of cols (indexes into t.columns).
// The typed conversions box each value as a literal in the code would (no
// more allocations than a hand-written list); declare admits no other type.
func (t *table[R]) appendValues(dst []any, r *R, cols []int) []any {
	v := reflect.ValueOf(r).Elem()
	for _, i := range cols {
		switch p := v.Field(t.fields[i]).Addr().Interface().(type) {
		case *string:
			dst = append(dst, *p)
		case *int:
			dst = append(dst, *p)
		case *int64:
			dst = append(dst, *p)
		case *bool:
			dst = append(dst, *p)
		case *[]byte:
			dst = append(dst, *p)
		case *dbTime:
			dst = append(dst, *p)
		}
	}
	return dst
}

// placeholders is n ? placeholders, comma-separated.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// insertSQL is INSERT INTO t (the inserted columns) VALUES (?, ...), with ?
// placeholders for appendValues(..., t.inserted).
func (t *table[R]) insertSQL() string {
	return "INSERT INTO " + t.name + " (" + t.list("", t.inserted) + ") VALUES (" + placeholders(len(t.inserted)) + ")"
}

// swapSQL is the compare-and-swap UPDATE of the swapped columns, with ?
// placeholders for appendValues(..., t.swapped), then the id and the version
// the row must still have.
func (t *table[R]) swapSQL() string {
	set := make([]string, len(t.swapped))
	for n, i := range t.swapped {
		set[n] = t.columns[i] + " = ?"
	}
	return "UPDATE " + t.name + " SET " + strings.Join(set, ", ") + " WHERE id = ? AND version = ?"
}
