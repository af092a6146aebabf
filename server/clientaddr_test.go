package server

import (
	"net/netip"
	"strings"
	"testing"
)

func TestClientAddr(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	a := netip.MustParseAddr
	for _, c := range []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		// Attacks first.
		{"untrusted peer's header ignored", "203.0.113.9", []string{"198.51.100.1"}, "203.0.113.9"},
		{"client-written leftmost entry ignored", "10.0.0.1", []string{"1.1.1.1, 203.0.113.9"}, "203.0.113.9"},
		{"forged entry that claims to be a proxy is walked only from the right", "10.0.0.1", []string{"10.9.9.9, 203.0.113.9, 10.0.0.2"}, "203.0.113.9"},
		{"malformed entry ends the walk at the last proxy", "10.0.0.1", []string{"203.0.113.9, garbage"}, "10.0.0.1"},
		{"zoned address refused", "10.0.0.1", []string{"fe80::1%eth0"}, "10.0.0.1"},
		{"several headers in order", "10.0.0.1", []string{"1.1.1.1", "203.0.113.9, 10.0.0.3"}, "203.0.113.9"},
		{"IPv4-mapped peer", "::ffff:10.0.0.1", []string{"203.0.113.9"}, "203.0.113.9"},
		// Positive controls.
		{"trusted proxy, one hop", "10.0.0.1", []string{"203.0.113.9"}, "203.0.113.9"},
		{"IPv6 through an IPv6 proxy", "fd00::1", []string{"2001:db8::7"}, "2001:db8::7"},
		{"every hop trusted", "10.0.0.1", []string{"10.0.0.7"}, "10.0.0.7"},
		{"no header", "10.0.0.1", nil, "10.0.0.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := clientAddr(a(c.remote), c.xff, proxies); got != a(c.want) {
				t.Errorf("clientAddr = %v; want %v", got, c.want)
			}
		})
	}
}

func TestAddrKeyGroupsIPv6By64(t *testing.T) {
	if addrKey(netip.MustParseAddr("2001:db8:1:2::1")) != addrKey(netip.MustParseAddr("2001:db8:1:2:ffff::9")) {
		t.Error("two addresses of one /64 have different keys")
	}
	if addrKey(netip.MustParseAddr("2001:db8:1:2::1")) == addrKey(netip.MustParseAddr("2001:db8:1:3::1")) {
		t.Error("two /64s share a key")
	}
	if addrKey(netip.MustParseAddr("192.0.2.1")) == addrKey(netip.MustParseAddr("192.0.2.2")) {
		t.Error("two IPv4 addresses share a key")
	}
}

// FuzzClientAddr: whatever X-Forwarded-For holds, the answer is the peer, a trusted proxy's
// report, or an address that appears in the header; never an invalid address, never one
// left of an untrusted hop.
func FuzzClientAddr(f *testing.F) {
	for _, s := range []string{"203.0.113.9", "1.1.1.1, 203.0.113.9, 10.0.0.2", "2001:db8::7", "garbage", "", " , ,", "fe80::1%eth0"} {
		f.Add(s)
	}
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	remote := netip.MustParseAddr("10.0.0.1")
	f.Fuzz(func(t *testing.T, xff string) {
		got := clientAddr(remote, []string{xff}, proxies)
		if !got.IsValid() || got.Zone() != "" {
			t.Fatalf("clientAddr(%q) = %v", xff, got)
		}
		if got == remote {
			return
		}
		parts := strings.Split(xff, ",")
		for i := len(parts) - 1; i >= 0; i-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(parts[i]))
			if err != nil {
				break
			}
			if hop.Unmap() == got {
				return
			}
			if !isTrusted(hop.Unmap(), proxies) {
				break
			}
		}
		t.Fatalf("clientAddr(%q) = %v, not reached by the walk from the right", xff, got)
	})
}
