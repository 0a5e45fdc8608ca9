package admission

import (
	"fmt"
	"net/url"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/util/proxy"
	"k8s.io/client-go/informers"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/restmapper"
)

// serviceResolver sends a webhook's requests to one ready endpoint of its Service,
// at the pod's IP and the target port, as kube-apiserver does with
// --enable-aggregator-routing: the server runs beside a node whose pod network it can
// reach, while ClusterIPs only exist in the nodes' service rules.
type serviceResolver struct {
	services listersv1.ServiceLister
	slices   proxy.EndpointSliceGetter
}

// NewServiceResolver resolves through f's Service and EndpointSlice informers; the
// aggregator's proxy uses it too.
func NewServiceResolver(f informers.SharedInformerFactory) (*serviceResolver, error) {
	slices, err := proxy.NewEndpointSliceIndexerGetter(f.Discovery().V1().EndpointSlices())
	if err != nil {
		return nil, err
	}
	return &serviceResolver{services: f.Core().V1().Services().Lister(), slices: slices}, nil
}

// ResolveEndpoint implements k8s.io/apiserver's webhook ServiceResolver.
func (r *serviceResolver) ResolveEndpoint(namespace, name string, port int32) (*url.URL, error) {
	u, err := proxy.ResolveEndpoint(r.services, r.slices, namespace, name, port)
	if err != nil {
		return nil, fmt.Errorf("service %s/%s port %d: %w", namespace, name, port, err)
	}
	return u, nil
}

// rediscovering is a discovery-backed REST mapper that looks again when asked for a
// kind it does not know yet, so a policy's paramKind may name a resource (a custom
// one, say) that appeared after the server started.
type rediscovering struct {
	*restmapper.DeferredDiscoveryRESTMapper
}

func (m rediscovering) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	r, err := m.DeferredDiscoveryRESTMapper.RESTMapping(gk, versions...)
	if meta.IsNoMatchError(err) {
		m.Reset()
		r, err = m.DeferredDiscoveryRESTMapper.RESTMapping(gk, versions...)
	}
	return r, err
}
