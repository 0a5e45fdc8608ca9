package ingress

import (
	"crypto/tls"
	"net"
	"sort"
	"strings"
	"sync/atomic"
)

// table is an immutable routing table built from the Ingresses, Services,
// EndpointSlices and Secrets in the caches. The controller swaps whole tables, so a
// request sees one consistent configuration from start to end and a change never
// blocks or drops requests in flight.
type table struct {
	exact    map[string]*routes // by host
	wildcard map[string]*routes // "*.example.com" under "example.com"
	anyHost  *routes            // rules without a host
	fallback *backend           // an Ingress's defaultBackend, if any
	tlsHosts hostSet            // hosts with TLS configured: HTTP is redirected
	certs    certSet
	problems []string // what could not be built (missing secret, service...)
}

// routes of one host, longest path first.
type routes struct{ list []route }

type route struct {
	path    string // as written for Exact; without a trailing slash for Prefix
	exact   bool
	backend *backend
}

// backend is one Service port and its ready endpoints. Requests spread over the
// endpoints round-robin; the counter lives as long as the table.
type backend struct {
	name      string   // "ns/service:port", for pages and logs
	endpoints []string // "ip:port"
	reason    string   // why endpoints is empty
	next      atomic.Uint32
}

// pick returns the endpoints in the order to try them: round-robin start, then the
// others, so a retry goes to a different endpoint.
func (b *backend) pick(max int) []string {
	n := len(b.endpoints)
	if n == 0 {
		return nil
	}
	start := int(b.next.Add(1)-1) % n
	out := make([]string, 0, min(n, max))
	for i := 0; i < n && i < max; i++ {
		out = append(out, b.endpoints[(start+i)%n])
	}
	return out
}

func newTable() *table {
	return &table{exact: map[string]*routes{}, wildcard: map[string]*routes{}, anyHost: &routes{},
		tlsHosts: hostSet{}, certs: certSet{exact: map[string]*tls.Certificate{}, wildcard: map[string]*tls.Certificate{}}}
}

// routesFor returns the route list of a rule's host, creating it.
func (t *table) routesFor(host string) *routes {
	var m map[string]*routes
	switch {
	case host == "":
		return t.anyHost
	case strings.HasPrefix(host, "*."):
		m, host = t.wildcard, host[2:]
	default:
		m = t.exact
	}
	r := m[host]
	if r == nil {
		r = &routes{}
		m[host] = r
	}
	return r
}

// sortRoutes orders every host's routes so that the first match is the longest
// path, and Exact beats Prefix on equal paths. The sort is stable: among identical
// paths the oldest Ingress, added first, wins.
func (t *table) sortRoutes() {
	all := []*routes{t.anyHost}
	for _, r := range t.exact {
		all = append(all, r)
	}
	for _, r := range t.wildcard {
		all = append(all, r)
	}
	for _, r := range all {
		sort.SliceStable(r.list, func(i, j int) bool {
			a, b := r.list[i], r.list[j]
			if len(a.path) != len(b.path) {
				return len(a.path) > len(b.path)
			}
			return a.exact && !b.exact
		})
	}
}

// match finds the backend for a request. The most specific host wins first (exact,
// then wildcard, then rules without host); a host whose paths do not match falls
// through to the less specific ones, and finally to the default backend. nil means
// nothing matches: 404.
func (t *table) match(host, path string) *backend {
	if r := t.exact[host]; r != nil {
		if b := r.match(path); b != nil {
			return b
		}
	}
	if _, parent, ok := strings.Cut(host, "."); ok {
		if r := t.wildcard[parent]; r != nil {
			if b := r.match(path); b != nil {
				return b
			}
		}
	}
	if b := t.anyHost.match(path); b != nil {
		return b
	}
	return t.fallback
}

func (r *routes) match(path string) *backend {
	for _, rt := range r.list {
		if rt.matches(path) {
			return rt.backend
		}
	}
	return nil
}

// matches implements the Ingress path types. Prefix compares whole path elements:
// /foo matches /foo, /foo/ and /foo/bar but not /foobar.
func (rt route) matches(path string) bool {
	if rt.exact {
		return path == rt.path
	}
	if rt.path == "" { // "/" normalized
		return true
	}
	return path == rt.path || strings.HasPrefix(path, rt.path+"/")
}

// prefixPath normalizes a Prefix path: the trailing slash is not significant.
func prefixPath(p string) string {
	return strings.TrimRight(p, "/")
}

// hostSet holds exact hosts and "*.parent" wildcards.
type hostSet map[string]bool

func (h hostSet) has(host string) bool {
	if h[host] {
		return true
	}
	_, parent, ok := strings.Cut(host, ".")
	return ok && h["*."+parent]
}

// requestHost is the Host header without port, lower case, as rules are written.
func requestHost(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]") // an IPv6 literal without port
	return strings.ToLower(strings.TrimSuffix(host, "."))
}
