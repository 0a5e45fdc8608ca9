package apiserver

import (
	"net/http"
	"strings"

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
