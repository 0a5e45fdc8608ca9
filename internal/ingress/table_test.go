package ingress

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// mapSources serves a table build from plain maps.
type mapSources struct {
	svcs    map[string]*corev1.Service
	slcs    map[string][]*discoveryv1.EndpointSlice
	secrets map[string]*corev1.Secret
}

func (m mapSources) service(ns, name string) *corev1.Service { return m.svcs[ns+"/"+name] }
func (m mapSources) slices(ns, svc string) []*discoveryv1.EndpointSlice {
	return m.slcs[ns+"/"+svc]
}
func (m mapSources) secret(ns, name string) *corev1.Secret { return m.secrets[ns+"/"+name] }

// oneEndpointPerService gives each named service one endpoint whose address names
// the service, so a match can be read back as the service name.
func oneEndpointPerService(names ...string) mapSources {
	m := mapSources{svcs: map[string]*corev1.Service{}, slcs: map[string][]*discoveryv1.EndpointSlice{}}
	for i, n := range names {
		m.svcs["default/"+n] = svcObj("default", n, 80, "")
		m.slcs["default/"+n] = []*discoveryv1.EndpointSlice{sliceObj("default", n, "", 8000+int32(i), "10.0.0.1")}
	}
	return m
}

func TestMatch(t *testing.T) {
	old := ingressObj("old", time.Unix(100, 0),
		rule("", path("/", networkingv1.PathTypePrefix, "root")),
		rule("", path("/app", networkingv1.PathTypePrefix, "app")),
		rule("", path("/app/v2", networkingv1.PathTypeImplementationSpecific, "app-v2")),
		rule("", path("/exact", networkingv1.PathTypeExact, "exact")),
		rule("", path("/both", networkingv1.PathTypePrefix, "both-prefix"), path("/both", networkingv1.PathTypeExact, "both-exact")),
		rule("shop.example.com", path("/cart", networkingv1.PathTypePrefix, "cart")),
		rule("*.example.com", path("/", networkingv1.PathTypePrefix, "wild")),
		rule("Trailing.example.com", path("/dir/", networkingv1.PathTypePrefix, "dir")),
	)
	newer := ingressObj("newer", time.Unix(200, 0),
		rule("", path("/app", networkingv1.PathTypePrefix, "conflict")))
	newer.Spec.DefaultBackend = backendRef("fallback")
	src := oneEndpointPerService("root", "app", "app-v2", "exact", "both-prefix", "both-exact", "cart", "wild", "dir", "conflict", "fallback")
	// Given newest first: the build must still prefer the oldest on conflicts.
	tbl := buildTable([]*networkingv1.Ingress{newer, old}, src, newCertCache())

	tests := []struct{ host, path, want string }{
		{"any.host", "/", "root"},
		{"any.host", "/app", "app"},
		{"any.host", "/app/", "app"},
		{"any.host", "/app/page", "app"},
		{"any.host", "/apps", "root"}, // Prefix matches whole path elements only
		{"any.host", "/app/v2/x", "app-v2"},
		{"any.host", "/app/v22", "app"},
		{"any.host", "/exact", "exact"},
		{"any.host", "/exact/", "root"}, // Exact does not ignore the trailing slash
		{"any.host", "/both", "both-exact"},
		{"any.host", "/both/x", "both-prefix"},
		{"shop.example.com", "/cart/items", "cart"},
		{"shop.example.com", "/other", "wild"}, // unmatched path falls through to the wildcard host
		{"a.example.com", "/x", "wild"},
		{"a.b.example.com", "/x", "root"}, // a wildcard covers one label only
		{"example.com", "/x", "root"},
		{"trailing.example.com", "/dir", "dir"},
		{"trailing.example.com", "/dir/x", "dir"},
	}
	for _, tt := range tests {
		t.Run(tt.host+tt.path, func(t *testing.T) {
			if got := serviceOf(tbl.match(tt.host, tt.path)); got != tt.want {
				t.Errorf("match(%q, %q) = %q, want %q", tt.host, tt.path, got, tt.want)
			}
		})
	}
}

func TestDefaultBackendAndNoMatch(t *testing.T) {
	src := oneEndpointPerService("app", "fallback")
	ing := ingressObj("i", time.Unix(1, 0), rule("only.example.com", path("/app", networkingv1.PathTypePrefix, "app")))
	if b := buildTable([]*networkingv1.Ingress{ing}, src, newCertCache()).match("other.example.com", "/"); b != nil {
		t.Errorf("no rule and no default backend matched %s", b.name)
	}
	ing.Spec.DefaultBackend = backendRef("fallback")
	if got := serviceOf(buildTable([]*networkingv1.Ingress{ing}, src, newCertCache()).match("other.example.com", "/")); got != "fallback" {
		t.Errorf("default backend not used: %q", got)
	}
}

func TestBackendResolution(t *testing.T) {
	svc := svcObj("default", "web", 80, "http")
	svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: "admin", Port: 9000})
	ready := sliceObj("default", "web", "http", 8080, "10.0.0.1", "10.0.0.2")
	notReady := sliceObj("default", "web", "http", 8080, "10.0.0.3")
	notReady.Endpoints[0].Conditions.Ready = ptr.To(false)
	admin := sliceObj("default", "web", "admin", 9090, "10.0.0.1")
	ext := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "ext"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "api.example.com", Ports: []corev1.ServicePort{{Port: 443}}}}
	src := mapSources{
		svcs: map[string]*corev1.Service{"default/web": svc, "default/ext": ext, "default/empty": svcObj("default", "empty", 80, "")},
		slcs: map[string][]*discoveryv1.EndpointSlice{"default/web": {ready, notReady, admin}},
	}
	tests := []struct {
		name   string
		port   networkingv1.ServiceBackendPort
		svc    string
		want   []string
		reason string
	}{
		{"port by number maps to the endpoint port", networkingv1.ServiceBackendPort{Number: 80}, "web", []string{"10.0.0.1:8080", "10.0.0.2:8080"}, ""},
		{"port by name", networkingv1.ServiceBackendPort{Name: "admin"}, "web", []string{"10.0.0.1:9090"}, ""},
		{"unknown port", networkingv1.ServiceBackendPort{Number: 81}, "web", nil, "service has no port 81"},
		{"unknown service", networkingv1.ServiceBackendPort{Number: 80}, "nope", nil, "service not found"},
		{"no endpoints", networkingv1.ServiceBackendPort{Number: 80}, "empty", nil, "no ready endpoints"},
		{"ExternalName", networkingv1.ServiceBackendPort{Number: 443}, "ext", []string{"api.example.com:443"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := resolveBackend(src, "default", &networkingv1.IngressServiceBackend{Name: tt.svc, Port: tt.port})
			if diff := cmp.Diff(tt.want, got); diff != "" || reason != tt.reason {
				t.Errorf("endpoints (-want +got):\n%s\nreason %q, want %q", diff, reason, tt.reason)
			}
		})
	}
}

func TestRoundRobinPick(t *testing.T) {
	b := &backend{endpoints: []string{"a", "b", "c"}}
	var got [][]string
	for range 4 {
		got = append(got, b.pick(2))
	}
	want := [][]string{{"a", "b"}, {"b", "c"}, {"c", "a"}, {"a", "b"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// serviceOf reads the service name back from a backend name "ns/svc:port".
func serviceOf(b *backend) string {
	if b == nil {
		return "<none>"
	}
	svc, _, _ := strings.Cut(strings.TrimPrefix(b.name, "default/"), ":")
	return svc
}
