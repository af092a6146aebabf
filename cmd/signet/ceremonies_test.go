package main

import (
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/signet-sca/signet/ceremony"
	"github.com/signet-sca/signet/config"
)

// TestCeremoniesFor: WebAuthn ceremonies live where every replica can reach them: Redis whenever it
// is configured, the database for PostgreSQL alone, the process only in the embedded mode (SQLite).
func TestCeremoniesFor(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled: nothing is stored
	defer client.Close()
	for _, tc := range []struct {
		name   string
		db     string
		client redis.UniversalClient
		want   string
	}{
		{"embedded", "./data/signet.db", nil, fmt.Sprintf("%T", &ceremony.Memory{})},
		{"PostgreSQL without Redis", "postgres://signet@db/signet", nil, fmt.Sprintf("%T", &ceremony.DB{})},
		{"PostgreSQL and Redis", "postgresql://signet@db/signet", client, fmt.Sprintf("%T", &ceremony.Redis{})},
		{"SQLite and Redis", "./data/signet.db", client, fmt.Sprintf("%T", &ceremony.Redis{})},
	} {
		if got := fmt.Sprintf("%T", ceremoniesFor(config.Config{DatabaseURL: tc.db}, nil, tc.client)); got != tc.want {
			t.Errorf("%s: ceremonies in %s; want %s", tc.name, got, tc.want)
		}
	}
}
