package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"

	"skiff/internal/auth"
)

// aggregatedService returns the APIService that hands r's group/version to another server.
func (a *API) aggregatedService(r *http.Request) *apiregistrationv1.APIService {
	if a.Aggregator == nil {
		return nil
	}
	return a.Aggregator.For(r.URL.Path)
}

// serveAggregated authorizes r as skiff would authorize the same request to itself,
// then proxies it: the backend trusts the front-proxy headers, not its own checks.
func (a *API) serveAggregated(w http.ResponseWriter, r *http.Request, svc *apiregistrationv1.APIService, user *auth.User) {
	attrs := auth.Attributes{User: user, Verb: strings.ToLower(r.Method), Path: r.URL.Path}
	if q, ok := parseRequest(r); ok && q.Resource != "" {
		attrs = auth.Attributes{User: user, Verb: authzVerb(r, q), Namespace: authzNamespace(q), APIGroup: q.Group,
			Resource: q.Resource, Subresource: q.Subresource, Name: q.Name}
	}
	if allowed, why := a.authz.Authorize(r.Context(), attrs); !allowed {
		writeError(w, forbidden(attrs, why))
		return
	}
	a.Aggregator.Serve(w, r, svc, user)
}

// aggregatedDiscovery adds the APIServices' group/versions to list, with the
// resources each backend last reported; a backend that has not answered gives a
// version marked Stale, as Kubernetes marks it. A group/version skiff serves itself
// (metrics.k8s.io, say) that an APIService hands to a Service is listed as that
// backend reports it, until the APIService goes.
func (a *API) aggregatedDiscovery(list *apidiscoveryv2.APIGroupDiscoveryList) {
	if a.Aggregator == nil {
		return
	}
	for _, gv := range a.Aggregator.GroupVersions() {
		v := versionDiscovery(gv, a.Aggregator.Resources(gv))
		i := slices.IndexFunc(list.Items, func(g apidiscoveryv2.APIGroupDiscovery) bool { return g.Name == gv.Group })
		if i < 0 {
			list.Items = append(list.Items, apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: gv.Group}})
			i = len(list.Items) - 1
		}
		versions := list.Items[i].Versions
		if j := slices.IndexFunc(versions, func(x apidiscoveryv2.APIVersionDiscovery) bool { return x.Version == gv.Version }); j >= 0 {
			versions[j] = v
			continue
		}
		list.Items[i].Versions = append(versions, v)
	}
}

// versionDiscovery converts a backend's resource list to the aggregated form.
func versionDiscovery(gv schema.GroupVersion, rl *metav1.APIResourceList) apidiscoveryv2.APIVersionDiscovery {
	v := apidiscoveryv2.APIVersionDiscovery{Version: gv.Version, Freshness: apidiscoveryv2.DiscoveryFreshnessStale}
	if rl == nil {
		return v
	}
	v.Freshness = apidiscoveryv2.DiscoveryFreshnessCurrent
	for _, r := range rl.APIResources {
		kind := &metav1.GroupVersionKind{Group: gv.Group, Version: gv.Version, Kind: r.Kind}
		if parent, sub, ok := strings.Cut(r.Name, "/"); ok {
			if j := slices.IndexFunc(v.Resources, func(x apidiscoveryv2.APIResourceDiscovery) bool { return x.Resource == parent }); j >= 0 {
				v.Resources[j].Subresources = append(v.Resources[j].Subresources,
					apidiscoveryv2.APISubresourceDiscovery{Subresource: sub, ResponseKind: kind, Verbs: r.Verbs})
			}
			continue
		}
		scope := apidiscoveryv2.ScopeCluster
		if r.Namespaced {
			scope = apidiscoveryv2.ScopeNamespace
		}
		v.Resources = append(v.Resources, apidiscoveryv2.APIResourceDiscovery{Resource: r.Name, SingularResource: r.SingularName,
			Scope: scope, Verbs: r.Verbs, ResponseKind: kind, ShortNames: r.ShortNames, Categories: r.Categories})
	}
	return v
}

// ensureLocalAPIServices lists every group/version skiff serves itself as an
// APIService without a service, as Kubernetes does, so `kubectl get apiservices`
// shows the whole API and an APIService for one of them can take it over by
// naming a service.
func (a *API) ensureLocalAPIServices(ctx context.Context) error {
	for _, gv := range a.groupVersions() {
		svc := &apiregistrationv1.APIService{
			ObjectMeta: metav1.ObjectMeta{Name: gv.Version + "." + gv.Group, Labels: map[string]string{"kube-aggregator.kubernetes.io/automanaged": "onstart"}},
			Spec:       apiregistrationv1.APIServiceSpec{Group: gv.Group, Version: gv.Version, GroupPriorityMinimum: 1000, VersionPriority: 15},
		}
		if err := a.ensure(ctx, "apiservices", svc); err != nil {
			return fmt.Errorf("APIService %s: %w", svc.Name, err)
		}
	}
	return nil
}
