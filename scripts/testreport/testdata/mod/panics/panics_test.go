package panics

import "testing"

func TestPanics(t *testing.T) {
	t.Log("before the panic")
	var m map[string]int
	m["x"] = 1
}
