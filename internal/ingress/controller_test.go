package ingress

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// seedIngress is the Ingress of the seed documents: /app1 and /app2 to two
// services, no host, no class.
func seedIngress() *networkingv1.Ingress {
	return ingressObj("my-ingress", time.Unix(1, 0), rule("",
		path("/app1", networkingv1.PathTypePrefix, "service-app1:80"),
		path("/app2", networkingv1.PathTypePrefix, "service-app2:8080")))
}

func TestSeedIngress(t *testing.T) {
	_, p1 := backendServer(t, "app1")
	_, p2 := backendServer(t, "app2")
	objs := append(exposed("service-app1", 80, p1), exposed("service-app2", 8080, p2)...)
	h := start(t, append(objs, seedIngress())...)

	for _, tt := range []struct{ path, want string }{
		{"/app1", "app1"}, {"/app1/index.html", "app1"}, {"/app2", "app2"}, {"/app2/api/v1?q=1", "app2"},
	} {
		resp, body := h.get(t, "shop.example.com", tt.path)
		if resp.StatusCode != 200 || body != tt.want {
			t.Errorf("GET %s: %d %q, want 200 %q", tt.path, resp.StatusCode, body, tt.want)
		}
	}
	resp, _ := h.get(t, "shop.example.com:8080", "/app1/x")
	if got := resp.Header.Get("X-Seen-Path"); got != "/app1/x" {
		t.Errorf("backend saw path %q; the path must pass unchanged", got)
	}
	forwarded := map[string]string{
		"X-Seen-Host": "shop.example.com:8080", "X-Seen-For": "127.0.0.1",
		"X-Seen-Proto": "http", "X-Seen-Fwd-Host": "shop.example.com:8080",
	}
	for k, want := range forwarded {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}

	resp, body := h.get(t, "shop.example.com", "/app3")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "shop.example.com") || !strings.Contains(body, "/app3") {
		t.Errorf("unmatched path: %d %q; want a 404 page naming the host and path", resp.StatusCode, body)
	}

	ctx := context.Background()
	cls, err := h.client.NetworkingV1().IngressClasses().Get(ctx, "skiff", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cls.Spec.Controller != ControllerName || cls.Annotations[DefaultClassAnnotation] != "true" {
		t.Errorf("ingress class: controller %q annotations %v", cls.Spec.Controller, cls.Annotations)
	}
	eventually(t, "status.loadBalancer", func() bool {
		ing, _ := h.client.NetworkingV1().Ingresses("default").Get(ctx, "my-ingress", metav1.GetOptions{})
		return cmp.Equal(ing.Status.LoadBalancer.Ingress, []networkingv1.IngressLoadBalancerIngress{{IP: "127.0.0.1"}})
	})
}

func TestServesOnlyItsClass(t *testing.T) {
	_, p := backendServer(t, "web")
	mine := ingressObj("mine", time.Unix(1, 0), rule("mine.example.com", path("/", networkingv1.PathTypePrefix, "web")))
	mine.Spec.IngressClassName = ptr.To("skiff")
	other := ingressObj("other", time.Unix(1, 0), rule("other.example.com", path("/", networkingv1.PathTypePrefix, "web")))
	other.Spec.IngressClassName = ptr.To("nginx")
	legacy := ingressObj("legacy", time.Unix(1, 0), rule("legacy.example.com", path("/", networkingv1.PathTypePrefix, "web")))
	legacy.Annotations = map[string]string{"kubernetes.io/ingress.class": "traefik"}
	h := start(t, append(exposed("web", 80, p), mine, other, legacy)...)

	if resp, _ := h.get(t, "mine.example.com", "/"); resp.StatusCode != 200 {
		t.Errorf("own class: %d", resp.StatusCode)
	}
	for _, host := range []string{"other.example.com", "legacy.example.com"} {
		if resp, _ := h.get(t, host, "/"); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s of another class served: %d", host, resp.StatusCode)
		}
	}
	time.Sleep(200 * time.Millisecond) // give a wrong status write the chance to happen
	ing, _ := h.client.NetworkingV1().Ingresses("default").Get(context.Background(), "other", metav1.GetOptions{})
	if len(ing.Status.LoadBalancer.Ingress) != 0 {
		t.Errorf("status written on another class's Ingress: %v", ing.Status.LoadBalancer.Ingress)
	}
}

func TestNoReadyEndpointsIs503(t *testing.T) {
	objs := []runtime.Object{svcObj("default", "idle", 80, ""), seedIngress()}
	h := start(t, objs...)
	// service-app1 does not exist: the route exists but cannot be served.
	resp, body := h.get(t, "x", "/app1")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "service-app1") || !strings.Contains(body, "service not found") {
		t.Errorf("missing service: %d %q", resp.StatusCode, body)
	}
	ing := ingressObj("idle", time.Unix(2, 0), rule("idle.example.com", path("/", networkingv1.PathTypePrefix, "idle")))
	if _, err := h.client.NetworkingV1().Ingresses("default").Create(context.Background(), ing, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "503 for a service without endpoints", func() bool {
		resp, body := h.get(t, "idle.example.com", "/")
		return resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(body, "no ready endpoints")
	})
}
