package dns

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
)

// forwarder asks the upstream resolvers about names outside the cluster. Each
// upstream gets a short timeout and the whole exchange a deadline, so a client's
// stub resolver always hears back before its own timeout (5 s by default).
type forwarder struct {
	upstreams []string // "ip:port"
	timeout   time.Duration
	udp, tcp  *mdns.Client
}

func newForwarder(upstreams []string, timeout time.Duration) *forwarder {
	return &forwarder{
		upstreams: upstreams,
		timeout:   timeout,
		udp:       &mdns.Client{Net: "udp", Timeout: timeout, UDPSize: mdns.DefaultMsgSize},
		tcp:       &mdns.Client{Net: "tcp", Timeout: timeout},
	}
}

var errNoUpstream = errors.New("dns: no upstream resolver configured")

// exchange sends req to the upstreams in order until one answers. A truncated UDP
// answer is retried over TCP so the client gets the whole record set.
func (f *forwarder) exchange(ctx context.Context, req *mdns.Msg) (*mdns.Msg, error) {
	if f == nil || len(f.upstreams) == 0 {
		return nil, errNoUpstream
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout*time.Duration(min(len(f.upstreams), 2)))
	defer cancel()
	var lastErr error
	for _, up := range f.upstreams {
		resp, _, err := f.udp.ExchangeContext(ctx, req, up)
		if err == nil && resp.Truncated {
			resp, _, err = f.tcp.ExchangeContext(ctx, req, up)
		}
		if err == nil && resp.Rcode != mdns.RcodeServerFailure && resp.Rcode != mdns.RcodeRefused {
			return resp, nil
		}
		if err == nil {
			lastErr = errors.New("dns: upstream " + up + " answered " + mdns.RcodeToString[resp.Rcode])
		} else {
			lastErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

// HostUpstreams reads the nameservers of a resolv.conf file as "ip:53" addresses.
// Loopback resolvers (systemd-resolved's 127.0.0.53) are kept: the DNS server runs
// in the host's network namespace and can reach them.
func HostUpstreams(path string) ([]string, error) {
	rc, err := readResolvConf(path)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rc.servers))
	for _, s := range rc.servers {
		out = append(out, net.JoinHostPort(s, "53"))
	}
	return out, nil
}

// withoutSelf drops upstreams that are one of our own listen addresses, which would
// turn every forwarded query into a loop until the timeout.
func withoutSelf(upstreams, listen []string) []string {
	self := map[string]bool{}
	for _, l := range listen {
		self[canonicalHostPort(l)] = true
	}
	var out []string
	for _, u := range upstreams {
		if !strings.Contains(u, ":") || strings.Count(u, ":") > 1 && !strings.HasPrefix(u, "[") {
			u = net.JoinHostPort(u, "53") // a bare address means port 53
		}
		if !self[canonicalHostPort(u)] {
			out = append(out, u)
		}
	}
	return out
}

func canonicalHostPort(hp string) string {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return hp
	}
	if ip := net.ParseIP(host); ip != nil {
		host = ip.String()
	}
	return net.JoinHostPort(host, port)
}
