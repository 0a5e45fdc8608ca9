package resources

import (
	"context"
	"net/netip"
	"strings"
	"testing"
)

// fakeRecords are IPAddress objects; hidden ones exist in etcd but not yet in
// this server's cache (another server created them a moment ago).
type fakeRecords struct {
	owner  map[netip.Addr]ServiceRef
	hidden map[netip.Addr]bool
}

func newFakeRecords() *fakeRecords {
	return &fakeRecords{owner: map[netip.Addr]ServiceRef{}, hidden: map[netip.Addr]bool{}}
}

func (f *fakeRecords) Has(ip netip.Addr) bool {
	_, ok := f.owner[ip]
	return ok && !f.hidden[ip]
}

func (f *fakeRecords) Create(_ context.Context, ip netip.Addr, svc ServiceRef) error {
	if _, ok := f.owner[ip]; ok {
		return ErrIPTaken
	}
	f.owner[ip] = svc
	return nil
}

func (f *fakeRecords) Delete(_ context.Context, ip netip.Addr, svc ServiceRef) error {
	if f.owner[ip] == svc {
		delete(f.owner, ip)
	}
	return nil
}

// fakeRanges serves cached ranges and fresh ones (what etcd holds).
type fakeRanges struct{ cached, fresh []netip.Prefix }

func (r *fakeRanges) get(_ context.Context, fresh bool) ([]netip.Prefix, error) {
	if fresh {
		return r.fresh, nil
	}
	return r.cached, nil
}

func prefixes(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range s {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

// TestClusterIPsExtendByServiceCIDR: a /29 gives six addresses, then says the
// range is full; a second range (a ServiceCIDR, seen at first only by a fresh
// read) gives the next ones, and each address is recorded for its Service.
func TestClusterIPsExtendByServiceCIDR(t *testing.T) {
	ctx := context.Background()
	recs := newFakeRecords()
	r := &fakeRanges{cached: prefixes("10.96.0.0/29"), fresh: prefixes("10.96.0.0/29")}
	a := &ClusterIPs{Records: recs, Ranges: r.get}
	for i := range 6 {
		ip, err := a.Next(ctx, ServiceRef{"ns", "s"}, false)
		if err != nil {
			t.Fatalf("address %d: %v", i, err)
		}
		if !PrefixHolds(netip.MustParsePrefix("10.96.0.0/29"), ip) {
			t.Fatalf("handed out %s, outside the range's usable addresses", ip)
		}
	}
	_, err := a.Next(ctx, ServiceRef{"ns", "full"}, false)
	if err == nil || !strings.HasPrefix(err.Error(), "range is full") || !strings.Contains(err.Error(), "10.96.0.0/29") {
		t.Fatalf("seventh address: %v, want range is full naming 10.96.0.0/29", err)
	}
	r.fresh = prefixes("10.96.0.0/29", "10.97.0.0/28")
	ip, err := a.Next(ctx, ServiceRef{"ns", "more"}, false)
	if err != nil || !netip.MustParsePrefix("10.97.0.0/28").Contains(ip) {
		t.Fatalf("after a ServiceCIDR was added: %v, %v; want an address of 10.97.0.0/28", ip, err)
	}
	if recs.owner[ip] != (ServiceRef{"ns", "more"}) {
		t.Errorf("%s recorded for %v, want ns/more", ip, recs.owner[ip])
	}
	if len(recs.owner) != 7 {
		t.Errorf("%d records, want 7", len(recs.owner))
	}
}

// TestClusterIPsAllocate: an address asked for is refused outside every range,
// refused when it has a record (reserved by hand), found in a range only a fresh
// read shows, and a dry run records nothing.
func TestClusterIPsAllocate(t *testing.T) {
	ctx := context.Background()
	recs := newFakeRecords()
	r := &fakeRanges{cached: prefixes("10.96.0.0/24"), fresh: prefixes("10.96.0.0/24", "10.98.0.0/24")}
	a := &ClusterIPs{Records: recs, Ranges: r.get}
	svc := ServiceRef{"ns", "a"}
	cases := []struct {
		name, ip string
		dryRun   bool
		want     string // error text; "" for success
	}{
		{"outside every range", "10.99.0.5", false, "not in the valid range. The range of valid IPs is 10.96.0.0/24, 10.98.0.0/24"},
		{"the network address", "10.96.0.0", false, "not in the valid range"},
		{"the broadcast address", "10.96.0.255", false, "not in the valid range"},
		{"a free address", "10.96.0.20", false, ""},
		{"the same address again", "10.96.0.20", false, ErrIPTaken.Error()},
		{"a range only etcd shows yet", "10.98.0.7", false, ""},
		{"a dry run", "10.96.0.21", true, ""},
		{"a dry run of a taken address", "10.96.0.20", true, ErrIPTaken.Error()},
	}
	for _, c := range cases {
		err := a.Allocate(ctx, netip.MustParseAddr(c.ip), svc, c.dryRun)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	if _, ok := recs.owner[netip.MustParseAddr("10.96.0.21")]; ok {
		t.Error("the dry run recorded its address")
	}
	if len(recs.owner) != 2 {
		t.Errorf("%d records, want 2", len(recs.owner))
	}
}

// TestClusterIPsNextSkipsWhatOthersTook: addresses another server recorded a
// moment ago (not in this server's cache yet) are skipped, not handed out twice.
func TestClusterIPsNextSkipsWhatOthersTook(t *testing.T) {
	ctx := context.Background()
	recs := newFakeRecords()
	p := netip.MustParsePrefix("10.96.0.0/29")
	for ip := range candidates(p, 0) {
		if ip != netip.MustParseAddr("10.96.0.4") {
			recs.owner[ip] = ServiceRef{"other", "x"}
			recs.hidden[ip] = true
		}
	}
	a := &ClusterIPs{Records: recs, Ranges: (&fakeRanges{cached: []netip.Prefix{p}, fresh: []netip.Prefix{p}}).get}
	ip, err := a.Next(ctx, ServiceRef{"ns", "a"}, false)
	if err != nil || ip.String() != "10.96.0.4" {
		t.Fatalf("Next: %v, %v; want the one free address 10.96.0.4", ip, err)
	}
	if _, err := a.Next(ctx, ServiceRef{"ns", "b"}, false); err == nil {
		t.Fatal("a full range handed out another address")
	}
}

// TestCandidates: every usable address exactly once; dynamic allocation starts
// above the first sixteen in a range large enough to keep them (a /24), and
// uses every address of a small one (a /29).
func TestCandidates(t *testing.T) {
	cases := []struct {
		prefix    string
		n         int
		firstFrom string
	}{
		{"10.96.0.0/24", 254, "10.96.0.17"},
		{"10.96.0.0/29", 6, "10.96.0.1"},
		{"10.96.0.0/30", 2, "10.96.0.1"},
		{"10.96.0.0/31", 0, ""},
	}
	for _, c := range cases {
		p := netip.MustParsePrefix(c.prefix)
		for _, seed := range []uint64{0, 7, 1 << 40} {
			seen := map[netip.Addr]bool{}
			i := 0
			for ip := range candidates(p, seed) {
				if seen[ip] || !PrefixHolds(p, ip) {
					t.Fatalf("%s seed %d: %s repeated or unusable", c.prefix, seed, ip)
				}
				if i < c.n-16 && c.n > 16 && ip.Less(netip.MustParseAddr(c.firstFrom)) {
					t.Fatalf("%s seed %d: %s handed out before the upper part is used up", c.prefix, seed, ip)
				}
				seen[ip] = true
				i++
			}
			if len(seen) != c.n {
				t.Errorf("%s: %d addresses, want %d", c.prefix, len(seen), c.n)
			}
		}
	}
}

func TestNthAddr(t *testing.T) {
	p := netip.MustParsePrefix("10.43.0.0/16")
	for n, want := range map[uint64]string{1: "10.43.0.1", 10: "10.43.0.10", 256: "10.43.1.0", 65535: "10.43.255.255"} {
		if got := NthAddr(p, n).String(); got != want {
			t.Errorf("NthAddr(%d) = %s, want %s", n, got, want)
		}
	}
}
