package apiserver_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"skiff/internal/testserver"
)

// TestPodProxyRewritesLinksAndRedirectsTheBarePath: through pods/NAME/proxy, an
// HTML page's absolute links are rewritten to go through the proxy, and a GET of
// the bare .../proxy is redirected to .../proxy/, as Kubernetes' API server does.
func TestPodProxyRewritesLinksAndRedirectsTheBarePath(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			t.Errorf("the pod got the client's credentials")
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<a href="/rewriteme">test</a>`)
	}))
	defer backend.Close()
	_, port, _ := net.SplitHostPort(backend.Listener.Addr().String())

	srv := testserver.Start(t)
	ctx := context.Background()
	portNum, _ := strconv.Atoi(port)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x",
			Ports: []corev1.ContainerPort{{ContainerPort: int32(portNum)}}}}}}
	pod, err := srv.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.PodIP = "127.0.0.1"
	if _, err := srv.Client.CoreV1().Pods("default").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	base := "/api/v1/namespaces/default/pods/web:" + port + "/proxy"
	body, err := srv.Client.CoreV1().RESTClient().Get().AbsPath(base + "/").DoRaw(ctx)
	if want := `<a href="` + base + `/rewriteme">`; err != nil || !strings.Contains(string(body), want) {
		t.Errorf("GET %s/: %v\n%s\nwant %s", base, err, body, want)
	}

	// client-go follows the redirect, as the conformance suite's checks expect; with
	// no port named, the pod's first container port is used.
	body, err = srv.Client.CoreV1().RESTClient().Get().Namespace("default").Resource("pods").SubResource("proxy").Name("web").DoRaw(ctx)
	if err != nil || !strings.Contains(string(body), "rewriteme") {
		t.Errorf("GET %s through client-go: %v\n%s", base, err, body)
	}

	tr, err := rest.TransportFor(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(srv.Config.Host + base + "?x=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != base+"/?x=1" {
		t.Errorf("GET %s: %d to %q, want 301 to %s/?x=1", base, resp.StatusCode, resp.Header.Get("Location"), base)
	}
}
