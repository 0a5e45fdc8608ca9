package dns

import (
	"fmt"
	"net"
	"strconv"

	mdns "github.com/miekg/dns"
)

// listen binds every configured address for UDP and TCP before any server starts,
// so that a port already in use fails Run at once rather than half-serving.
func (s *Server) listen() ([]*mdns.Server, []string, error) {
	var servers []*mdns.Server
	var addrs []string
	closeAll := func() {
		for _, srv := range servers {
			if srv.PacketConn != nil {
				srv.PacketConn.Close()
			}
			if srv.Listener != nil {
				srv.Listener.Close()
			}
		}
	}
	for _, addr := range s.cfg.Listen {
		pc, l, err := bindPair(addr)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		servers = append(servers,
			&mdns.Server{PacketConn: pc, Net: "udp", Handler: s.handler("udp")},
			&mdns.Server{Listener: l, Net: "tcp", Handler: s.handler("tcp")})
		addrs = append(addrs, pc.LocalAddr().String())
	}
	return servers, addrs, nil
}

// bindPair binds UDP and TCP on the same port. With port 0 the kernel picks the UDP
// port and TCP must follow it; if that port is taken for TCP, try another.
func bindPair(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dns: listen address %q: %w", addr, err)
	}
	for attempt := 0; ; attempt++ {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("dns: listen udp %s: %w", addr, err)
		}
		bound := strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port)
		l, err := net.Listen("tcp", net.JoinHostPort(host, bound))
		if err == nil {
			return pc, l, nil
		}
		pc.Close()
		if port != "0" || attempt >= 10 {
			return nil, nil, fmt.Errorf("dns: listen tcp %s: %w", addr, err)
		}
	}
}
