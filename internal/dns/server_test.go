package dns

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

// fakeUpstream is a resolver on loopback that knows one name and counts queries.
type fakeUpstream struct {
	addr    string
	queries atomic.Int64
}

func startUpstream(t testing.TB) *fakeUpstream {
	t.Helper()
	up := &fakeUpstream{}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up.addr = pc.LocalAddr().String()
	srv := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, req *mdns.Msg) {
		up.queries.Add(1)
		m := new(mdns.Msg)
		m.SetReply(req)
		m.RecursionAvailable = true
		q := req.Question[0]
		if q.Name == "www.example.com." && q.Qtype == mdns.TypeA {
			rr, _ := mdns.NewRR("www.example.com. 300 IN A 192.0.2.53")
			m.Answer = append(m.Answer, rr)
		} else {
			m.Rcode = mdns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return up
}

// silentUpstream accepts queries and never answers, as a dead resolver behind a
// firewall does.
func silentUpstream(t testing.TB) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().String()
}

func TestForwardsOtherNamesToUpstream(t *testing.T) {
	up := startUpstream(t)
	ext := service("default", "ext", "")
	ext.Spec.Type, ext.Spec.ExternalName = corev1.ServiceTypeExternalName, "www.example.com"
	addr, _ := startServer(t, Config{Upstreams: []string{up.addr}}, ext)

	resp := query(t, addr, "www.example.com", mdns.TypeA)
	if diff := cmp.Diff([]string{"www.example.com. A 192.0.2.53"}, rrText(resp.Answer)); diff != "" {
		t.Errorf("forwarded answer (-want +got):\n%s", diff)
	}
	if !resp.RecursionAvailable {
		t.Error("RA not set although upstreams exist")
	}
	if resp := query(t, addr, "nothing.example.org", mdns.TypeA); resp.Rcode != mdns.RcodeNameError {
		t.Errorf("upstream NXDOMAIN not relayed: %s", mdns.RcodeToString[resp.Rcode])
	}
	resp = query(t, addr, "ext.default.svc.cluster.local", mdns.TypeA)
	want := []string{"ext.default.svc.cluster.local. CNAME www.example.com.", "www.example.com. A 192.0.2.53"}
	if diff := cmp.Diff(want, rrText(resp.Answer)); diff != "" {
		t.Errorf("ExternalName chase (-want +got):\n%s", diff)
	}
	before := up.queries.Load()
	query(t, addr, "web.default.svc.cluster.local", mdns.TypeA)
	if up.queries.Load() != before {
		t.Error("a cluster name was forwarded upstream")
	}
}

func TestNoUpstreamAnswersAtOnce(t *testing.T) {
	addr, _ := startServer(t, Config{Upstreams: []string{}})
	start := time.Now()
	resp := query(t, addr, "www.example.com", mdns.TypeA)
	if took := time.Since(start); took > time.Second {
		t.Errorf("answer took %v; a client must not wait without upstreams", took)
	}
	if resp.Rcode != mdns.RcodeServerFailure {
		t.Errorf("rcode = %s, want SERVFAIL", mdns.RcodeToString[resp.Rcode])
	}
}

func TestDeadUpstreamIsBounded(t *testing.T) {
	addr, _ := startServer(t, Config{Upstreams: []string{silentUpstream(t)}, ForwardTimeout: 200 * time.Millisecond})
	start := time.Now()
	resp := query(t, addr, "www.example.com", mdns.TypeA)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("answer took %v with a 200ms forward timeout", took)
	}
	if resp.Rcode != mdns.RcodeServerFailure {
		t.Errorf("rcode = %s, want SERVFAIL", mdns.RcodeToString[resp.Rcode])
	}
}

func TestLargeAnswerTruncatesOverUDPAndCompletesOverTCP(t *testing.T) {
	eps := make([]ep, 0, 100)
	for i := range 100 {
		eps = append(eps, ep{ip: fmt.Sprintf("10.244.%d.%d", i/200, i%200+1), ready: true})
	}
	addr, _ := startServer(t, Config{},
		service("default", "big", corev1.ClusterIPNone), slice("default", "big", "big-1", nil, eps...))

	udp := query(t, addr, "big.default.svc.cluster.local", mdns.TypeA)
	if !udp.Truncated || len(udp.Answer) >= 100 {
		t.Errorf("UDP answer: truncated=%v with %d records; want TC and fewer than 100", udp.Truncated, len(udp.Answer))
	}
	udp.Compress = true // as it was on the wire
	if n := udp.Len(); n > mdns.MinMsgSize {
		t.Errorf("UDP answer is %d bytes, over the 512 a non-EDNS client accepts", n)
	}
	tcp := queryNet(t, "tcp", addr, "big.default.svc.cluster.local", mdns.TypeA)
	if tcp.Truncated || len(tcp.Answer) != 100 {
		t.Errorf("TCP answer: truncated=%v with %d records; want all 100", tcp.Truncated, len(tcp.Answer))
	}
}

func TestAnswersFollowTheAPI(t *testing.T) {
	addr, client := startServer(t, Config{TTL: 30 * time.Second})
	ctx := context.Background()
	if resp := query(t, addr, "late.default.svc.cluster.local", mdns.TypeA); resp.Rcode != mdns.RcodeNameError {
		t.Fatalf("rcode before create = %s", mdns.RcodeToString[resp.Rcode])
	}
	if _, err := client.CoreV1().Services("default").Create(ctx, service("default", "late", "10.96.0.99"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var resp *mdns.Msg
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp = query(t, addr, "late.default.svc.cluster.local", mdns.TypeA); len(resp.Answer) > 0 {
			break
		}
	}
	if diff := cmp.Diff([]string{"late.default.svc.cluster.local. A 10.96.0.99"}, rrText(resp.Answer)); diff != "" {
		t.Fatalf("after create (-want +got):\n%s", diff)
	}
	if ttl := resp.Answer[0].Header().Ttl; ttl != 30 {
		t.Errorf("TTL = %d, want the configured 30", ttl)
	}
}

func TestMetrics(t *testing.T) {
	client := fake.NewClientset(service("default", "web", "10.96.0.20"))
	f := informers.NewSharedInformerFactory(client, 0)
	srv, err := New(f, Config{Listen: []string{"127.0.0.1:0"}, Upstreams: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(srv.Collectors()...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.Start(ctx.Done())
	go func() { _ = srv.Run(ctx) }()
	<-srv.Ready()
	addr := srv.Addrs()[0]
	f.WaitForCacheSync(ctx.Done())
	query(t, addr, "web.default.svc.cluster.local", mdns.TypeA)
	query(t, addr, "nope.default.svc.cluster.local", mdns.TypeA)
	query(t, addr, "nope.default.svc.cluster.local", mdns.TypeAAAA)

	// The server counts a query after writing its answer, so the client can be first.
	var got map[string]float64
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got = gather(t, reg); got["skiff_dns_request_duration_seconds{source=cluster}"] == 3 {
			break
		}
	}
	if got["skiff_dns_nxdomain_total"] != 2 {
		t.Errorf("nxdomain = %v, want 2", got["skiff_dns_nxdomain_total"])
	}
	if v := got["skiff_dns_queries_total{proto=udp,rcode=NOERROR,type=A}"]; v != 1 {
		t.Errorf("A/NOERROR queries = %v, want 1 (all: %v)", v, got)
	}
	if v := got["skiff_dns_request_duration_seconds{source=cluster}"]; v != 3 {
		t.Errorf("latency samples = %v, want 3", v)
	}
}

// gather flattens a registry into "name{label=value,...}" → value (the sample count
// for histograms).
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			if len(m.GetLabel()) > 0 {
				var parts []string
				for _, l := range m.GetLabel() {
					parts = append(parts, l.GetName()+"="+l.GetValue())
				}
				key += "{" + strings.Join(parts, ",") + "}"
			}
			switch {
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				out[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

func TestListenConflictFailsRun(t *testing.T) {
	l, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	f := informers.NewSharedInformerFactory(fake.NewClientset(), 0)
	srv, err := New(f, Config{Listen: []string{l.LocalAddr().String()}, Upstreams: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f.Start(ctx.Done())
	if err := srv.Run(ctx); err == nil {
		t.Fatal("Run succeeded on a port in use")
	}
}

func TestUpstreamsNeverIncludeSelf(t *testing.T) {
	got := withoutSelf([]string{"127.0.0.1:53", "10.0.0.2", "[::1]:53", "10.0.0.3:5353"}, []string{"127.0.0.1:53"})
	want := []string{"10.0.0.2:53", "[::1]:53", "10.0.0.3:5353"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
