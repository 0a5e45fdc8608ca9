package proxy

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/knftables"

	"skiff/internal/nfttable"
)

// The kernel, not only the fake, must accept every patch between the test states:
// this catches ordering mistakes (a chain deleted while still referenced) and
// syntax the fake does not parse.
func TestKernelAcceptsPatches(t *testing.T) {
	requireNetAdmin(t)
	table := "skiff-test-" + randomID(t, 4)
	nft, err := knftables.New(knftables.IPv4Family, table)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanupRun(t, "nft", "delete", "table", "ip", table) })
	var old *nfttable.Ruleset
	for i, step := range steps {
		want := stepRules(i)
		tx := nft.NewTransaction()
		if old == nil {
			tx.Add(&knftables.Table{})
			tx.Delete(&knftables.Table{})
		}
		if !nfttable.Plan(tx, old, want) {
			t.Fatalf("step %q: plan refused", step.name)
		}
		if err := nft.Run(context.Background(), tx); err != nil {
			t.Fatalf("step %q: %v\n%s", step.name, err, tx)
		}
		old = want
	}
}

// proxyRig is a proxier over a fake clientset, running until the test ends.
type proxyRig struct {
	client *fake.Clientset
	p      *Proxier
	table  string
	cancel context.CancelFunc
	done   chan struct{}
}

func startProxy(t *testing.T, cfg Config) *proxyRig {
	keepSysctl(t, "net/ipv4/conf/all/route_localnet")
	keepSysctl(t, "net/bridge/bridge-nf-call-iptables")
	r := &proxyRig{client: fake.NewClientset(), table: cfg.TableName, done: make(chan struct{})}
	factory := informers.NewSharedInformerFactory(r.client, 0)
	p, err := New(r.client, factory, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.p = p
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	factory.Start(ctx.Done())
	go func() {
		defer close(r.done)
		p.Run(ctx)
	}()
	t.Cleanup(func() {
		r.stop()
		cleanupRun(t, "sh", "-c", "nft list table ip "+r.table+" >/dev/null 2>&1 && nft delete table ip "+r.table+" || true")
	})
	return r
}

func (r *proxyRig) stop() {
	r.cancel()
	<-r.done
}

func (r *proxyRig) create(t *testing.T, objs ...any) {
	t.Helper()
	ctx := context.Background()
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *corev1.Service:
			_, err = r.client.CoreV1().Services(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *discoveryv1.EndpointSlice:
			_, err = r.client.DiscoveryV1().EndpointSlices(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// chainRules lists the rules of a chain of the live table.
func chainRules(table, chain string) string {
	out, _ := exec.Command("nft", "list", "chain", "ip", table, chain).CombinedOutput()
	return string(out)
}

func waitFor(t *testing.T, what string, limit time.Duration, ok func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !ok() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

func wantBoth(t *testing.T, what string, answers []string, names ...string) {
	t.Helper()
	got := tally(answers)
	for _, n := range names {
		if got[n] == 0 {
			t.Errorf("%s: no answer from %s; answers %v", what, n, got)
		}
	}
	if sum := func() int {
		s := 0
		for _, n := range names {
			s += got[n]
		}
		return s
	}(); sum != len(answers) {
		t.Errorf("%s: unexpected answers %v", what, got)
	}
}

func TestProxyEndToEnd(t *testing.T) {
	requireNetAdmin(t)
	tn := newTestNet(t)
	// The pod network is the /30 holding the bridge and both pods; "outside" stands
	// for a client on another machine.
	nsA, ipA := tn.addPod(t, 2)
	nsB, ipB := tn.addPod(t, 3)
	nsOut, ipOut := tn.addPod(t, 200)
	startServer(t, nsA, ipA, "pod-a")
	startServer(t, nsB, ipB, "pod-b")

	// Random NodePorts and loopback address, so a cluster running on this machine
	// is not disturbed.
	np, npLocal := int32(30000+int(tn.id[1])%2700), int32(32700+int(tn.id[1])%60)
	lbIP := fmt.Sprintf("127.0.0.%d", 200+int(tn.id[2])%50)
	webIP, emptyIP, soloIP, localIP, dnsIP := tn.svcNet+".10", tn.svcNet+".11", tn.svcNet+".12", tn.svcNet+".13", tn.svcNet+".53"
	rig := startProxy(t, Config{NodeName: "node1", ClusterCIDR: tn.subnet + ".0/30",
		TableName: "skiff-test-" + tn.id, MinSyncInterval: 20 * time.Millisecond})
	rig.create(t,
		service("web", webIP, 80, loadBalancer(np, lbIP)),
		slice("web", "TCP", 8080, ep(ipA+"@node1"), ep(ipB+"@node1")),
		service("empty", emptyIP, 80),
		service("solo", soloIP, 80),
		slice("solo", "TCP", 8080, ep(ipA+"@node1")),
		service("local", localIP, 80, nodePort(npLocal), externalLocal),
		slice("local", "TCP", 8080, ep(ipA+"@node1"), ep(ipB+"@node2")),
		service("dns", dnsIP, 53, protocol("UDP")),
		slice("dns", "UDP", 8080, ep(ipA+"@node1")))

	web := fmt.Sprintf("http://%s:80/", webIP)
	waitFor(t, "first sync", 10*time.Second, func() bool { return !strings.HasPrefix(get(web, 1)[0], "ERR") })

	t.Run("ClusterIP from the host reaches every endpoint", func(t *testing.T) {
		wantBoth(t, "host", get(web, 30), "pod-a", "pod-b")
	})
	t.Run("ClusterIP from a pod reaches every endpoint", func(t *testing.T) {
		wantBoth(t, "pod-b", getFrom(t, nsB, web, 30), "pod-a", "pod-b")
	})
	t.Run("a pod reaches itself through its service (hairpin)", func(t *testing.T) {
		wantBoth(t, "pod-a", getFrom(t, nsA, fmt.Sprintf("http://%s:80/", soloIP), 3), "pod-a")
	})
	t.Run("NodePort on 127.0.0.1 and on the node's address", func(t *testing.T) {
		wantBoth(t, "localhost", get(fmt.Sprintf("http://127.0.0.1:%d/", np), 30), "pod-a", "pod-b")
		nodeURL := fmt.Sprintf("http://%s.1:%d/", tn.subnet, np)
		wantBoth(t, "node address from the host", get(nodeURL, 30), "pod-a", "pod-b")
		wantBoth(t, "node address from a pod", getFrom(t, nsB, nodeURL, 30), "pod-a", "pod-b")
	})
	t.Run("a load-balancer IP on loopback answers from the host", func(t *testing.T) {
		wantBoth(t, "lb", get(fmt.Sprintf("http://%s:80/", lbIP), 30), "pod-a", "pod-b")
	})
	t.Run("external traffic: Cluster masquerades, Local keeps the client and the node", func(t *testing.T) {
		node := tn.subnet + ".1"
		wantBoth(t, "Cluster policy source", getFrom(t, nsOut, fmt.Sprintf("http://%s:%d/ip", node, np), 5), node)
		wantBoth(t, "Local policy source", getFrom(t, nsOut, fmt.Sprintf("http://%s:%d/ip", node, npLocal), 5), ipOut)
		wantBoth(t, "Local policy endpoints", getFrom(t, nsOut, fmt.Sprintf("http://%s:%d/", node, npLocal), 20), "pod-a")
		wantBoth(t, "Local policy from the node itself", get(fmt.Sprintf("http://127.0.0.1:%d/", npLocal), 30), "pod-a", "pod-b")
	})
	t.Run("UDP flows to a removed endpoint are flushed", func(t *testing.T) {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(tn.subnet + ".1")})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		dst := dnsIP + ":53"
		waitFor(t, "UDP answer", 5*time.Second, func() bool { a, _ := udpAsk(c, dst); return a == "pod-a" })
		s := slice("dns", "UDP", 8080, ep(ipB+"@node1"))
		if _, err := rig.client.DiscoveryV1().EndpointSlices("default").Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		// The same socket, so the same conntrack entry unless it was flushed.
		waitFor(t, "answer from the new endpoint", 2*time.Second, func() bool { a, _ := udpAsk(c, dst); return a == "pod-b" })
	})
	t.Run("a service without endpoints refuses at once", func(t *testing.T) {
		url := fmt.Sprintf("http://%s:80/", emptyIP)
		start := time.Now()
		ans := get(url, 1)[0]
		if !strings.Contains(ans, "connection refused") || time.Since(start) > time.Second {
			t.Errorf("from the host: %q after %v, want connection refused at once", ans, time.Since(start))
		}
		start = time.Now()
		if ans := getFrom(t, nsB, url, 1)[0]; !strings.Contains(ans, "connection refused") {
			t.Errorf("from a pod: %q after %v, want connection refused", ans, time.Since(start))
		}
	})
	t.Run("a ClusterIP refuses the ports its service does not have", func(t *testing.T) {
		url := fmt.Sprintf("http://%s:81/", webIP)
		start := time.Now()
		if ans := get(url, 1)[0]; !strings.Contains(ans, "connection refused") || time.Since(start) > time.Second {
			t.Errorf("from the host: %q after %v, want connection refused at once", ans, time.Since(start))
		}
		if ans := getFrom(t, nsB, url, 1)[0]; !strings.Contains(ans, "connection refused") {
			t.Errorf("from a pod: %q, want connection refused", ans)
		}
		wantBoth(t, "the service's own port still", get(web, 10), "pod-a", "pod-b")
	})
	t.Run("scaling reaches the rules within a second", func(t *testing.T) {
		s := slice("web", "TCP", 8080, ep(ipB+"@node1"))
		if _, err := rig.client.DiscoveryV1().EndpointSlices("default").Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		took := waitFor(t, "scale down", time.Second, func() bool {
			return !strings.Contains(chainRules(rig.table, "svc-default/web/tcp/80"), ipA)
		})
		t.Logf("rules changed %v after the update", took)
		wantBoth(t, "after scale down", get(web, 10), "pod-b")
	})
	t.Run("the table is gone after shutdown", func(t *testing.T) {
		rig.stop()
		if out, err := exec.Command("nft", "list", "table", "ip", rig.table).CombinedOutput(); err == nil {
			t.Errorf("table %s still exists:\n%s", rig.table, out)
		}
	})
}
