package server

import (
	"net/netip"
	"strings"
)

// clientAddr returns the address a request is rate limited by. remote is the TCP peer. Only
// when the peer is a trusted proxy is X-Forwarded-For read (xff: every such header's value, in
// order), walked from the right — each proxy appends the address it received the request
// from, so the rightmost entries are the ones trusted proxies wrote — past every trusted
// proxy, to the first address no trusted proxy vouches for (RFC 7239 §5.2 describes the same
// walk for Forwarded). Entries left of it were written by the client and can be anything, so
// they are never used. A malformed entry ends the walk at the last proxy that wrote it.
// fiber's ProxyHeader takes the leftmost entry instead, which any client sets, so Signet does
// not use it.
func clientAddr(remote netip.Addr, xff []string, trusted []netip.Prefix) netip.Addr {
	remote = remote.Unmap()
	if !isTrusted(remote, trusted) {
		return remote
	}
	addr := remote
	for i := len(xff) - 1; i >= 0; i-- {
		parts := strings.Split(xff[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil || hop.Zone() != "" {
				return addr
			}
			addr = hop.Unmap()
			if !isTrusted(addr, trusted) {
				return addr
			}
		}
	}
	return addr // every hop is a trusted proxy: the request started inside
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// addrKey is the rate-limit key of a client address: the address for IPv4, its /64 for IPv6
// (one subscriber usually holds a whole /64, so per-address keys would not limit anyone).
func addrKey(a netip.Addr) string {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
