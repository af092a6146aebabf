package gateway_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// readinessBody is /readyz's body, the same shape on signet serve and signet gateway.
type readinessBody struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

func readiness(t *testing.T, u string) (int, readinessBody) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b readinessBody
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		t.Fatalf("readyz body: %v", err)
	}
	return resp.StatusCode, b
}
