package ingress

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

func ingressObj(name string, created time.Time, rules ...networkingv1.IngressRule) *networkingv1.Ingress {
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, CreationTimestamp: metav1.NewTime(created)},
		Spec:       networkingv1.IngressSpec{Rules: rules},
	}
}

func rule(host string, paths ...networkingv1.HTTPIngressPath) networkingv1.IngressRule {
	return networkingv1.IngressRule{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{
		HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths}}}
}

func path(p string, pt networkingv1.PathType, svc string) networkingv1.HTTPIngressPath {
	return networkingv1.HTTPIngressPath{Path: p, PathType: ptr.To(pt), Backend: *backendRef(svc)}
}

// backendRef names port 80 of a service, or the port given as "svc:port".
func backendRef(svc string) *networkingv1.IngressBackend {
	port := int32(80)
	if h, p, err := net.SplitHostPort(svc); err == nil {
		n, _ := strconv.Atoi(p)
		svc, port = h, int32(n)
	}
	return &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
		Name: svc, Port: networkingv1.ServiceBackendPort{Number: port}}}
}

func svcObj(ns, name string, port int32, portName string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.0.1",
			Ports: []corev1.ServicePort{{Name: portName, Port: port, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("web")}}},
	}
}

func sliceObj(ns, svc, portName string, port int32, ips ...string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("%s-%d", svc, port),
			Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To(portName), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(port)}},
	}
	for _, ip := range ips {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
	}
	return s
}

// backendServer is an HTTP server on 127.0.0.1 that answers with its name and
// the request it saw, in headers a test can read.
func backendServer(t testing.TB, name string) (*httptest.Server, int32) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", name)
		w.Header().Set("X-Seen-Path", r.URL.Path)
		w.Header().Set("X-Seen-Host", r.Host)
		w.Header().Set("X-Seen-For", r.Header.Get("X-Forwarded-For"))
		w.Header().Set("X-Seen-Proto", r.Header.Get("X-Forwarded-Proto"))
		w.Header().Set("X-Seen-Fwd-Host", r.Header.Get("X-Forwarded-Host"))
		if d, err := time.ParseDuration(r.URL.Query().Get("sleep")); err == nil {
			time.Sleep(d)
		}
		io.WriteString(w, name)
	}))
	t.Cleanup(srv.Close)
	return srv, portOf(t, srv.Listener.Addr().String())
}

func portOf(t testing.TB, addr string) int32 {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return int32(n)
}

// exposed is a Service and an EndpointSlice pointing at a loopback backend port.
func exposed(name string, servicePort, backendPort int32) []runtime.Object {
	return []runtime.Object{
		svcObj("default", name, servicePort, ""),
		sliceObj("default", name, "", backendPort, "127.0.0.1"),
	}
}

var localNode = &corev1.Node{
	ObjectMeta: metav1.ObjectMeta{Name: "node-a"},
	Status: corev1.NodeStatus{
		Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
	},
}

type harness struct {
	c      *Controller
	client *fake.Clientset
	http   string // "127.0.0.1:port"
	https  string
}

// start runs a controller on loopback ports over a fake clientset holding objs.
func start(t testing.TB, objs ...runtime.Object) *harness {
	t.Helper()
	client := fake.NewClientset(append([]runtime.Object{localNode}, objs...)...)
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := New(client, f, Config{HTTPAddrs: []string{"127.0.0.1:0"}, HTTPSAddrs: []string{"127.0.0.1:0"}, NodeName: "node-a"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// The IngressClass is created by Run before the informers start, as in an
	// agent whose factory starts after the controllers are built.
	go func() { done <- c.Run(ctx) }()
	f.Start(ctx.Done())
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		f.Shutdown()
	})
	select {
	case <-c.Ready():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("controller not ready")
	}
	return &harness{c: c, client: client, http: c.Addrs("http")[0], https: c.Addrs("https")[0]}
}

// client never follows redirects, so tests see them, and dials everything to
// the harness's loopback listeners whatever the URL's host says.
func (h *harness) clientFor(addr string) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, addr)
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// get sends GET http://host/path to the harness's HTTP listener.
func (h *harness) get(t testing.TB, host, path string) (*http.Response, string) {
	t.Helper()
	resp, err := h.clientFor(h.http).Get("http://" + host + path)
	if err != nil {
		t.Fatalf("GET %s%s: %v", host, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// eventually retries cond until it holds, for changes that travel through the
// informers.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
