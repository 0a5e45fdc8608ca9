package admission

import (
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	admissionlisters "k8s.io/client-go/listers/admissionregistration/v1"
	"k8s.io/client-go/openapi"
)

// The MutatingAdmissionPolicy plugin reads the schemas of the kinds it patches from
// /openapi/v3, and polls that index every 5 s whether or not any policy exists.
// Answering the index makes the server build every OpenAPI document and keep them
// (about 30 MB of heap), which an idle cluster with no such policy never needs.
// policyOpenAPI gives the plugin the real index only while a policy exists; until
// then it lists the group versions from discovery (two small requests) with entries
// that ask for the real index only when used, which covers a request the plugin
// admits in the seconds between a first policy's creation and its next poll.
type policyOpenAPI struct {
	real      openapi.Client
	discovery discovery.ServerGroupsInterface
	policies  admissionlisters.MutatingAdmissionPolicyLister
}

func (c policyOpenAPI) Paths() (map[string]openapi.GroupVersion, error) {
	if ps, err := c.policies.List(labels.Everything()); err != nil || len(ps) > 0 {
		return c.real.Paths()
	}
	groups, err := c.discovery.ServerGroups()
	if err != nil {
		return nil, err
	}
	paths := map[string]openapi.GroupVersion{}
	for _, g := range groups.Groups {
		for _, v := range g.Versions {
			path := "apis/" + v.GroupVersion
			if g.Name == "" {
				path = "api/" + v.Version
			}
			paths[path] = &lazyGroupVersion{real: c.real, path: path}
		}
	}
	return paths, nil
}

// lazyGroupVersion is one document of the real index, looked up when first used
// and then fixed, as an entry of the real index is.
type lazyGroupVersion struct {
	real openapi.Client
	path string

	once sync.Once
	gv   openapi.GroupVersion
	err  error
}

func (g *lazyGroupVersion) resolve() (openapi.GroupVersion, error) {
	g.once.Do(func() {
		paths, err := g.real.Paths()
		if g.gv, g.err = paths[g.path], err; err == nil && g.gv == nil {
			g.err = fmt.Errorf("no OpenAPI document for %s", g.path)
		}
	})
	return g.gv, g.err
}

func (g *lazyGroupVersion) Schema(contentType string) ([]byte, error) {
	gv, err := g.resolve()
	if err != nil {
		return nil, err
	}
	return gv.Schema(contentType)
}

// ServerRelativeURL keys the plugin's cache of the document: the real one carries
// the document's hash, so a changed schema is fetched again.
func (g *lazyGroupVersion) ServerRelativeURL() string {
	gv, err := g.resolve()
	if err != nil {
		return ""
	}
	return gv.ServerRelativeURL()
}

// policyClient is the client the MutatingAdmissionPolicy plugin is given: the
// loopback client, with policyOpenAPI as its discovery's OpenAPI v3 client.
type policyClient struct {
	kubernetes.Interface
	discovery discovery.DiscoveryInterfaces
}

func (c policyClient) Discovery() discovery.DiscoveryInterfaces { return c.discovery }

type policyDiscovery struct {
	discovery.DiscoveryInterfaces
	openapi openapi.Client
}

func (d policyDiscovery) OpenAPIV3() openapi.Client { return d.openapi }

func newPolicyClient(client kubernetes.Interface, policies admissionlisters.MutatingAdmissionPolicyLister) kubernetes.Interface {
	d := client.Discovery()
	return policyClient{Interface: client, discovery: policyDiscovery{DiscoveryInterfaces: d,
		openapi: policyOpenAPI{real: d.OpenAPIV3(), discovery: d, policies: policies}}}
}
