package attest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"sync"
	"time"
)

// DefaultRevocationURL is Google's attestation certificate status list
// (https://developer.android.com/privacy-and-security/security-key-attestation#certificate_status).
const DefaultRevocationURL = "https://android.googleapis.com/attestation/status"

// RevocationEntry is one entry of the status list.
type RevocationEntry struct {
	Status string `json:"status"` // REVOKED or SUSPENDED
	Reason string `json:"reason,omitempty"`
}

// RevocationList fetches and caches the status list: {"entries": {"<serial, lowercase hex>": {...}}}.
// A list older than TTL is fetched again; when that fails the last list is still consulted
// (a revoked serial stays refused), and the caller learns that it is stale.
type RevocationList struct {
	URL    string
	TTL    time.Duration
	Client *http.Client
	Now    func() time.Time

	mu      sync.Mutex
	entries map[string]RevocationEntry
	fetched time.Time
	// failed and failure: the last failed fetch, retried only after retryAfter, so that an
	// unreachable list does not make every registration wait for its own timeout.
	failed  time.Time
	failure error
}

// retryAfter is how long a failed fetch is not retried.
const retryAfter = time.Minute

// maxStatusList bounds the list read (the published list is a few hundred kilobytes).
const maxStatusList = 32 << 20

// Lookup returns the entries for the serials; stale is set when the list could not be
// refreshed and an older copy answered; err is set when no list at all is available.
func (l *RevocationList) Lookup(ctx context.Context, serials []*big.Int) (found map[string]RevocationEntry, stale bool, err error) {
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ttl := l.TTL
	if ttl <= 0 {
		ttl = time.Hour
	}
	if l.entries == nil || now().Sub(l.fetched) >= ttl {
		var ferr error
		if l.failure != nil && now().Sub(l.failed) < retryAfter {
			ferr = l.failure
		} else if entries, err := l.fetch(ctx); err == nil {
			l.entries, l.fetched, l.failure = entries, now(), nil
		} else {
			ferr, l.failure, l.failed = err, err, now()
		}
		switch {
		case ferr == nil:
		case l.entries == nil:
			return nil, false, ferr
		default:
			stale = true
		}
	}
	found = map[string]RevocationEntry{}
	for _, s := range serials {
		k := s.Text(16)
		if e, ok := l.entries[k]; ok {
			found[k] = e
		}
	}
	return found, stale, nil
}

func (l *RevocationList) fetch(ctx context.Context) (map[string]RevocationEntry, error) {
	url := l.URL
	if url == "" {
		url = DefaultRevocationURL
	}
	client := l.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("revocation list: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("revocation list: HTTP %d", resp.StatusCode)
	}
	var doc struct {
		Entries map[string]RevocationEntry `json:"entries"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxStatusList)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("revocation list: %w", err)
	}
	if doc.Entries == nil {
		return nil, fmt.Errorf("revocation list: no entries object")
	}
	// Serials are published as lowercase hex without leading zeros; normalise in case.
	out := make(map[string]RevocationEntry, len(doc.Entries))
	for k, v := range doc.Entries {
		n, ok := new(big.Int).SetString(k, 16)
		if !ok {
			continue
		}
		out[n.Text(16)] = v
	}
	return out, nil
}
