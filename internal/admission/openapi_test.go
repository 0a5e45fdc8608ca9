package admission

import (
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	fakediscovery "k8s.io/client-go/discovery/fake"
	admissionlisters "k8s.io/client-go/listers/admissionregistration/v1"
	"k8s.io/client-go/openapi"
	kubetesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
)

// countingOpenAPI is the server's index: asking for it is what builds every document.
type countingOpenAPI struct{ asked *int }

func (c countingOpenAPI) Paths() (map[string]openapi.GroupVersion, error) {
	*c.asked++
	return map[string]openapi.GroupVersion{
		"api/v1":       realGroupVersion("/openapi/v3/api/v1?hash=A"),
		"apis/apps/v1": realGroupVersion("/openapi/v3/apis/apps/v1?hash=B"),
	}, nil
}

type realGroupVersion string

func (g realGroupVersion) Schema(string) ([]byte, error) { return []byte(g), nil }
func (g realGroupVersion) ServerRelativeURL() string     { return string(g) }

// TestPolicyOpenAPIAsksForTheIndexOnlyWhenUsed: with no MutatingAdmissionPolicy the
// plugin's 5 s poll lists group versions from discovery and never asks for the index;
// an entry asks for it when used (once), and with a policy the real index is given.
func TestPolicyOpenAPIAsksForTheIndexOnlyWhenUsed(t *testing.T) {
	asked := 0
	disc := &fakediscovery.FakeDiscovery{Fake: &kubetesting.Fake{Resources: []*metav1.APIResourceList{
		{GroupVersion: "v1"}, {GroupVersion: "apps/v1"},
	}}}
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	c := policyOpenAPI{real: countingOpenAPI{&asked}, discovery: disc,
		policies: admissionlisters.NewMutatingAdmissionPolicyLister(indexer)}

	paths, err := c.Paths()
	if err != nil {
		t.Fatal(err)
	}
	if asked != 0 || len(paths) != 2 || paths["api/v1"] == nil || paths["apis/apps/v1"] == nil {
		t.Fatalf("without policies: index asked %d times, paths %v; want 0 and api/v1, apis/apps/v1", asked, paths)
	}
	apps := paths["apis/apps/v1"]
	for range 2 {
		if got := apps.ServerRelativeURL(); got != "/openapi/v3/apis/apps/v1?hash=B" {
			t.Fatalf("entry URL %q, want the real index's", got)
		}
	}
	if s, err := apps.Schema("application/json"); err != nil || string(s) != "/openapi/v3/apis/apps/v1?hash=B" {
		t.Fatalf("entry schema %q, %v", s, err)
	}
	if asked != 1 {
		t.Fatalf("using one entry asked for the index %d times, want once", asked)
	}

	_ = indexer.Add(&admissionv1.MutatingAdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p"}})
	if paths, err = c.Paths(); err != nil || asked != 2 || paths["api/v1"].ServerRelativeURL() != "/openapi/v3/api/v1?hash=A" {
		t.Fatalf("with a policy: asked %d times, err %v; want the real index", asked, err)
	}
}
