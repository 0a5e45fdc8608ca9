package aggregator

import (
	"crypto/tls"
	"net/http"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	listers "k8s.io/kube-aggregator/pkg/client/listers/apiregistration/v1"

	"skiff/internal/auth"
)

func lister(t *testing.T, svcs ...*apiregistrationv1.APIService) listers.APIServiceLister {
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, s := range svcs {
		if err := idx.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	return listers.NewAPIServiceLister(idx)
}

func apiService(group, version string, remote bool) *apiregistrationv1.APIService {
	s := &apiregistrationv1.APIService{ObjectMeta: metav1.ObjectMeta{Name: version + "." + group},
		Spec: apiregistrationv1.APIServiceSpec{Group: group, Version: version}}
	if remote {
		s.Spec.Service = &apiregistrationv1.ServiceReference{Namespace: "ns", Name: "backend"}
	}
	return s
}

func TestFor(t *testing.T) {
	p := NewProxy(lister(t, apiService("metrics.example.com", "v1beta1", true), apiService("apps", "v1", false)), nil, tls.Certificate{})
	for _, tc := range []struct {
		path string
		want string
	}{
		{"/apis/metrics.example.com/v1beta1", "v1beta1.metrics.example.com"},
		{"/apis/metrics.example.com/v1beta1/namespaces/a/things/b", "v1beta1.metrics.example.com"},
		{"/apis/metrics.example.com", ""}, // the group document is the API server's own
		{"/apis/metrics.example.com/v2", ""},
		{"/apis/apps/v1/deployments", ""}, // local: served by skiff
		{"/api/v1/pods", ""},
	} {
		got := ""
		if s := p.For(tc.path); s != nil {
			got = s.Name
		}
		if got != tc.want {
			t.Errorf("For(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

func TestFrontProxyHeaders(t *testing.T) {
	h := http.Header{}
	h.Set("Authorization", "Bearer secret")
	h.Set("X-Remote-User", "forged")
	h.Set("Impersonate-User", "someone")
	frontProxyHeaders(h, &auth.User{Name: "jane", Groups: []string{"dev", "system:authenticated"}})
	if h.Get("Authorization") != "" || h.Get("Impersonate-User") != "" {
		t.Errorf("caller's credentials passed on: %v", h)
	}
	if h.Get("X-Remote-User") != "jane" || !slices.Equal(h.Values("X-Remote-Group"), []string{"dev", "system:authenticated"}) {
		t.Errorf("front-proxy headers = %v", h)
	}
}
