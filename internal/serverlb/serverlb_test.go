package serverlb

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func named(name string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, name) }))
}

func get(t *testing.T, lb *LB) (string, error) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + lb.Addr())
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestFailsOverToTheNextServer: with the first server gone, new connections go
// to the other one, which stays preferred.
func TestFailsOverToTheNextServer(t *testing.T) {
	a, b := named("a"), named("b")
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lb, err := Start(ctx, a.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	lb.SetServers([]string{b.Listener.Addr().String(), a.Listener.Addr().String()})
	if got, err := get(t, lb); err != nil || got != "a" {
		t.Fatalf("first answer %q, %v; want a (the preferred server stays first)", got, err)
	}
	a.Close()
	if got, err := get(t, lb); err != nil || got != "b" {
		t.Fatalf("after a stopped: %q, %v; want b", got, err)
	}
	if s := lb.Servers(); s[0] != b.Listener.Addr().String() {
		t.Fatalf("preferred server %s, want b's %s", s[0], b.Listener.Addr())
	}
}

// TestFollowsTheKubernetesEndpoints: the list becomes every address and port of
// the kubernetes Endpoints, plus the seed.
func TestFollowsTheKubernetesEndpoints(t *testing.T) {
	client := fake.NewClientset(&corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default"},
		Subsets: []corev1.EndpointSubset{
			{Addresses: []corev1.EndpointAddress{{IP: "10.0.0.1"}, {IP: "10.0.0.2"}}, Ports: []corev1.EndpointPort{{Port: 6443}}},
			{Addresses: []corev1.EndpointAddress{{IP: "10.0.0.1"}}, Ports: []corev1.EndpointPort{{Port: 7443}}},
		}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seed := net.JoinHostPort("127.0.0.1", strconv.Itoa(1))
	lb, err := Start(ctx, seed)
	if err != nil {
		t.Fatal(err)
	}
	go lb.Follow(ctx, client, 10*time.Millisecond)
	want := []string{"10.0.0.1:6443", "10.0.0.2:6443", "10.0.0.1:7443", seed}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := lb.Servers()
		if len(got) == len(want) {
			for _, w := range want {
				found := false
				for _, g := range got {
					found = found || g == w
				}
				if !found {
					t.Fatalf("servers %v lack %s", got, w)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("servers %v, want %v", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
