package servicelb

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"skiff/internal/controllers/controller"
)

func TestParsePool(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{in: "127.0.0.100-127.0.0.120", want: "127.0.0.100-127.0.0.120"},
		{in: "192.0.2.0/30", want: "192.0.2.1-192.0.2.2"},
		{in: "192.0.2.8/31", want: "192.0.2.8-192.0.2.9"},
		{in: "192.0.2.7", want: "192.0.2.7-192.0.2.7"},
		{in: "2001:db8::/126", want: "2001:db8::-2001:db8::3"},
		{in: "127.0.0.120-127.0.0.100", err: true},
		{in: "127.0.0.1-2001:db8::1", err: true},
		{in: "nonsense", err: true},
	}
	for _, tt := range tests {
		p, err := ParsePool(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("ParsePool(%q) error = %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if err == nil && p.String() != tt.want {
			t.Errorf("ParsePool(%q) = %s, want %s", tt.in, p, tt.want)
		}
	}
}

func TestPoolPick(t *testing.T) {
	p, _ := ParsePool("10.0.0.1-10.0.0.3")
	a := netip.MustParseAddr
	used := map[netip.Addr]bool{a("10.0.0.1"): true, a("10.0.0.3"): true}
	if got, ok := p.Pick(used); !ok || got != a("10.0.0.2") {
		t.Errorf("Pick = %v %v, want the only free 10.0.0.2", got, ok)
	}
	used[a("10.0.0.2")] = true
	if got, ok := p.Pick(used); ok {
		t.Errorf("Pick from a full pool = %v", got)
	}
}

// rig runs the controller over a fake clientset.
type rig struct {
	client *fake.Clientset
	events *record.FakeRecorder
}

func start(t *testing.T, pool string, objs ...*corev1.Node) *rig {
	r := &rig{client: fake.NewClientset(), events: record.NewFakeRecorder(100)}
	for _, n := range objs {
		if _, err := r.client.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	factory := informers.NewSharedInformerFactory(r.client, 0)
	c := &controller.Context{Client: r.client, Informers: factory,
		Recorder: func(string) record.EventRecorder { return r.events }}
	ctrl, err := New(c, pool)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	factory.Start(ctx.Done())
	go func() { defer close(done); ctrl.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

func lbService(name string, opts ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "10.96.0.10",
			Ports: []corev1.ServicePort{{Port: 80}}}}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (r *rig) create(t *testing.T, s *corev1.Service) {
	t.Helper()
	if _, err := r.client.CoreV1().Services(s.Namespace).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// ingress returns the service's ingress IPs and its allocation condition reason.
func (r *rig) ingress(name string) ([]string, string) {
	s, err := r.client.CoreV1().Services("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return nil, "gone"
	}
	var ips []string
	for _, i := range s.Status.LoadBalancer.Ingress {
		ips = append(ips, i.IP)
	}
	reason := ""
	if c := meta.FindStatusCondition(s.Status.Conditions, ConditionAllocated); c != nil {
		reason = c.Reason
	}
	return ips, reason
}

// eventually waits until name's ingress is want, with the condition reason.
func (r *rig) eventually(t *testing.T, name, reason string, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, gotReason := r.ingress(name)
		if cmp.Equal(got, want) && gotReason == reason {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: ingress %v reason %q, want %v %q", name, got, gotReason, want, reason)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *rig) wantEvent(t *testing.T, substr string) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	var seen []string
	for {
		select {
		case e := <-r.events.Events:
			if strings.Contains(e, substr) {
				return
			}
			seen = append(seen, e)
		case <-timeout:
			t.Fatalf("no event containing %q; saw %v", substr, seen)
		}
	}
}

func TestPoolAllocation(t *testing.T) {
	r := start(t, "127.0.0.100-127.0.0.101")
	r.create(t, lbService("a"))
	r.eventually(t, "a", ReasonAllocated, "127.0.0.100")
	r.wantEvent(t, "Normal IPAllocated")
	r.create(t, lbService("b"))
	r.eventually(t, "b", ReasonAllocated, "127.0.0.101")

	// Exhaustion is reported, not retried in a loop.
	r.create(t, lbService("c"))
	r.eventually(t, "c", ReasonExhausted)
	r.wantEvent(t, "Warning PoolExhausted")

	// Others are left alone.
	r.create(t, lbService("other", func(s *corev1.Service) { s.Spec.LoadBalancerClass = ptr.To("example.com/lb") }))
	r.create(t, lbService("plain", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP }))

	// Deleting a releases its address, and the waiting c gets it.
	if err := r.client.CoreV1().Services("default").Delete(context.Background(), "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	r.eventually(t, "c", ReasonAllocated, "127.0.0.100")

	// b keeps its address through an unrelated change.
	s, _ := r.client.CoreV1().Services("default").Get(context.Background(), "b", metav1.GetOptions{})
	s.Labels = map[string]string{"touched": "yes"}
	if _, err := r.client.CoreV1().Services("default").Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	r.eventually(t, "b", ReasonAllocated, "127.0.0.101")
	for _, name := range []string{"other", "plain"} {
		if ips, reason := r.ingress(name); len(ips) != 0 || reason != "" {
			t.Errorf("%s was touched: %v %q", name, ips, reason)
		}
	}
}

func TestTypeChangeReleases(t *testing.T) {
	r := start(t, "127.0.0.100/32")
	r.create(t, lbService("a"))
	r.eventually(t, "a", ReasonAllocated, "127.0.0.100")
	r.create(t, lbService("b"))
	r.eventually(t, "b", ReasonExhausted)
	s, _ := r.client.CoreV1().Services("default").Get(context.Background(), "a", metav1.GetOptions{})
	s.Spec.Type = corev1.ServiceTypeClusterIP
	s.Status.LoadBalancer = corev1.LoadBalancerStatus{} // as the API server does on a type change
	if _, err := r.client.CoreV1().Services("default").Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	r.eventually(t, "b", ReasonAllocated, "127.0.0.100")
	r.wantEvent(t, "IPReleased")
}

func TestRequestedAndExistingAddresses(t *testing.T) {
	r := start(t, "10.0.0.0/29")
	// An address written before a restart is kept; a requested one is honoured.
	r.create(t, lbService("old", func(s *corev1.Service) {
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "10.0.0.1"}}
	}))
	r.create(t, lbService("asks", func(s *corev1.Service) { s.Spec.LoadBalancerIP = "10.0.0.5" }))
	r.create(t, lbService("taken", func(s *corev1.Service) { s.Spec.LoadBalancerIP = "10.0.0.5" }))
	r.eventually(t, "old", ReasonAllocated, "10.0.0.1")
	r.eventually(t, "asks", ReasonAllocated, "10.0.0.5")
	r.eventually(t, "taken", ReasonUnavailable)
	r.create(t, lbService("new"))
	r.eventually(t, "new", ReasonAllocated, "10.0.0.2")
}

func node(name, ip string, ready bool) *corev1.Node {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{
		Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}, {Type: corev1.NodeHostName, Address: name}},
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status}},
	}}
}

func TestNodeAddresses(t *testing.T) {
	r := start(t, "", node("n2", "192.0.2.12", true), node("n1", "192.0.2.11", true), node("n3", "192.0.2.13", false))
	r.create(t, lbService("a"))
	r.eventually(t, "a", ReasonAllocated, "192.0.2.11", "192.0.2.12")
	// A node turning ready joins.
	if _, err := r.client.CoreV1().Nodes().Update(context.Background(), node("n3", "192.0.2.13", true), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	r.eventually(t, "a", ReasonAllocated, "192.0.2.11", "192.0.2.12", "192.0.2.13")
	for _, n := range []string{"n1", "n2", "n3"} {
		if err := r.client.CoreV1().Nodes().Delete(context.Background(), n, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	r.eventually(t, "a", ReasonNoNodes)
}

func TestManyServicesGetDistinctAddresses(t *testing.T) {
	r := start(t, "10.0.0.0/24")
	for i := range 20 {
		r.create(t, lbService(fmt.Sprintf("s%d", i)))
	}
	seen := map[string]string{}
	for i := range 20 {
		name := fmt.Sprintf("s%d", i)
		deadline := time.Now().Add(5 * time.Second)
		ips, _ := r.ingress(name)
		for len(ips) == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
			ips, _ = r.ingress(name)
		}
		if len(ips) != 1 {
			t.Fatalf("%s: ingress %v", name, ips)
		}
		if other, dup := seen[ips[0]]; dup {
			t.Errorf("%s and %s share %s", name, other, ips[0])
		}
		seen[ips[0]] = name
	}
}
