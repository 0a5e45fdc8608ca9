package dns

import (
	"context"
	"time"

	mdns "github.com/miekg/dns"
)

// maxChase bounds CNAME chains inside the cluster (an ExternalName pointing at
// another ExternalName...), so that a loop cannot spin.
const maxChase = 8

func (s *Server) handler(proto string) mdns.Handler {
	return mdns.HandlerFunc(func(w mdns.ResponseWriter, req *mdns.Msg) {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 3*s.cfg.ForwardTimeout)
		defer cancel()
		resp, source := s.answer(ctx, req)
		if proto == "udp" {
			resp.Truncate(udpSize(req))
		}
		if err := w.WriteMsg(resp); err != nil {
			s.log.Debug("write answer", "err", err, "client", w.RemoteAddr())
		}
		var qtype uint16
		if len(req.Question) == 1 {
			qtype = req.Question[0].Qtype
		}
		s.metrics.observe(proto, qtype, resp.Rcode, source, time.Since(start))
	})
}

// answer builds the reply to req and says where it came from ("cluster" or
// "upstream").
func (s *Server) answer(ctx context.Context, req *mdns.Msg) (*mdns.Msg, string) {
	if req.Opcode != mdns.OpcodeQuery {
		return s.reply(req, mdns.RcodeNotImplemented), "cluster"
	}
	if len(req.Question) != 1 {
		return s.reply(req, mdns.RcodeFormatError), "cluster"
	}
	q := req.Question[0]
	res := s.resolver.resolve(q)
	if res.forward {
		return s.forwarded(ctx, req), "upstream"
	}
	s.chase(ctx, q, &res)
	m := s.reply(req, res.rcode)
	m.Authoritative = true
	m.Answer, m.Ns, m.Extra = res.answer, res.authority, append(m.Extra, res.extra...)
	return m, "cluster"
}

func (s *Server) forwarded(ctx context.Context, req *mdns.Msg) *mdns.Msg {
	resp, err := s.forward.exchange(ctx, req)
	if err != nil {
		if err != errNoUpstream {
			s.log.Debug("forward failed", "name", req.Question[0].Name, "err", err)
		}
		return s.reply(req, mdns.RcodeServerFailure)
	}
	resp.Id = req.Id
	resp.Compress = true
	return resp
}

// chase follows a CNAME from an ExternalName Service: inside the cluster domain
// from the caches, outside it through the upstreams. Without upstreams the CNAME is
// returned alone, which is still a correct (if partial) answer.
func (s *Server) chase(ctx context.Context, q mdns.Question, res *result) {
	for depth := 0; res.chase != "" && depth < maxChase; depth++ {
		nq := mdns.Question{Name: res.chase, Qtype: q.Qtype, Qclass: q.Qclass}
		res.chase = ""
		sub := s.resolver.resolve(nq)
		if sub.forward {
			s.chaseUpstream(ctx, nq, res)
			return
		}
		res.rcode, res.authority, res.chase = sub.rcode, sub.authority, sub.chase
		res.answer = append(res.answer, sub.answer...)
		res.extra = append(res.extra, sub.extra...)
	}
}

func (s *Server) chaseUpstream(ctx context.Context, q mdns.Question, res *result) {
	if len(s.cfg.Upstreams) == 0 {
		return
	}
	req := new(mdns.Msg)
	req.SetQuestion(q.Name, q.Qtype)
	resp, err := s.forward.exchange(ctx, req)
	if err != nil {
		s.log.Debug("chase CNAME upstream", "name", q.Name, "err", err)
		return
	}
	res.rcode = resp.Rcode
	res.answer = append(res.answer, resp.Answer...)
}

func (s *Server) reply(req *mdns.Msg, rcode int) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetRcode(req, rcode)
	m.Compress = true
	m.RecursionAvailable = len(s.cfg.Upstreams) > 0
	if opt := req.IsEdns0(); opt != nil {
		m.SetEdns0(udpSizeOf(opt), false)
	}
	return m
}

// udpSize is the largest answer the client accepts over UDP: 512 bytes unless it
// advertised more with EDNS0.
func udpSize(req *mdns.Msg) int {
	if opt := req.IsEdns0(); opt != nil {
		return int(udpSizeOf(opt))
	}
	return mdns.MinMsgSize
}

func udpSizeOf(opt *mdns.OPT) uint16 {
	return max(opt.UDPSize(), mdns.MinMsgSize)
}
